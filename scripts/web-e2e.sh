#!/usr/bin/env bash
# The phone page in a real browser: Debian's chromium (installed here if missing) driven by
# playwright-core (web/e2e/) against a real server on a new SQLite database seeded by
# `seed-demo`, with the Redis given. WeChat's API is the only fake: the tests answer it on
# FIVESTAR_E2E_WECHAT_PORT. Screenshots go to target/phone-screens/.
# Usage: scripts/web-e2e.sh FIVESTAR_BINARY REDIS_URL
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN="$1"
REDIS_URL="$2"
scripts/apt-install.sh chromium chromium
# A Chinese font, or the screenshots show boxes where the text is (the tests read the DOM).
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing fonts-droid-fallback (a Chinese font for the screenshots)" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-droid-fallback >/dev/null \
    || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-droid-fallback >/dev/null; }
fi
scripts/build-web.sh

WORK="$(mktemp -d /tmp/fivestar-e2e.XXXXXX)"
SERVER_PID=""
cleanup() {
  status=$?
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ $status -ne 0 ] && [ -f "$WORK/server.log" ] && tail -40 "$WORK/server.log" >&2
  rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

PORT="$(free_port)"
WECHAT_PORT="$(free_port)"
export FIVESTAR_DATABASE_URL="sqlite://$WORK/e2e.db?mode=rwc"
export FIVESTAR_REDIS_URL="$REDIS_URL"
export FIVESTAR_REDIS_PREFIX="e2e$$"
export FIVESTAR_BIND="127.0.0.1:$PORT"
export FIVESTAR_MEDIA_DIR="$WORK/media"
export FIVESTAR_DATA_DIR="$WORK"
export FIVESTAR_WEB_DIR="$ROOT/web/dist"
export FIVESTAR_WECHAT_APPID="wx-e2e" FIVESTAR_WECHAT_SECRET="e2e-secret"
export FIVESTAR_WECHAT_API_BASE="http://127.0.0.1:$WECHAT_PORT"
export RUST_LOG="${RUST_LOG:-warn}"
"$BIN" seed-demo >"$WORK/seed.log"
"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null

mkdir -p target/phone-screens
cd web
FIVESTAR_E2E_BASE="http://127.0.0.1:$PORT" FIVESTAR_E2E_WECHAT_PORT="$WECHAT_PORT" \
  FIVESTAR_E2E_SHOTS="$ROOT/target/phone-screens" CHROMIUM="${CHROMIUM:-/usr/bin/chromium}" \
  node --test --test-concurrency=1 e2e/
