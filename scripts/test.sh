#!/usr/bin/env bash
# `make test`: lint, then the whole suite on SQLite and again on PostgreSQL, against a
# redis-server and a throwaway PostgreSQL 15 cluster started here on free loopback ports.
# Everything started here is stopped on exit, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

scripts/apt-install.sh redis-server redis-server
PG_BIN=""
for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
  [ -x "$dir/initdb" ] && { PG_BIN="$dir"; break; }
done
if [ -z "$PG_BIN" ]; then
  scripts/apt-install.sh initdb_absent postgresql-15
  PG_BIN=/usr/lib/postgresql/15/bin
fi

WORK="$(mktemp -d /tmp/fivestar-test.XXXXXX)"
chmod 755 "$WORK"
REDIS_PID=""
PG_DATA="$WORK/pg"
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
  status=$?
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  [ -f "$PG_DATA/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1
  rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

REDIS_PORT="$(free_port)"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$WORK" \
  --maxclients 10000 >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!

PG_PORT="$(free_port)"
mkdir -p "$PG_DATA"
[ "$(id -u)" -eq 0 ] && chown postgres "$PG_DATA"
as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$WORK/initdb.log" 2>&1
as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -o \
  "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=2000 -c shared_buffers=128MB" \
  start >/dev/null

for _ in $(seq 1 50); do
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done

export FIVESTAR_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export TMPDIR="$WORK"

echo "== fmt, clippy and the walls of src/"
cargo fmt --all -- --check
python3 scripts/check-structure.py
cargo clippy --workspace --all-targets --features failpoints --quiet -- -D warnings
echo "== the OpenAPI document against the official OpenAPI 3.1 schema (and every \$ref resolves)"
(cd tools/openapi-check && npm ci --no-audit --no-fund --loglevel=error)
node tools/openapi-check/check.mjs api-docs/openapi.json
echo "== the phone page: build (type check, first-page budget) and unit tests (Vitest)"
scripts/build-web.sh
(cd web && npx vitest run)

echo "== tests on SQLite"
# With the crash points compiled in (`infra::pending::crash_point`); never in a release build.
cargo test --workspace --features failpoints
# The server the API tests ran is the one the fuzz runs: built once. (`--workspace` and the
# tests' dev-dependencies set the crates' features; a build with others compiles it all again.)
export FUZZ_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/fivestar"
echo "== API fuzz (schemathesis) on SQLite"
scripts/fuzz-api.sh "sqlite://$WORK/fuzz.db?mode=rwc" "redis://127.0.0.1:$REDIS_PORT"
echo "== the phone page in a real browser (chromium, playwright-core) on SQLite; screenshots in target/phone-screens/"
scripts/web-e2e.sh "$FUZZ_BIN" "redis://127.0.0.1:$REDIS_PORT"

echo "== tests on PostgreSQL"
FIVESTAR_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres" cargo test --workspace --features failpoints --test api
echo "== API fuzz (schemathesis) on PostgreSQL"
psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE fuzz"
scripts/fuzz-api.sh "postgres://postgres@127.0.0.1:$PG_PORT/fuzz" "redis://127.0.0.1:$REDIS_PORT"
