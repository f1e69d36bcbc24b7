#!/usr/bin/env bash
# The README's run command: set up on a fresh machine, then serve the site with its Celery worker and scheduler.
# Embedded defaults: SQLite and file storage under var/, kombu's filesystem broker; no Redis or PostgreSQL needed.
set -euo pipefail
cd "$(dirname "$0")/.."
# DIGITS_SKIP_SETUP=1: the .venv is ready (tests start the site this way without touching a shared .venv).
[ "${DIGITS_SKIP_SETUP:-0}" = 1 ] || scripts/setup.sh
export DJANGO_SETTINGS_MODULE=digits_site.settings
py=.venv/bin/python
mkdir -p "${DIGITS_VAR_DIR:-var}"
$py manage.py fetch_mnist
$py manage.py migrate --noinput
$py manage.py ensure_model
$py manage.py collectstatic --noinput -v0
echo "==> Serving on http://${DIGITS_BIND:-127.0.0.1:8000}/ (Ctrl+C stops web, worker and scheduler)"
exec .venv/bin/honcho start -f Procfile
