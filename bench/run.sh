#!/usr/bin/env bash
# `make bench`: on SQLite, then on a throwaway PostgreSQL 15 cluster (BENCH_SQLITE=0 or
# BENCH_PG=0 skips one):
#  1. seed a county-sized data set (600 branches, 100,000 members, 1,000,000 ledger
#     entries over two years, 100,000 open cards, 50,000 submitted cards, 100,000
#     incidents) and rebuild Redis from it, timed;
#  2. load a release build with wrk on loopback, rotating real tokens: leaderboard reads,
#     /me/points, draws, approvals, incident filings (fresh keys) and replays, redemptions
#     (an item with stock to spare, and one of 100 units: the race), the county's star
#     summary, a branch's star view and the weekly report, 12 MP photo
#     uploads; beside the machine's limits in the same run: a minimal actix-web server,
#     redis-benchmark for the commands the endpoints use, the SQL aggregate leaderboard;
#  3. check the data: no card held twice, summaries equal to the ledger, the shop's stock
#     and refunds, every board, pool and lease equal to a fresh recomputation (`fivestar
#     verify-redis`); peak RSS;
#  4. each hot write's ceiling on the engine alone, with the same statements (bench/sqlite,
#     bench/pgbench), for the write rows' ratios to it;
# then the photo pipeline beside ImageMagick (bench/photo.sh), and the whole report is
# written to bench/RESULTS.md.
# Env: BENCH_MEMBERS (100000), BENCH_ENTRIES (1000000), BENCH_SECONDS (15), BENCH_CONNS (64).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/apt-install.sh redis-server redis-server wrk wrk identify imagemagick

MEMBERS="${BENCH_MEMBERS:-100000}"
ENTRIES="${BENCH_ENTRIES:-1000000}"
SECONDS_EACH="${BENCH_SECONDS:-15}"
CONNS="${BENCH_CONNS:-64}"

cargo build --release -q -p fivestar --bin fivestar
cargo build --release -q -p fivestar-minimal
# The phone page the server serves at /m/ (its rows read web/dist).
scripts/build-web.sh
ENTRY_JS="$(grep -o 'src="/m/assets/[^"]*\.js"' web/dist/index.html | head -1 | cut -d'"' -f2)"
BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/fivestar"
MINIMAL="${CARGO_TARGET_DIR:-$PWD/target}/release/fivestar-minimal"
WORK="$(mktemp -d /tmp/fivestar-bench.XXXXXX)"
chmod 755 "$WORK"
REDIS_PID=""; SERVER_PID=""; MINIMAL_PID=""; PG_DATA="$WORK/pg"; PG_BIN=/usr/lib/postgresql/15/bin
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; return 0; }
cleanup() {
  stop "$SERVER_PID"; stop "$MINIMAL_PID"; stop "$REDIS_PID"
  [ -f "$PG_DATA/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }

export FIVESTAR_JWT_SECRET="bench-secret-bench-secret-bench-secret"
export FIVESTAR_DATA_DIR="$WORK"
export FIVESTAR_MEDIA_DIR="$WORK/media"
# The loads drive each token far past the per-user write limit: off, as the contract allows.
export FIVESTAR_WRITE_LIMIT_PER_MINUTE=0
export RUST_LOG=warn
REPORT="$WORK/RESULTS.md"
MACHINE="$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/Mem:/{print $2}') GiB RAM"
STARTED="$(date -u +%FT%TZ)"
echo "machine: $MACHINE; $STARTED"

# A 12 MP JPEG (4000×3000) for the upload load and bench/photo.sh.
PHOTO="$WORK/photo-12mp.jpg"
convert -size 4000x3000 plasma:fractal -seed 7 -quality 92 "$PHOTO"

ROWS=""   # this suite's TSV rows: label, req/s, p50 ms, p99 ms, errors, target
wrk_run() { # label target conns script [env…]: one wrk run, its figures kept as a row
  local label="$1" target="$2" conns="$3" script="$4"; shift 4
  local line
  line="$(env "$@" wrk -t2 -c"$conns" -d"${SECONDS_EACH}s" --timeout 10s -s "bench/wrk/$script" "http://127.0.0.1:$PORT" \
    | grep '^RESULT' || true)"
  echo "  $label: ${line#RESULT }"
  # RESULT rps=… p50_ms=… p99_ms=… errors=… non2xx=…
  python3 - "$label" "$target" "$line" >> "$ROWS" <<'PY'
import sys
label, target, line = sys.argv[1:4]
f = dict(kv.split("=") for kv in line.split()[1:]) if line else {}
print("\t".join([label, f.get("rps", "0"), f.get("p50_ms", "-"), f.get("p99_ms", "-"),
                 str(int(f.get("errors", "0")) + int(f.get("non2xx", "0"))) if f else "run failed", target]))
PY
}

writer_counters() { # the SQL writer's counters from /metrics: jobs batches busy-seconds (0s if unreadable)
  { curl -sf "http://127.0.0.1:$PORT/metrics" || true; } | awk '
    $1 == "sql_writer_jobs_total" { j = $2 } $1 == "sql_writer_batches_total" { b = $2 }
    $1 == "sql_writer_busy_seconds_total" { s = $2 } END { print j + 0, b + 0, s + 0 }'
}

writer_run() { # wrk_run's arguments: the same run, and the SQL writer's work during it as a row
  local before after
  before="$(writer_counters)"
  wrk_run "$@"
  after="$(writer_counters)"
  echo -e "$1\t$before\t$after\t$SECONDS_EACH" >> "$WRITER"
}

redis_baseline() { # label command…: redis-benchmark's figure as a row
  local label="$1"; shift
  local out
  out="$(redis-benchmark -p "$REDIS_PORT" -c "$CONNS" -n 200000 -q "$@" 2>&1 | tr '\r' '\n' | grep 'requests per second' | tail -1 || true)"
  echo "  $label: $out"
  python3 - "$label" "$out" >> "$ROWS" <<'PY'
import re, sys
label, out = sys.argv[1:3]
rps = re.search(r"([\d.]+) requests per second", out)
p50 = re.search(r"p50=([\d.]+) msec", out)
print("\t".join([label, rps.group(1) if rps else "0", p50.group(1) if p50 else "-", "-", "0", "baseline"]))
PY
}

sql_board_baseline() { # engine: the county's month board summed from the ledger in SQL
  local month_start query runs=10 started elapsed
  month_start="$(python3 -c 'import datetime as d; t=d.datetime.utcnow()+d.timedelta(hours=8); print(int(d.datetime(t.year,t.month,1,tzinfo=d.timezone(d.timedelta(hours=8))).timestamp()))')"
  query="SELECT user_id, SUM(delta_points) AS s FROM points_ledger WHERE created_epoch >= $month_start AND delta_points <> 0 GROUP BY user_id ORDER BY s DESC LIMIT 20;"
  : > "$WORK/board.sql"
  for _ in $(seq 1 "$runs"); do echo "$query" >> "$WORK/board.sql"; done
  started="$(date +%s%N)"
  "$@" < "$WORK/board.sql" > /dev/null
  elapsed="$(( ($(date +%s%N) - started) / 1000000 ))"
  echo "  SQL aggregate board: $runs queries in ${elapsed} ms"
  python3 - "$runs" "$elapsed" >> "$ROWS" <<'PY'
import sys
runs, ms = int(sys.argv[1]), max(int(sys.argv[2]), 1)
print("\t".join(["SQL aggregate board (county, month, top 20; one client)", f"{runs * 1000 / ms:.1f}",
                 f"{ms / runs:.1f}", "-", "0", "baseline"]))
PY
}

ceilings() { # name url dir draw-branch review-branch grid item: each hot write's statements on the engine alone
  local name="$1" url="$2" dir="$3" draw="$4" review="$5" grid="$6" item="$7"
  echo "== the engine's own ceilings (no server): the write paths' statements"
  : > "$dir/ceilings.tsv"
  local workload per_s
  if [ "$name" = SQLite ]; then
    for workload in draw approve filing redeem; do
      per_s="$(python3 bench/sqlite/ceiling.py "$dir/bench.db" "$workload" --jobs 10000 --branch "$draw" \
        --review-branch "$review" --grid "$grid" --item "$item" | tee -a "$dir/ceilings.out" \
        | sed -n 's/^CEILING .*per_s=\([0-9]*\).*/\1/p')"
      echo "  $workload: ${per_s:-failed}/s (SQLite alone, 32 jobs a transaction)"
      echo -e "$workload\t${per_s:-0}\tSQLite alone, 32 jobs a transaction, PASSIVE checkpoints beside" >> "$dir/ceilings.tsv"
    done
    return
  fi
  local psql=(psql -At "$url")
  local grid_path branch_path first_user
  grid_path="$("${psql[@]}" -c "SELECT path FROM orgs WHERE id = $grid")"
  branch_path="$("${psql[@]}" -c "SELECT path FROM orgs WHERE id = $draw")"
  first_user="$(grep first_user_id "$dir/seed.out" | cut -d= -f2)"
  "${psql[@]}" -c "CREATE SEQUENCE IF NOT EXISTS bench_codes" > /dev/null
  "${psql[@]}" -c "CREATE SEQUENCE IF NOT EXISTS bench_pick" -c "CREATE TABLE bench_approve AS SELECT row_number() \
    OVER (ORDER BY id) AS n, id AS claim FROM card_claims WHERE branch_id = $review AND status = 'submitted'" \
    -c "CREATE UNIQUE INDEX ON bench_approve (n)" > /dev/null
  local -A args=(
    [draw]="-T 10 -D branch=$draw"
    [approve]="-t 200 -D review_branch=$review"
    [filing]="-T 10 -D grid=$grid -D grid_path=$grid_path -D branch=$draw -D branch_path=$branch_path"
    [redeem]="-T 10 -D branch=$draw -D item=$item -D first_user=$first_user -D drawers=$(wc -l < "$dir/draw_tokens.txt")"
  )
  for workload in draw approve filing redeem; do
    # shellcheck disable=SC2086
    per_s="$(pgbench -n -M prepared -c "$CONNS" -j 2 ${args[$workload]} -f "bench/pgbench/$workload.sql" "$url" 2>&1 \
      | tee -a "$dir/ceilings.out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1)"
    echo "  $workload: ${per_s:-failed}/s (pgbench alone, $CONNS clients)"
    echo -e "$workload\t${per_s:-0}\tpgbench alone, $CONNS clients" >> "$dir/ceilings.tsv"
  done
}

suite() { # name database-url check-command…
  local name="$1" url="$2"; shift 2
  local dir="$WORK/$name"; mkdir -p "$dir"
  ROWS="$dir/rows.tsv"; : > "$ROWS"
  WRITER="$dir/writer.tsv"; : > "$WRITER"
  REDIS_PORT="$(free_port)"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
  REDIS_PID=$!
  sleep 0.5
  export FIVESTAR_DATABASE_URL="$url" FIVESTAR_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" FIVESTAR_REDIS_PREFIX="fsb"
  echo "=== $name"
  echo "== seeding $MEMBERS members, $ENTRIES ledger entries, cards and incidents"
  /usr/bin/time -o "$dir/seed.time" -f "%e s, peak RSS %M KB" "$BIN" seed-bench --members "$MEMBERS" \
    --ledger-entries "$ENTRIES" --tokens "$dir/tokens.txt" > "$dir/seed.out"
  cat "$dir/seed.out"; echo "seed: $(cat "$dir/seed.time")"
  local county draw grid
  county="$(grep county_id "$dir/seed.out" | cut -d= -f2)"
  draw="$(grep draw_branch "$dir/seed.out" | cut -d= -f2)"
  grid="$(grep grid_id "$dir/seed.out" | cut -d= -f2)"
  # Flush the seed's writes first, so the rebuild is never timed while the kernel writes
  # them back. (Measured: the flush takes under 0.1 s here, so it does not explain why an
  # SQLite rebuild takes 17-20 s in this script and 13-17 s on a copy of its database.)
  /usr/bin/time -o "$dir/sync.time" -f "%e s" sync
  echo "flushing the seed's writes (sync): $(cat "$dir/sync.time")"
  # And checkpoint, so the database does not write the seed's WAL back during the load.
  # PostgreSQL is vacuumed and analysed first, as after any bulk load: otherwise autovacuum
  # does it in the middle of the loads, on tables it takes tens of seconds to go through.
  local checkpoint="PRAGMA wal_checkpoint(TRUNCATE);"
  [ "$name" = PostgreSQL ] && checkpoint="VACUUM ANALYZE; CHECKPOINT;"
  /usr/bin/time -o "$dir/checkpoint.time" -f "%e s" "$@" <<< "$checkpoint" > /dev/null
  echo "checkpoint ($checkpoint): $(cat "$dir/checkpoint.time")"
  echo "== rebuild-redis"
  /usr/bin/time -o "$dir/rebuild.time" -f "%e s, peak RSS %M KB" "$BIN" rebuild-redis > "$dir/rebuild.out"
  tail -3 "$dir/rebuild.out"; echo "rebuild-redis: $(cat "$dir/rebuild.time")"

  echo "== load: $CONNS connections, ${SECONDS_EACH}s each"
  PORT="$(free_port)"
  "$MINIMAL" "127.0.0.1:$PORT" > /dev/null 2>&1 &
  MINIMAL_PID=$!
  wait_http "http://127.0.0.1:$PORT/"
  wrk_run "minimal actix-web server (small JSON)" baseline "$CONNS" auth_get.lua TOKENS="$dir/tokens.txt" BENCH_PATH=/
  stop "$MINIMAL_PID"; MINIMAL_PID=""

  FIVESTAR_BIND="127.0.0.1:$PORT" "$BIN" serve > "$dir/server.log" 2>&1 &
  SERVER_PID=$!
  wait_http "http://127.0.0.1:$PORT/readyz"
  # The server's first 2 s fill its caches (callers, names, verified tokens, board pages)
  # from SQL; reported on a row of their own, then the steady state against the target.
  local board="/api/v1/orgs/$county/leaderboard?metric=points&period=month&limit=20"
  SECONDS_EACH=2 wrk_run "leaderboard, first 2 s after start (caches filling)" "" "$CONNS" auth_get.lua \
    TOKENS="$dir/tokens.txt" BENCH_PATH="$board"
  wrk_run "leaderboard (county, month, top 20 + me)" "rps>=25000 p99<=10" "$CONNS" auth_get.lua \
    TOKENS="$dir/tokens.txt" BENCH_PATH="$board"
  wrk_run "GET /me/points" "" "$CONNS" auth_get.lua TOKENS="$dir/tokens.txt" BENCH_PATH="/api/v1/me/points"
  # The five stars over the county (600 branches, 1,000,000 ledger entries, 100,000 incidents):
  # its summary, one branch's star view (seven metrics measured for it), the weekly report
  # (the seven counts for every branch, this week and the one before).
  wrk_run "county star summary (600 branches)" "" "$CONNS" auth_get.lua TOKENS="$dir/county_token.txt" \
    BENCH_PATH="/api/v1/orgs/$county/stars/summary"
  wrk_run "a branch's star view (17 indicators, 7 metrics)" "" "$CONNS" auth_get.lua TOKENS="$dir/county_token.txt" \
    BENCH_PATH="/api/v1/orgs/$draw/stars"
  wrk_run "weekly report (600 branches, rank changes)" "" 4 auth_get.lua TOKENS="$dir/county_token.txt" \
    BENCH_PATH="/api/v1/orgs/$county/reports/weekly"
  # Wave 2's reads: a task with its counts (the draw branch's task holds 100,000 cards), and
  # the review queue with holders' names and photos (before the approvals use the cards up).
  local task review
  review="$(grep review_branch "$dir/seed.out" | cut -d= -f2)"
  task="$(curl -sf -H "Authorization: Bearer $(head -1 "$dir/draw_tokens.txt")" \
    "http://127.0.0.1:$PORT/api/v1/orgs/$draw/tasks?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')"
  wrk_run "GET /tasks/{id} (counts over 100,000 cards, ≤5 s old)" "" "$CONNS" auth_get.lua TOKENS="$dir/draw_tokens.txt" \
    BENCH_PATH="/api/v1/tasks/$task"
  wrk_run "review queue (20 submitted cards, names, photos)" "" "$CONNS" auth_get.lua \
    TOKENS="$dir/secretary_token.txt" BENCH_PATH="/api/v1/orgs/$review/cards?status=submitted&limit=20"
  # The write paths: each against the engine's own ceiling for its statements, measured
  # after the checks in this same run (see `ceilings` below).
  writer_run "draw (100,000 open cards)" "ceiling:draw" "$CONNS" auth_post.lua TOKENS="$dir/draw_tokens.txt" \
    BENCH_PATH="/api/v1/orgs/$draw/cards/draw"
  writer_run "approve a submitted card (credit)" "ceiling:approve" "$CONNS" review.lua \
    TOKENS="$dir/secretary_token.txt" CARDS="$dir/review_cards.txt" THREADS=2
  writer_run "incident filing (fresh key, 100,000 existing)" "ceiling:filing" "$CONNS" file_incident.lua \
    TOKENS="$dir/grid_tokens.txt" GRID="$grid"
  local ample race
  ample="$(grep shop_ample "$dir/seed.out" | cut -d= -f2)"
  race="$(grep shop_race "$dir/seed.out" | cut -d= -f2)"
  writer_run "redeem (stock to spare)" "ceiling:redeem" "$CONNS" redeem.lua TOKENS="$dir/draw_tokens.txt" ITEM="$ample"
  writer_run "redeem (100 in stock: the race; the rest answer 409 out_of_stock)" "" "$CONNS" redeem.lua \
    TOKENS="$dir/draw_tokens.txt" ITEM="$race"
  SECONDS_EACH=2 wrk_run "(replay warm-up)" "" "$CONNS" file_incident.lua TOKENS="$dir/grid_tokens.txt" GRID="$grid" \
    REPLAY_KEYS=1000 > /dev/null
  sed -i '/(replay warm-up)/d' "$ROWS"
  wrk_run "incident replay (same key and body)" "" "$CONNS" file_incident.lua TOKENS="$dir/grid_tokens.txt" \
    GRID="$grid" REPLAY_KEYS=1000
  # Wave 2's deadline and inbox reads: the draw branch's overdue incidents (by `due_at`, from
  # 100,000), and a member's inbox (the redemptions above told each of them).
  wrk_run "incident ledger ?sla=overdue (20 of 100,000)" "" "$CONNS" auth_get.lua TOKENS="$dir/county_token.txt" \
    BENCH_PATH="/api/v1/orgs/$draw/incidents?sla=overdue&limit=20"
  wrk_run "GET /me/notifications (the inbox)" "" "$CONNS" auth_get.lua TOKENS="$dir/draw_tokens.txt" \
    BENCH_PATH="/api/v1/me/notifications?limit=20"
  # Wave 2's phone page: its index.html (revalidated on every load) and its entry script,
  # both as a browser asks for them, gzipped.
  wrk_run "phone page: GET /m/ (index.html, gzip)" "" "$CONNS" static_get.lua BENCH_PATH=/m/
  wrk_run "phone page: its entry script (gzip)" "" "$CONNS" static_get.lua BENCH_PATH="$ENTRY_JS"
  local month rss rss32 rss_api
  rss_api="$(grep VmHWM /proc/$SERVER_PID/status | awk '{print $2}')"
  echo "resident after the API loads: $(grep -E '^Rss' /proc/$SERVER_PID/status | tr -s ' \t' ' ' | tr '\n' ' ')"
  wrk_run "12 MP photo upload (4 connections)" "" 4 upload.lua TOKENS="$dir/tokens.txt" PHOTO="$PHOTO"
  rss="$(grep VmHWM /proc/$SERVER_PID/status | awk '{print $2}')"
  # The peak of the 32-connection load on its own: the high-water mark starts again here
  # (from what the process holds now).
  echo 5 > "/proc/$SERVER_PID/clear_refs" || true
  wrk_run "12 MP photo upload (32 connections)" "" 32 upload.lua TOKENS="$dir/tokens.txt" PHOTO="$PHOTO"
  rss32="$(grep VmHWM /proc/$SERVER_PID/status | awk '{print $2}')"
  echo "resident after 32 concurrent uploads: $(grep -E '^Rss' /proc/$SERVER_PID/status | tr -s ' \t' ' ' | tr '\n' ' ')"

  month="$(python3 -c 'import datetime; d=datetime.datetime.utcnow()+datetime.timedelta(hours=8); print("m%d-%02d"%(d.year,d.month))')"
  echo "== the machine's limits: redis-benchmark, SQL"
  redis_baseline "redis-benchmark ZREVRANGE 0 19 WITHSCORES (the county board)" \
    ZREVRANGE "fsb:{o$county}:lb:points:$month" 0 19 WITHSCORES
  redis_baseline "redis-benchmark ZREVRANK (the caller's rank)" ZREVRANK "fsb:{o$county}:lb:points:$month" 1
  redis_baseline "redis-benchmark SPOP (the draw's pop)" SPOP "scratch"
  redis_baseline "redis-benchmark SADD (a card back in the pool)" SADD "scratch" "__rand_int__"
  redis_baseline "redis-benchmark ZADD (a board bump, a lease)" ZADD "scratch-z" 1 "__rand_int__"
  echo "server peak RSS: $rss_api KB after the API loads, $rss KB after 4 concurrent uploads, $rss32 KB during 32"
  # SQLite: the WAL as the loads left it (the writer's checkpoints run beside it, db::checkpoints).
  local wal=""
  [ -f "$dir/bench.db-wal" ] && wal="WAL file after the loads, MB: $(( $(stat -c %s "$dir/bench.db-wal") >> 20 ))"
  stop "$SERVER_PID"; SERVER_PID=""
  sql_board_baseline "$@"

  echo "== checks after the run"
  "$@" < bench/checks.sql | tee "$dir/checks.out"
  [ -n "$wal" ] && echo "$wal" | tee -a "$dir/checks.out"
  "$BIN" verify-redis | tee "$dir/verify.out" || true
  stop "$REDIS_PID"; REDIS_PID=""
  ceilings "$name" "$url" "$dir" "$draw" "$review" "$grid" "$ample"

  python3 bench/report.py "$name" "$ROWS" "$rss_api" "$rss" "$rss32" "$(cat "$dir/seed.time"), then sync (the seed's writes to disk) $(cat "$dir/sync.time")" "$(cat "$dir/rebuild.time")" \
    "$dir/checks.out" "$dir/verify.out" "$WRITER" "$dir/ceilings.tsv" >> "$REPORT.body"
}

: > "$REPORT.body"
if [ "${BENCH_SQLITE:-1}" != "0" ]; then
  suite SQLite "sqlite://$WORK/SQLite/bench.db?mode=rwc" sqlite3 -separator ': ' "$WORK/SQLite/bench.db"
fi

if [ "${BENCH_PG:-1}" != "0" ] && [ -x "$PG_BIN/initdb" ]; then
  PG_PORT="$(free_port)"
  mkdir -p "$PG_DATA"; [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DATA"
  as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$WORK/initdb.log" 2>&1
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -o \
    "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_DATA -c synchronous_commit=off -c max_connections=200 -c shared_buffers=256MB" \
    start >/dev/null
  suite PostgreSQL "postgres://postgres@127.0.0.1:$PG_PORT/postgres" \
    psql -At -F ': ' "postgres://postgres@127.0.0.1:$PG_PORT/postgres"
fi

echo "=== the photo pipeline beside ImageMagick"
PHOTO_OUT="$(bench/photo.sh | tee -a /dev/stderr)"  # -a: a log file on stderr is not truncated

{
  echo "# Benchmark results"
  echo
  echo "Written by \`make bench\` (bench/run.sh). Run started $STARTED on $MACHINE; $CONNS wrk connections"
  echo "for ${SECONDS_EACH} s per workload, wrk and the server on the same machine over loopback."
  echo "\`× minimal\` is the endpoint's throughput over the minimal actix-web server's in the same run: the share"
  echo "of what this machine's HTTP stack alone can do, comparable across machines."
  echo
  cat "$REPORT.body"
  echo "## The photo pipeline (12 MP JPEG, EXIF orientation 6)"
  echo
  echo '```'
  echo "$PHOTO_OUT"
  echo '```'
} > bench/RESULTS.md
echo "wrote bench/RESULTS.md"
