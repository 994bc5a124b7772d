#!/usr/bin/env bash
# Start PostgreSQL and Redis when they are installed but not running (CI, fresh machines).
# Installs them from Debian's packages only in CI, where the tests must not skip.
set -u
pg_up() { python3 - <<'PY' 2>/dev/null
import socket; s = socket.create_connection(("127.0.0.1", 5432), 2); s.close()
PY
}
redis_up() { python3 - <<'PY' 2>/dev/null
import socket; s = socket.create_connection(("127.0.0.1", 6379), 2); s.sendall(b"PING\r\n"); assert s.recv(16).startswith(b"+PONG"); s.close()
PY
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

if ! pg_up; then
  if ! ls /etc/postgresql >/dev/null 2>&1 && [ "${CI:-}" = "true" ]; then
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  if ls /etc/postgresql >/dev/null 2>&1; then
    for v in $(ls /etc/postgresql); do
      as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true
    done
    # Trust auth for local TCP so the tests can connect as postgres (CI machines only).
    for i in 1 2 3 4 5 6 7 8 9 10; do pg_up && break; sleep 1; done
    if [ "${CI:-}" = "true" ]; then
      as_root su postgres -c "psql -qc \"SELECT 1 FROM pg_database WHERE datname='test'\" | grep -q 1 || createdb test" 2>/dev/null || true
    fi
  fi
fi
if ! redis_up; then
  if ! command -v redis-server >/dev/null && [ "${CI:-}" = "true" ]; then
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  if command -v redis-server >/dev/null; then
    mkdir -p /tmp/leadrank-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp/leadrank-redis --logfile /tmp/leadrank-redis/redis.log >/dev/null || true
    for i in 1 2 3 4 5; do redis_up && break; sleep 1; done
  fi
fi
pg_up && echo "PostgreSQL: up" || echo "PostgreSQL: not reachable (its tests skip outside CI)"
redis_up && echo "Redis: up" || echo "Redis: not reachable (its tests skip outside CI)"
exit 0
