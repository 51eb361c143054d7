#!/usr/bin/env bash
# `make bench`: seed a county-sized data set, rebuild Redis from it, then load the
# server with wrk on loopback beside the same machine's redis-benchmark figure.
# Env: BENCH_MEMBERS (100000), BENCH_ENTRIES (1000000), BENCH_SECONDS (15), BENCH_CONNS (64).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/apt-install.sh redis-server redis-server wrk wrk

MEMBERS="${BENCH_MEMBERS:-100000}"
ENTRIES="${BENCH_ENTRIES:-1000000}"
SECONDS_EACH="${BENCH_SECONDS:-15}"
CONNS="${BENCH_CONNS:-64}"

cargo build --release --bin fivestar -q
BIN="$PWD/target/release/fivestar"
WORK="$(mktemp -d /tmp/fivestar-bench.XXXXXX)"
REDIS_PID=""; SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

REDIS_PORT="$(free_port)"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
sleep 0.5

export FIVESTAR_DATABASE_URL="sqlite://$WORK/bench.db?mode=rwc"
export FIVESTAR_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export FIVESTAR_REDIS_PREFIX="fsb"
export FIVESTAR_JWT_SECRET="bench-secret-bench-secret-bench-secret"
export FIVESTAR_DATA_DIR="$WORK"
export RUST_LOG=warn

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%FT%TZ)"
echo "== seeding $MEMBERS members, $ENTRIES ledger entries (SQLite)"
/usr/bin/time -f "seed wall %es, peak RSS %M KB" "$BIN" seed-bench --members "$MEMBERS" --ledger-entries "$ENTRIES" \
  --tokens "$WORK/tokens.txt" > "$WORK/seed.out"
cat "$WORK/seed.out"
COUNTY="$(grep county_id "$WORK/seed.out" | cut -d= -f2)"
echo "== rebuild-redis"
/usr/bin/time -f "rebuild-redis wall %es, peak RSS %M KB" "$BIN" rebuild-redis | tail -2

PORT="$(free_port)"
FIVESTAR_BIND="127.0.0.1:$PORT" "$BIN" serve > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

run_wrk() { # name path
  TOKENS="$WORK/tokens.txt" BENCH_PATH="$2" wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" \
    -s bench/wrk/auth_get.lua "http://127.0.0.1:$PORT" | grep RESULT | sed "s|^RESULT|$1|"
}
echo "== load: $CONNS connections, ${SECONDS_EACH}s each"
run_wrk "leaderboard(county,month,top20+me)" "/api/v1/orgs/$COUNTY/leaderboard?metric=points&period=month&limit=20"
run_wrk "me/points" "/api/v1/me/points"

MONTH_KEY="$(python3 -c 'import datetime; d=datetime.datetime.utcnow()+datetime.timedelta(hours=8); print("m%d-%02d"%(d.year,d.month))')"
echo "== baseline: redis-benchmark ZREVRANGE on the same board"
redis-benchmark -p "$REDIS_PORT" -c "$CONNS" -n 200000 -q ZREVRANGE "fsb:{o$COUNTY}:lb:points:$MONTH_KEY" 0 19 WITHSCORES | tr '\r' '\n' | grep -v '^$' | tail -1
echo "server peak RSS: $(grep VmHWM /proc/$SERVER_PID/status | awk '{print $2, $3}')"
