#!/usr/bin/env bash
# Build the phone page (web/ → web/dist, served at /m/) when web/ changed since the last
# build: `npm ci` from the committed lock file when the lock changed, then type-check,
# `vite build`, gzip and the first-page budget (web/scripts/budget.mjs).
# `--force` builds anyway. Needs Node.js ≥ 20.19 and npm (nothing is fetched at run time).
set -euo pipefail
cd "$(dirname "$0")/../web"
command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 to build the phone page" >&2; exit 1; }

stamp() { find index.html package.json package-lock.json vite.config.ts tsconfig.json src public scripts -type f -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
now="$(stamp)"
if [ "${1:-}" != "--force" ] && [ -f dist/index.html ] && [ "$(cat .build-stamp 2>/dev/null)" = "$now" ]; then
  echo "phone page: web/dist is up to date"
  exit 0
fi
npm run --silent build
echo "$now" > .build-stamp
