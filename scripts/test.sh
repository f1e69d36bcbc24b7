#!/usr/bin/env bash
# The README's test command. Runs the whole suite on the embedded defaults (SQLite, no Redis) and, at the same time,
# the tests that reach a database or a broker against PostgreSQL and Redis on 127.0.0.1 when they answer. With
# DIGITS_REQUIRE_SERVICES=1 (set by .ci/run) a missing service, browser or npm registry is a failure instead of a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Debian's package $1, for what $2 says (as root, or through sudo).
install_debian() {
  echo "==> Installing Debian's $1 for $2"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}
if ! command -v chromium >/dev/null 2>&1; then
  install_debian chromium "the browser tests"
fi
if ! [ -d /usr/share/fonts/truetype/liberation ]; then
  # The not-a-digit detector's letters are drawn in these fonts (training/ml/outliers.py; tests/test_outliers.py).
  install_debian fonts-liberation "the generated non-digits"
fi
if ! [ -x /usr/sbin/nginx ] && ! command -v nginx >/dev/null 2>&1; then
  # The multi-node test (tests/test_multinode.py) runs deploy/nginx.conf as an unprivileged process of its own.
  install_debian nginx "the multi-node test"
fi
if [ -z "${DIGITS_MNIST_DIR:-}" ] && [ -d ../shared/mnist ]; then
  export DIGITS_MNIST_DIR=$(cd ../shared/mnist && pwd)
fi
export DIGITS_VAR_DIR=${DIGITS_VAR_DIR:-$(mktemp -d)}
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null
.venv/bin/lint-imports
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null

pg=${DIGITS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
redis=${DIGITS_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
services=""
services_pid=""
if .venv/bin/python -c "import psycopg,sys; psycopg.connect(sys.argv[1].replace('postgres://','postgresql://'), connect_timeout=3).close()" "$pg" 2>/dev/null; then
  # The two passes run at once: one after the other they kept under one of two cores busy (servers, browsers and
  # workers starting and waiting), 22.5 min in all against 18 at once (README). Each has its own var folder; the
  # services pass writes to a log, shown when both are done.
  services=$(mktemp)
  mkdir -p "$DIGITS_VAR_DIR/services"
  echo "==> Test suite on PostgreSQL ($pg) with Redis ($redis), meanwhile: its output follows the SQLite pass's"
  # The tests that reach the database or the broker; the others run below (tests/conftest.py: passes).
  DATABASE_URL=$pg DIGITS_TEST_REDIS_URL=$redis DIGITS_PASS=services DIGITS_VAR_DIR=$DIGITS_VAR_DIR/services \
    .venv/bin/python -m pytest "$@" >"$services" 2>&1 &
  services_pid=$!
  # Stopped with the script (Ctrl+C included: a background job of a script ignores SIGINT), its log removed.
  trap '[ -z "$services_pid" ] || kill "$services_pid" 2>/dev/null || true; rm -f "$services"' EXIT
elif [ "${DIGITS_REQUIRE_SERVICES:-0}" = 1 ]; then
  echo "PostgreSQL at $pg is unreachable and DIGITS_REQUIRE_SERVICES=1" >&2
  exit 1
else
  echo "==> PostgreSQL at $pg is unreachable: the PostgreSQL pass is skipped (set DIGITS_TEST_POSTGRES_URL)"
fi

echo "==> Test suite on SQLite (embedded defaults)"
mkdir -p "$DIGITS_VAR_DIR/sqlite"
sqlite=0
# Beside a services pass, the SQLite pass leaves it most of the minutes of training marked same_on_any_database.
env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL DIGITS_VAR_DIR=$DIGITS_VAR_DIR/sqlite DIGITS_PASS=${services:+embedded} \
  .venv/bin/python -m pytest "$@" || sqlite=$?
if [ -n "$services" ]; then
  status=0
  wait "$services_pid" || status=$?
  services_pid=""
  echo "==> Test suite on PostgreSQL ($pg) with Redis ($redis): its output"
  cat "$services"
  rm -f "$services"
  [ "$status" = 0 ] || exit "$status"
fi
exit "$sqlite"
