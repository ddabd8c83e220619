#!/usr/bin/env bash
# proxy-side-by-side.sh: Haven's web proxy and E2Guardian on the same 1M-domain list, the same
# nginx origin and the same wrk load (../shared/bench/proxy-bench.sh), in one run.
#
# Env: DUR (seconds per wrk stage, 20)  RUNS (1)  CONNS ("10 50 200")  BCONNS ("10 50")
#      PEERS ("e2guardian"; PEERS="" runs Haven only)  OUT (/tmp/bench/results/proxy-side-by-side.tsv)
# Haven runs with activity logging to SQLite on, DNS and proxy in one process.
# Needs: wrk nginx e2guardian dnsmasq python3 (apt).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$(cd "$repo/../shared" && pwd)}
B=$shared/bench
DUR=${DUR:-20} RUNS=${RUNS:-1} CONNS=${CONNS:-"10 50 200"} BCONNS=${BCONNS:-"10 50"} PEERS=${PEERS-"e2guardian"}
OUT=${OUT:-/tmp/bench/results/proxy-side-by-side.tsv}
mkdir -p /tmp/bench/results /tmp/bench/www /tmp/bench/nginx "$(dirname "$OUT")"
[ -f /tmp/bench/lists/e2g-banned-1m ] || "$B/lib/make-lists.sh" >/dev/null
[ -f "$OUT" ] || printf 'ts\tpeer\tlist\trun\tstartup_s\tvmhwm_kb\tkind\tconns\tresult\n' > "$OUT"
[ -s /tmp/bench/www/index.html ] || python3 -c "
b='<!doctype html><html><head><meta charset=utf-8><title>Allowed page</title></head><body><h1>Allowed</h1><p>'+('This is a small test page served by the local origin for proxy benchmarks. '*12)+'</p></body></html>\n'
open('/tmp/bench/www/index.html','w').write(b)"

(cd "$repo" && cargo build --release -q -p haven)
haven=$repo/target/release/haven
ALLOWED=http://allowed.example.test:8081/
BLOCKED=http://$(sed -n '500p' /tmp/bench/lists/domains-100k.txt)/

ngx_pid= up_pid= srv_pid=
cleanup() { for p in $srv_pid $up_pid $ngx_pid; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
nginx -c "$B/conf/nginx-origin.conf" -g 'daemon off;' & ngx_pid=$!
# Haven's proxy resolves origins through its DNS upstreams: a local dnsmasq that knows the origin.
dnsmasq -k -p 5310 --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
  --address=/allowed.example.test/127.0.0.1 --address=/#/192.0.2.1 --pid-file=/tmp/bench/proxy-upstream.pid > /tmp/bench/proxy-upstream.log 2>&1 & up_pid=$!
sleep 0.5

cfg=/tmp/bench/haven-proxy.toml
rm -rf /tmp/bench/haven-proxy-data
cat > $cfg <<TOML
[[lists]]
name = "bench-1m"
format = "domains"
path = "$B/data/blocklist-1m.txt.gz"
category = "malware"
[[identity.networks]]
cidr = "127.0.0.0/8"
group = "ks3"
[dns]
listen = ["127.0.0.1:5357"]
upstreams = ["127.0.0.1:5310"]
[store]
url = "sqlite:///tmp/bench/haven-proxy-data/activity.db"
[metrics]
listen = "127.0.0.1:9155"
[proxy]
listen = ["127.0.0.1:3129"]
connect_ports = [443, 8081]
allow_loopback_origins = true
max_connections = 15000
header_timeout_ms = 60000
TOML

# CONNECT tunnels set up per second, and resident memory with 10,000 idle client connections.
connect_rate() {  # PORT SECONDS CONCURRENCY -> "tunnels_per_s=.. failed=.."
  python3 - "$1" "$2" "$3" <<'PY'
import asyncio, sys, time
port, secs, conc = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
ok = bad = 0
async def worker(deadline):
    global ok, bad
    while time.monotonic() < deadline:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"CONNECT allowed.example.test:8081 HTTP/1.1\r\nHost: allowed.example.test:8081\r\n\r\n")
            line = await r.readline()
            ok += line.startswith(b"HTTP/1.1 200")
            bad += not line.startswith(b"HTTP/1.1 200")
            w.close()
        except Exception:
            bad += 1
async def main():
    deadline = time.monotonic() + secs
    t0 = time.monotonic()
    await asyncio.gather(*(worker(deadline) for _ in range(conc)))
    print(f"tunnels_per_s={ok/(time.monotonic()-t0):.0f} failed={bad}")
asyncio.run(main())
PY
}
idle_rss() {  # PORT PID -> "idle_conns=.. rss_before_kb=.. rss_held_kb=.."
  python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
def rss():
    return int(next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")))
before = rss(); held = []
for _ in range(10000):
    s = socket.create_connection(("127.0.0.1", port)); held.append(s)
time.sleep(2)
print(f"idle_conns={len(held)} rss_before_kb={before} rss_held_kb={rss()}")
PY
}

for run in $(seq 1 "$RUNS"); do
  t0=$(date +%s.%N)
  HAVEN_LOG=warn "$haven" --config $cfg serve > /tmp/bench/haven-proxy.log 2>&1 & srv_pid=$!
  while ! curl -s -o /dev/null --max-time 1 -x 127.0.0.1:3129 -D - "$BLOCKED" 2>/dev/null | grep -qi '^x-haven-block'; do
    kill -0 $srv_pid || { cat /tmp/bench/haven-proxy.log; exit 1; }; sleep 0.02
  done
  startup=$(python3 -c "import time;print(f'{time.time()-$t0:.3f}')")
  row() { printf '%s\thaven\t1m\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" $run "$startup" "$(awk '/VmHWM/{print $2}' /proc/$srv_pid/status)" "$1" "$2" "$3" | tee -a "$OUT"; }
  row startup 0 "probe_code=$(curl -s -o /dev/null -w '%{http_code}' -x 127.0.0.1:3129 "$BLOCKED")"
  for c in $CONNS; do row allowed $c "$("$B/proxy-bench.sh" 127.0.0.1:3129 "$ALLOWED" "$DUR" "$c")"; done
  for c in $BCONNS; do row blocked $c "$("$B/proxy-bench.sh" 127.0.0.1:3129 "$BLOCKED" "$DUR" "$c")"; done
  row connect 50 "$(connect_rate 3129 "$DUR" 50)"
  row idle 10000 "$(idle_rss 3129 $srv_pid)"
  sleep 1.5
  curl -s 127.0.0.1:9155/metrics | grep -E '^haven_activity_(written|dropped)_total' | tr '\n' ' ' | sed 's/^/haven activity log: /'; echo
  kill $srv_pid; wait $srv_pid 2>/dev/null || true; srv_pid=
done

kill $ngx_pid; wait $ngx_pid 2>/dev/null || true; ngx_pid=
if [ -n "${PEERS// }" ]; then
  RUNS=$RUNS DUR=$DUR SIZES=1m CONNS="$CONNS" BCONNS="$BCONNS" OUT=$OUT "$B/run-proxy-peers.sh"
fi
echo "raw results: $OUT"
