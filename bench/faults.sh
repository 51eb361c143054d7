#!/usr/bin/env bash
# `make faults`: the long half of the fault suite, against a release build under wrk load,
# on SQLite and then PostgreSQL (FAULTS_SQLITE=0 / FAULTS_PG=0 skip one).
#  1. Redis restart under load: approvals, draws and filings run for 30 s; at 8 s Redis
#     gets SHUTDOWN NOSAVE, at 12 s it starts again empty. Every answer must be 2xx, an
#     expected 4xx (pool_empty, card_limit) or 503, never another 5xx. Reports the counts,
#     how long until the epoch marker was rebuilt, and then that ledger, cards and boards
#     agree with SQL (bench/checks.sql and `fivestar verify-redis`).
#  2. SIGTERM under load: approvals run; the server gets SIGTERM after 3 s; it must exit 0,
#     and every approved card has exactly one ledger entry.
# The quick half (1000 draws at one card, a slow Redis, a restart and SIGTERM in small)
# runs in `make test`. The run's output is kept in bench/FAULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/apt-install.sh redis-server redis-server wrk wrk
cargo build --release -q -p fivestar --bin fivestar
BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/fivestar"
WORK="$(mktemp -d /tmp/fivestar-faults.XXXXXX)"
chmod 755 "$WORK"
REDIS_PID=""; SERVER_PID=""; PG_DATA="$WORK/pg"; PG_BIN=/usr/lib/postgresql/15/bin
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; return 0; }
cleanup() {
  stop "$SERVER_PID"; stop "$REDIS_PID"
  [ -f "$PG_DATA/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

LOG="$WORK/faults.out"
exec > >(tee "$LOG") 2>&1
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM; $(date -u +%FT%TZ)"
export FIVESTAR_JWT_SECRET="faults-secret-faults-secret-faults-secret"
export FIVESTAR_DATA_DIR="$WORK"
export RUST_LOG=warn
export FIVESTAR_WRITE_LIMIT_PER_MINUTE=0
FAILED=0

start_redis() { # dir port
  redis-server --bind 127.0.0.1 --port "$2" --save "" --appendonly no --dir "$1" >>"$1/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 50); do redis-cli -p "$2" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
}

start_server() { # dir
  PORT="$(free_port)"
  FIVESTAR_BIND="127.0.0.1:$PORT" "$BIN" serve >> "$1/server.log" 2>&1 &
  SERVER_PID=$!
  wait_http "http://127.0.0.1:$PORT/readyz"
}

# Every status a load may answer: 2xx, pool_empty/card_limit/already_reviewed, and 503.
statuses_ok() { ! grep '^STATUSES' "$@" | tr ' ' '\n' | grep -E '^[0-9]+=' | grep -vE '^(200|201|404|409|503)='; }

suite() { # name database-url check-command…
  local name="$1" url="$2"; shift 2
  local dir="$WORK/$name"; mkdir -p "$dir"
  local redis_port; redis_port="$(free_port)"
  start_redis "$dir" "$redis_port"
  export FIVESTAR_DATABASE_URL="$url" FIVESTAR_REDIS_URL="redis://127.0.0.1:$redis_port" FIVESTAR_REDIS_PREFIX=fsf
  echo "=== $name"
  "$BIN" seed-bench --members 20000 --ledger-entries 200000 --open-cards 20000 --submitted-cards 20000 \
    --incidents 2000 --tokens "$dir/tokens.txt" > "$dir/seed.out"
  "$BIN" rebuild-redis > /dev/null
  local draw grid
  draw="$(grep draw_branch "$dir/seed.out" | cut -d= -f2)"
  grid="$(grep grid_id "$dir/seed.out" | cut -d= -f2)"
  start_server "$dir"

  echo "== Redis restart under load (30 s; SHUTDOWN NOSAVE at 8 s, empty restart at 12 s)"
  local url="http://127.0.0.1:$PORT"
  COUNT_STATUSES=1 TOKENS="$dir/secretary_token.txt" CARDS="$dir/review_cards.txt" THREADS=1 \
    wrk -t1 -c16 -d30s --timeout 10s -s bench/wrk/review.lua "$url" > "$dir/approve.out" &
  local w1=$!
  COUNT_STATUSES=1 TOKENS="$dir/draw_tokens.txt" BENCH_PATH="/api/v1/orgs/$draw/cards/draw" \
    wrk -t1 -c16 -d30s --timeout 10s -s bench/wrk/auth_post.lua "$url" > "$dir/draw.out" &
  local w2=$!
  COUNT_STATUSES=1 TOKENS="$dir/grid_tokens.txt" GRID="$grid" \
    wrk -t1 -c16 -d30s --timeout 10s -s bench/wrk/file_incident.lua "$url" > "$dir/file.out" &
  local w3=$!
  sleep 8
  redis-cli -p "$redis_port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  wait "$REDIS_PID" 2>/dev/null || true
  local down_at; down_at="$(now_ms)"
  sleep 4
  start_redis "$dir" "$redis_port"
  local up_at epoch_at=""; up_at="$(now_ms)"
  for _ in $(seq 1 600); do
    if [ "$(redis-cli -p "$redis_port" EXISTS fsf:epoch)" = "1" ]; then epoch_at="$(now_ms)"; break; fi
    sleep 0.05
  done
  wait "$w1" "$w2" "$w3"
  for load in approve draw file; do
    echo "  $load: $(grep '^RESULT' "$dir/$load.out" | cut -d' ' -f2-) | $(grep '^STATUSES' "$dir/$load.out")"
  done
  echo "  Redis down for $(( up_at - down_at )) ms; epoch rebuilt $(( ${epoch_at:-0} - up_at )) ms after the restart"
  if [ -z "$epoch_at" ]; then echo "  FAIL: the epoch marker was not rebuilt within 30 s"; FAILED=1; fi
  if ! statuses_ok "$dir"/approve.out "$dir"/draw.out "$dir"/file.out; then
    echo "  FAIL: an answer other than 2xx, 404, 409 or 503"; FAILED=1
  fi
  # The server's reconciler repairs what the outage left; Redis must come to equal SQL.
  local ended_at agreed=""; ended_at="$(now_ms)"
  for _ in $(seq 1 60); do
    if "$BIN" verify-redis > "$dir/verify.out" 2>&1; then agreed="$(now_ms)"; break; fi
    sleep 1
  done
  cat "$dir/verify.out"
  if [ -n "$agreed" ]; then
    echo "  Redis equal to SQL $(( agreed - ended_at )) ms after the load ended"
  else
    echo "  FAIL: Redis still differs from SQL 60 s after the load"; FAILED=1
  fi
  stop "$SERVER_PID"; SERVER_PID=""
  "$@" < bench/checks.sql | tee "$dir/checks.out"
  if grep -vE '^(incidents filed by the run|idempotency keys)' "$dir/checks.out" | grep -vE ': 0$'; then
    echo "  FAIL: a data check is not 0"; FAILED=1
  fi

  echo "== SIGTERM under load (approvals; SIGTERM at 3 s)"
  start_server "$dir"
  TOKENS="$dir/secretary_token.txt" CARDS="$dir/review_cards.txt" THREADS=1 \
    wrk -t1 -c32 -d8s --timeout 10s -s bench/wrk/review.lua "http://127.0.0.1:$PORT" > "$dir/term.out" 2>&1 &
  local w4=$!
  sleep 3
  kill -TERM "$SERVER_PID"
  local code=0; wait "$SERVER_PID" || code=$?
  SERVER_PID=""
  wait "$w4" || true
  echo "  server exit status $code; load: $(grep '^RESULT' "$dir/term.out" | cut -d' ' -f2-)"
  if [ "$code" -ne 0 ]; then echo "  FAIL: the server did not exit 0"; FAILED=1; fi
  "$@" < bench/checks.sql | grep -E 'credit|held' | tee "$dir/term-checks.out"
  if grep -vE ': 0$' "$dir/term-checks.out"; then echo "  FAIL: partial writes"; FAILED=1; fi
  stop "$REDIS_PID"; REDIS_PID=""
}

if [ "${FAULTS_SQLITE:-1}" != "0" ]; then
  mkdir -p "$WORK/SQLite"
  suite SQLite "sqlite://$WORK/SQLite/faults.db?mode=rwc" sqlite3 -separator ': ' "$WORK/SQLite/faults.db"
fi
if [ "${FAULTS_PG:-1}" != "0" ] && [ -x "$PG_BIN/initdb" ]; then
  PG_PORT="$(free_port)"
  mkdir -p "$PG_DATA"; [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DATA"
  as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$WORK/initdb.log" 2>&1
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -o \
    "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_DATA -c max_connections=200" start >/dev/null
  suite PostgreSQL "postgres://postgres@127.0.0.1:$PG_PORT/postgres" \
    psql -At -F ': ' "postgres://postgres@127.0.0.1:$PG_PORT/postgres"
fi
if [ "$FAILED" -ne 0 ]; then RESULT="make faults: FAILED"; else RESULT="make faults: all held"; fi
echo "$RESULT"
{
  echo "# Fault suite results (\`make faults\`, bench/faults.sh)"
  echo
  echo '```'
  cat "$LOG"
  echo '```'
} > bench/FAULTS.md
[ "$FAILED" -eq 0 ]
