#!/usr/bin/env bash
# `make run`: make sure a Redis answers at FIVESTAR_REDIS_URL (default redis://127.0.0.1:6379).
# Installs redis-server from Debian's packages if missing; starts one on loopback if none answers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/apt-install.sh redis-server redis-server redis-cli redis-tools
url="${FIVESTAR_REDIS_URL:-redis://127.0.0.1:6379}"
hostport="${url#redis://}"; hostport="${hostport##*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"
[ "$port" = "$hostport" ] && port=6379
if redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; then
  echo "redis answers at $host:$port"
  exit 0
fi
case "$host" in
  127.*|localhost) ;;
  *) echo "nothing answers at $url and it is not on loopback; start it yourself" >&2; exit 1 ;;
esac
mkdir -p data
redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$PWD/data" \
  --logfile "$PWD/data/redis.log" --pidfile "$PWD/data/redis.pid" --save 60 1000 --appendonly no
for _ in $(seq 1 50); do
  redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1 && { echo "started redis-server on $host:$port"; exit 0; }
  sleep 0.1
done
echo "redis-server did not start; see data/redis.log" >&2
exit 1
