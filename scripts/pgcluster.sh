#!/usr/bin/env bash
# The project-local PostGIS cluster that `make run` and `make test` use when
# DATABASE_URL is unset: data under var/pg, listening on 127.0.0.1 only, port
# $GRIDGIS_PGPORT (default 55432), trust authentication (loopback only; this is
# a developer's cluster, not a production one).
#
#   scripts/pgcluster.sh start | stop | status | url
#
# PostgreSQL refuses to run as root, so as root the cluster runs as the
# `postgres` system user on a directory it owns; anyone else runs it as themself.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
port=${GRIDGIS_PGPORT:-55432}
root=$top/var/pg

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] && command -v pg_ctl >/dev/null; then bindir=$(dirname "$(command -v pg_ctl)"); fi
[ -n "$bindir" ] || { echo "PostgreSQL server binaries not found: run 'make system' first." >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$top" 2>/dev/null; then
  # The checkout is not reachable by the postgres user (e.g. under /root):
  # keep the cluster in a postgres-owned place and link it from var/.
  alt=/var/tmp/gridgis-pg-$(printf %s "$top" | md5sum | cut -c1-10)
  mkdir -p "$top/var" "$alt"
  [ -e "$root" ] || ln -s "$alt" "$root"
  root=$alt
fi
data=$root/data
run=$root/run
log=$root/postgres.log

running() { [ -f "$data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }

psql_admin() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }

case "${1:-}" in
  start)
    mkdir -p "$root"
    [ "$(id -u)" = 0 ] && chown postgres: "$root"
    if [ ! -f "$data/PG_VERSION" ]; then
      echo "Creating the local PostGIS cluster in $data"
      as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 >/dev/null
      as_owner mkdir -p "$run"
      cat <<CONF | as_owner tee -a "$data/postgresql.conf" >/dev/null
# gridgis local cluster
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$run'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 256MB
max_connections = 200
CONF
    fi
    if running; then
      echo "Local PostGIS already running on 127.0.0.1:$port"
    else
      if ! as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "-p $port" start >/dev/null; then
        echo "The local PostGIS did not start; the end of $log says:" >&2
        tail -n 5 "$log" >&2
        echo "(Port $port taken by another server? Set GRIDGIS_PGPORT to a free port.)" >&2
        exit 1
      fi
      echo "Local PostGIS started on 127.0.0.1:$port (log: $log)"
    fi
    psql_admin -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'gridgis'" | grep -q 1 \
      || psql_admin -d postgres -c "CREATE ROLE gridgis LOGIN SUPERUSER"
    psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'gridgis'" | grep -q 1 \
      || psql_admin -d postgres -c "CREATE DATABASE gridgis OWNER gridgis"
    ;;
  stop)
    if running; then
      as_owner "$bindir/pg_ctl" -D "$data" -w -m fast stop >/dev/null
      echo "Local PostGIS stopped"
    else
      echo "Local PostGIS is not running"
    fi
    ;;
  status)
    if running; then echo "running on 127.0.0.1:$port"; else echo "not running"; exit 3; fi
    ;;
  url)
    echo "postgresql+psycopg://gridgis@127.0.0.1:$port/gridgis"
    ;;
  *)
    echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
