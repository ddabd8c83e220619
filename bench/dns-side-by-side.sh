#!/usr/bin/env bash
# dns-side-by-side.sh: Haven, dnsmasq and unbound on the same 1M-domain list, the same 20/80
# blocked/allowed query mix and the same local fake upstream, in one run (../shared/bench).
#
# Env: DUR (seconds per dnsperf stage, 20)  RUNS (1)  PEERS ("upstream dnsmasq-address unbound-2t";
#      PEERS="" runs Haven only)
#      OUT (/tmp/bench/results/side-by-side.tsv)  CACHE (Haven's cache_entries, 10000: a quarter of the
#      mix's 40,000 allowed names, so about 65 % of queries go upstream)
# Haven runs with activity logging to SQLite on. Needs: dnsperf dnsmasq unbound (apt).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$(cd "$repo/../shared" && pwd)}
B=$shared/bench
DUR=${DUR:-20} RUNS=${RUNS:-1} CACHE=${CACHE:-10000} PEERS=${PEERS-"upstream dnsmasq-address unbound-2t"}
OUT=${OUT:-/tmp/bench/results/side-by-side.tsv}
mkdir -p /tmp/bench/results "$(dirname "$OUT")"
[ -f /tmp/bench/lists/queries.txt ] || "$B/lib/make-lists.sh" >/dev/null
[ -f "$OUT" ] || printf 'ts\tpeer\tlist\trun\tstartup_s\tvmhwm_kb\trate\tresult\n' > "$OUT"

(cd "$repo" && cargo build --release -q -p haven)
haven=$repo/target/release/haven
PROBE=$(sed -n '500p' /tmp/bench/lists/domains-100k.txt)

up_pid=
if ! python3 "$B/lib/wait_dns.py" 127.0.0.1 5300 probe.example 0 --rcode any --timeout 1 >/dev/null 2>&1; then
  dnsmasq -k -C "$B/conf/upstream-dnsmasq.conf" > /tmp/bench/upstream.log 2>&1 & up_pid=$!
  python3 "$B/lib/wait_dns.py" 127.0.0.1 5300 probe.example 0 --rcode any --timeout 10 >/dev/null
fi
srv_pid=
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; [ -n "$up_pid" ] && kill "$up_pid" 2>/dev/null; true; }
trap cleanup EXIT

cfg=/tmp/bench/haven.toml
rm -rf /tmp/bench/haven-data
cat > $cfg <<TOML
[[lists]]
name = "bench-1m"
format = "domains"
path = "$B/data/blocklist-1m.txt.gz"
category = "malware"
[groups.ks3]
block_answer = "nxdomain"
[[identity.networks]]
cidr = "127.0.0.0/8"
group = "ks3"
[dns]
listen = ["127.0.0.1:5356"]
upstreams = ["127.0.0.1:5300"]
cache_entries = $CACHE
[store]
url = "sqlite:///tmp/bench/haven-data/activity.db"
[metrics]
listen = "127.0.0.1:9154"
[monitor]
# MONITOR=false measures filtering with the monitor stage off (default on, as shipped).
enabled = ${MONITOR:-true}
TOML

for run in $(seq 1 "$RUNS"); do
  t0=$(date +%s.%N)
  HAVEN_LOG=warn "$haven" --config $cfg serve > /tmp/bench/haven.log 2>&1 & srv_pid=$!
  startup=$(python3 "$B/lib/wait_dns.py" 127.0.0.1 5356 "$PROBE" "$t0" --rcode 3 --timeout 60)
  res=$("$B/dns-bench.sh" 127.0.0.1:5356 /tmp/bench/lists/queries.txt "$DUR" 0)
  hwm=$(awk '/VmHWM/{print $2}' /proc/$srv_pid/status)
  printf '%s\t%s\t1m\t%s\t%s\t%s\t0\t%s\n' "$(date -u +%FT%TZ)" "haven-c$CACHE" $run "$startup" "$hwm" "$res" | tee -a "$OUT"
  peak=$(sed -n 's/^qps=\([0-9.]*\).*/\1/p' <<<"$res"); half=$(python3 -c "print(int(float('${peak:-0}')/2))")
  res=$("$B/dns-bench.sh" 127.0.0.1:5356 /tmp/bench/lists/queries.txt "$DUR" "$half")
  hwm=$(awk '/VmHWM/{print $2}' /proc/$srv_pid/status)
  printf '%s\t%s\t1m\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "haven-c$CACHE" $run "$startup" "$hwm" "$half" "$res" | tee -a "$OUT"
  sleep 1.5   # the writer flushes at least every second
  curl -s 127.0.0.1:9154/metrics | grep -E '^haven_activity_(written|dropped)_total' | tr '\n' ' ' | sed 's/^/haven activity log: /'; echo
  kill $srv_pid; wait $srv_pid 2>/dev/null || true; srv_pid=
done

if [ -n "${PEERS// }" ]; then
  RUNS=$RUNS DUR=$DUR RATES=0 SIZES=1m PEERS="$PEERS" OUT=$OUT "$B/run-dns-peers.sh"
fi
echo "raw results: $OUT"
