#!/usr/bin/env bash
# System packages gridgis needs on Debian/Ubuntu, installed only when missing:
#   PostgreSQL server + PostGIS 3 (the local cluster), python3-venv,
#   and, with --browser, Chromium and a CJK font for the browser tests.
# As root this runs apt-get; otherwise it uses sudo when available, or prints
# the command to run.
set -euo pipefail
want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

missing=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

pg_major=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_major" ] || [ ! -x "/usr/lib/postgresql/$pg_major/bin/postgres" ]; then
  missing+=(postgresql)
fi
if [ -n "$pg_major" ]; then
  have_pkg "postgresql-$pg_major-postgis-3" || missing+=("postgresql-$pg_major-postgis-3")
fi
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
# npm (with node): `make assets` installs the front-end libraries the app serves.
command -v npm >/dev/null || missing+=(npm)
if [ "$want_browser" = 1 ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  # A CJK font, or screenshots of the Chinese interface show empty boxes.
  have_pkg fonts-wqy-microhei || missing+=(fonts-wqy-microhei)
fi

if [ ${#missing[@]} -eq 0 ]; then
  [ -n "$pg_major" ] && exit 0
fi

run_apt() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else
    echo "Missing system packages: ${missing[*]}. Install them as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
}

if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  run_apt apt-get update -q
  run_apt apt-get install -y -q "${missing[@]}"
fi
# PostGIS goes with the server's major version, known only once it is installed.
pg_major=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! have_pkg "postgresql-$pg_major-postgis-3"; then
  export DEBIAN_FRONTEND=noninteractive
  run_apt apt-get install -y -q "postgresql-$pg_major-postgis-3"
fi
