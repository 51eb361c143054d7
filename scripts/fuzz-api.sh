#!/usr/bin/env bash
# API fuzz: schemathesis (every check) against a debug server on the demo data, with the
# secretary's token, a bounded number of examples per operation (tests/fuzz/schemathesis.toml).
# Fails on any 5xx or any response that contradicts /api-docs/openapi.json.
# Usage: scripts/fuzz-api.sh DATABASE_URL REDIS_URL   (FUZZ_SEED overrides the fixed seed;
# FUZZ_BIN names a server binary already built, as `make test` does)
set -euo pipefail
cd "$(dirname "$0")/.."
DATABASE_URL="$1"; REDIS_URL="$2"
VERSION=4.32.5
if [ "$(schemathesis --version 2>/dev/null | awk '{print $NF}')" != "$VERSION" ]; then
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "schemathesis==$VERSION"
fi
BIN="${FUZZ_BIN:-}"
if [ -z "$BIN" ]; then
  cargo build -q --bin fivestar
  BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/fivestar"
fi
WORK="$(mktemp -d /tmp/fivestar-fuzz.XXXXXX)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# WeChat's jscode2session, answering every code as invalid (errcode 40029).
WX_PORT="$(free_port)"
python3 - "$WX_PORT" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"errcode":40029,"errmsg":"invalid code"}'
        self.send_response(200); self.send_header("Content-Type", "text/plain"); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
PIDS+=($!)

PORT="$(free_port)"
export FIVESTAR_DATABASE_URL="$DATABASE_URL" FIVESTAR_REDIS_URL="$REDIS_URL" FIVESTAR_REDIS_PREFIX="fuzz$PORT" \
  FIVESTAR_DATA_DIR="$WORK" FIVESTAR_MEDIA_DIR="$WORK/media" FIVESTAR_BIND="127.0.0.1:$PORT" RUST_LOG=warn \
  FIVESTAR_JWT_SECRET="fuzz-secret-fuzz-secret-fuzz-secret-0123" FIVESTAR_WECHAT_APPID=wx-fuzz \
  FIVESTAR_WECHAT_SECRET=wx-fuzz-secret FIVESTAR_WECHAT_API_BASE="http://127.0.0.1:$WX_PORT" \
  FIVESTAR_WRITE_LIMIT_PER_MINUTE=0
"$BIN" seed-demo > /dev/null
"$BIN" serve > "$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null && break; sleep 0.1; done
TOKEN="$(curl -sf "http://127.0.0.1:$PORT/api/v1/auth/password" -H 'Content-Type: application/json' \
  -d '{"username":"secretary","password":"fivestar-demo"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

status=0
schemathesis --config-file tests/fuzz/schemathesis.toml run "http://127.0.0.1:$PORT/api-docs/openapi.json" \
  -H "Authorization: Bearer $TOKEN" --checks all --phases examples,coverage,fuzzing --workers 2 \
  --seed "${FUZZ_SEED:-20261122}" --no-color > "$WORK/schemathesis.log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  cat "$WORK/schemathesis.log"
  echo "--- server log"; tail -50 "$WORK/server.log"
  exit "$status"
fi
grep -E "generated|passed|failures" "$WORK/schemathesis.log" | tail -2
