#!/usr/bin/env bash
# `make bench`: seed a county-sized data set (100,000 members, 1,000,000 ledger entries,
# 100,000 open cards, 50,000 submitted cards, 100,000 incidents), rebuild Redis from it, then
# load a release build with wrk on loopback: leaderboard reads, /me/points, draws, approvals,
# incident filings (fresh keys) and replays; beside redis-benchmark on the same board; then
# check the data (no card held twice, summaries equal the ledger). On SQLite, then again on
# a throwaway PostgreSQL 15 cluster (BENCH_SQLITE=0 or BENCH_PG=0 skips one).
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
chmod 755 "$WORK"
REDIS_PID=""; SERVER_PID=""; PG_DATA="$WORK/pg"; PG_BIN=/usr/lib/postgresql/15/bin
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  [ -f "$PG_DATA/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

export FIVESTAR_JWT_SECRET="bench-secret-bench-secret-bench-secret"
export FIVESTAR_DATA_DIR="$WORK"
export RUST_LOG=warn
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%FT%TZ)"

wrk_run() { # label script [env…]: one wrk run, its RESULT line labelled
  local label="$1" script="$2"; shift 2
  env "$@" wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" -s "bench/wrk/$script" "http://127.0.0.1:$PORT" \
    | grep RESULT | sed "s|^RESULT|  $label|"
}

suite() { # name database-url check-command…
  local name="$1" url="$2"; shift 2
  local dir="$WORK/$name"; mkdir -p "$dir"
  REDIS_PORT="$(free_port)"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
  REDIS_PID=$!
  sleep 0.5
  export FIVESTAR_DATABASE_URL="$url" FIVESTAR_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" FIVESTAR_REDIS_PREFIX="fsb"
  echo "=== $name"
  echo "== seeding $MEMBERS members, $ENTRIES ledger entries, cards and incidents"
  /usr/bin/time -f "seed wall %es, peak RSS %M KB" "$BIN" seed-bench --members "$MEMBERS" --ledger-entries "$ENTRIES" \
    --tokens "$dir/tokens.txt" > "$dir/seed.out"
  cat "$dir/seed.out"
  local county draw grid
  county="$(grep county_id "$dir/seed.out" | cut -d= -f2)"
  draw="$(grep draw_branch "$dir/seed.out" | cut -d= -f2)"
  grid="$(grep grid_id "$dir/seed.out" | cut -d= -f2)"
  echo "== rebuild-redis"
  /usr/bin/time -f "rebuild-redis wall %es, peak RSS %M KB" "$BIN" rebuild-redis | tail -3

  PORT="$(free_port)"
  FIVESTAR_BIND="127.0.0.1:$PORT" "$BIN" serve > "$dir/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

  echo "== load: $CONNS connections, ${SECONDS_EACH}s each"
  wrk_run "leaderboard(county,month,top20+me)" auth_get.lua TOKENS="$dir/tokens.txt" \
    BENCH_PATH="/api/v1/orgs/$county/leaderboard?metric=points&period=month&limit=20"
  wrk_run "me/points" auth_get.lua TOKENS="$dir/tokens.txt" BENCH_PATH="/api/v1/me/points"
  wrk_run "draw(100k open cards)" auth_post.lua TOKENS="$dir/draw_tokens.txt" \
    BENCH_PATH="/api/v1/orgs/$draw/cards/draw"
  wrk_run "approve(credit)" review.lua TOKENS="$dir/secretary_token.txt" CARDS="$dir/review_cards.txt" THREADS=2
  wrk_run "incident filing(fresh key)" file_incident.lua TOKENS="$dir/grid_tokens.txt" GRID="$grid"
  SECONDS_EACH=2 wrk_run "(replay warm-up)" file_incident.lua TOKENS="$dir/grid_tokens.txt" GRID="$grid" \
    REPLAY_KEYS=1000 > /dev/null
  wrk_run "incident replay(same key+body)" file_incident.lua TOKENS="$dir/grid_tokens.txt" GRID="$grid" \
    REPLAY_KEYS=1000

  local month
  month="$(python3 -c 'import datetime; d=datetime.datetime.utcnow()+datetime.timedelta(hours=8); print("m%d-%02d"%(d.year,d.month))')"
  echo "== baseline: redis-benchmark ZREVRANGE on the same board, SPOP+SADD on a scratch set"
  redis-benchmark -p "$REDIS_PORT" -c "$CONNS" -n 200000 -q ZREVRANGE "fsb:{o$county}:lb:points:$month" 0 19 WITHSCORES \
    | tr '\r' '\n' | grep -v '^$' | tail -1
  redis-benchmark -p "$REDIS_PORT" -c "$CONNS" -n 200000 -q SADD "scratch" "__rand_int__" | tr '\r' '\n' | grep -v '^$' | tail -1
  redis-benchmark -p "$REDIS_PORT" -c "$CONNS" -n 200000 -q SPOP "scratch" | tr '\r' '\n' | grep -v '^$' | tail -1
  echo "server peak RSS: $(grep VmHWM /proc/$SERVER_PID/status | awk '{print $2, $3}')"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  echo "== checks after the run"
  "$@" < bench/checks.sql
  kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=""
}

if [ "${BENCH_SQLITE:-1}" != "0" ]; then
  suite sqlite "sqlite://$WORK/sqlite/bench.db?mode=rwc" sqlite3 -separator ': ' "$WORK/sqlite/bench.db"
fi

if [ "${BENCH_PG:-1}" != "0" ] && [ -x "$PG_BIN/initdb" ]; then
  PG_PORT="$(free_port)"
  mkdir -p "$PG_DATA"; [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DATA"
  as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$WORK/initdb.log" 2>&1
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -o \
    "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_DATA -c synchronous_commit=off -c max_connections=200 -c shared_buffers=256MB" \
    start >/dev/null
  suite postgres "postgres://postgres@127.0.0.1:$PG_PORT/postgres" psql -At -F ': ' "postgres://postgres@127.0.0.1:$PG_PORT/postgres"
fi
