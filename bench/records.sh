#!/usr/bin/env bash
# records.sh: the issue-7 scale numbers. Seeds 100,000 concerns with 10 entries each (1M
# chronology entries, over 2,000 pupils) into a fresh SQLite file and a fresh PostgreSQL
# database, then times a pupil's chronology and the DSL inbox (200 reads each: median, p99)
# and `haven records verify` over the whole chain.
#
# Env: BACKENDS ("sqlite postgres")  CONCERNS (100000)  PER (10)  PUPILS (2000)
#      PG (postgres://postgres@127.0.0.1:5432)  PROFILE (release)
#      HAVEN_BIN (use this binary and build nothing, e.g. target/debug/haven as `cargo test -p
#      haven --test cli` leaves it: the test profile, opt-level 2)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BACKENDS=${BACKENDS:-"sqlite postgres"} CONCERNS=${CONCERNS:-100000} PER=${PER:-10} PUPILS=${PUPILS:-2000}
PG=${PG:-postgres://postgres@127.0.0.1:5432} PROFILE=${PROFILE:-release}
if [ -n "${HAVEN_BIN:-}" ]; then haven=$HAVEN_BIN; else (cd "$repo" && cargo build -q --profile "$PROFILE" -p haven); haven=$repo/target/$PROFILE/haven; fi
work=$(mktemp -d /tmp/haven-records-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
uptime
for backend in $BACKENDS; do
  case $backend in
    sqlite) url="sqlite://$work/haven.db" ;;
    postgres)
      db=haven_records_bench_$$
      psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
      url="$PG/$db" ;;
  esac
  printf '[store]\nurl = "%s"\n' "$url" > "$work/haven.toml"
  echo "== $backend"
  /usr/bin/time -f "seed: %e s, max RSS %M KB" "$haven" --config "$work/haven.toml" records seed-bench --concerns "$CONCERNS" --entries-per-concern "$PER" --pupils "$PUPILS"
  "$haven" --config "$work/haven.toml" records bench --pupils "$PUPILS"
  /usr/bin/time -f "verify wall: %e s" "$haven" --config "$work/haven.toml" records verify
  [ "$backend" = postgres ] && psql "$PG/postgres" -qc "DROP DATABASE $db"
done
uptime
