#!/usr/bin/env bash
# Runs before `npm test` (the `pretest` hook): makes sure what the suites talk to is there, on a fresh
# Debian machine with nothing done by hand. Each check is cheap when the thing is already present.
#   PostgreSQL at 127.0.0.1:5432 (store tests)   Redis at 127.0.0.1:6379 (Sidekiq release step)
#   /usr/bin/chromium (dashboard browser tests)    shellcheck (generated workflows' run: blocks)
#   tmux (the live deploy view in a real terminal)  prometheus (analysis' query source)
# What cannot be had (not root, no apt) is reported here; the tests that need it then fail saying how
# to get it. Set RUNWAY_TEST_SERVICES=skip to leave the machine alone.
set -uo pipefail

if [ "${RUNWAY_TEST_SERVICES:-}" = "skip" ]; then exit 0; fi

missing=()
apt_updated=0
as_root() { [ "$(id -u)" = 0 ]; }

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_port HOST PORT: poll the port until it answers (at most ~30 s); a started daemon is ready when it does.
wait_port() {
  for _ in $(seq 1 150); do
    if port_open "$1" "$2"; then return 0; fi
    sleep 0.2
  done
  return 1
}

apt_install() {
  if ! as_root || ! command -v apt-get >/dev/null; then return 1; fi
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq >/dev/null || return 1
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if port_open 127.0.0.1 5432; then return; fi
  if [ ! -d /etc/postgresql ]; then apt_install postgresql || true; fi
  if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
    echo "test-services: starting PostgreSQL"
    for dir in /etc/postgresql/*/; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$dir")" main start >/dev/null 2>&1 || true
      break
    done
  fi
  if ! wait_port 127.0.0.1 5432; then
    missing+=("PostgreSQL on 127.0.0.1:5432 (Debian: apt-get install -y postgresql; pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start)")
    return
  fi
  # The tests use database `test` as user postgres with trust auth on 127.0.0.1.
  if command -v psql >/dev/null && ! psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1 && as_root; then
    su postgres -c "createdb test" >/dev/null 2>&1 || true
  fi
}

ensure_redis() {
  if port_open 127.0.0.1 6379; then return; fi
  if ! command -v redis-server >/dev/null; then apt_install redis-server || true; fi
  if command -v redis-server >/dev/null; then
    echo "test-services: starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 || true
  fi
  if ! wait_port 127.0.0.1 6379; then
    missing+=("Redis on 127.0.0.1:6379 (Debian: apt-get install -y redis-server; redis-server --daemonize yes --port 6379)")
  fi
}

ensure_chromium() {
  if [ -x "${RUNWAY_CHROMIUM:-/usr/bin/chromium}" ]; then return; fi
  echo "test-services: installing Chromium (Debian package chromium)"
  apt_install chromium || missing+=("Chromium at /usr/bin/chromium (Debian: apt-get install -y chromium)")
}

ensure_shellcheck() {
  if command -v shellcheck >/dev/null; then return; fi
  echo "test-services: installing shellcheck (Debian package shellcheck)"
  apt_install shellcheck || missing+=("shellcheck (Debian: apt-get install -y shellcheck)")
}

ensure_tmux() {
  if command -v tmux >/dev/null; then return; fi
  echo "test-services: installing tmux (Debian package tmux)"
  apt_install tmux || missing+=("tmux (Debian: apt-get install -y tmux)")
}

# The tests start their own Prometheus servers; only the binary is needed (no service is started).
ensure_prometheus() {
  if [ -x /usr/bin/prometheus ] || [ -n "${RUNWAY_TEST_PROMETHEUS:-}" ]; then return; fi
  echo "test-services: installing prometheus (Debian package prometheus)"
  apt_install --no-install-recommends prometheus || missing+=("prometheus (Debian: apt-get install -y prometheus)")
}

ensure_postgres
ensure_redis
ensure_chromium
ensure_shellcheck
ensure_tmux
ensure_prometheus

if [ "${#missing[@]}" -gt 0 ]; then
  echo "test-services: could not get, so the tests that need them will fail:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
fi
exit 0
