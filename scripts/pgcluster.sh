#!/usr/bin/env bash
# The project-local PostGIS cluster that `make run` and `make test` use when
# DATABASE_URL is unset: data under var/pg, listening on 127.0.0.1 only, port
# $GRIDGIS_PGPORT (default 55432).
#
#   scripts/pgcluster.sh start | stop | status | url | owner-url
#
# Least privilege, as in production (docs/security.md):
#   gridgis_owner  owns the database and its tables; runs migrations; may
#                  create databases (the tests make throwaway ones).
#   gridgis_app    a group without login: the privileges the web app needs
#                  (migrations grant them; INSERT and SELECT only on the audit log).
#   gridgis        the web app's login: a member of gridgis_app, neither
#                  superuser nor owner of anything.
#   gridgis_replicator  may only stream the WAL (REPLICATION, no database
#                  rights): the hot standby of scripts/replica.sh logs in as it.
#   postgres       the cluster's superuser, reachable only through the
#                  cluster's own socket (mode 0700), used by this script alone.
# TCP connections need a password (scram-sha-256); the three passwords are
# generated on first start into var/secrets/ (mode 0600) and read from there
# by gridgis.config.
#
# PostgreSQL refuses to run as root, so as root the cluster runs as the
# `postgres` system user on a directory it owns; anyone else runs it as themself.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
port=${GRIDGIS_PGPORT:-55432}
root=$top/var/pg
secrets=$top/var/secrets
app_password_file=$secrets/db-app.password
owner_password_file=$secrets/db-owner.password
replication_password_file=$secrets/db-replication.password

source "$top/scripts/pg-common.sh"
# The checkout not reachable by the postgres user: the cluster in a postgres-owned place.
root=$(usable_root "$root" gridgis-pg)
data=$root/data
run=$root/run
log=$root/postgres.log

running() { [ -f "$data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }

# The superuser, over the cluster's own socket only (see pg_hba.conf below).
psql_admin() {
  PGOPTIONS="-c client_min_messages=warning" \
    as_owner "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$run" -p "$port" -U postgres "$@"
}

# A password file made once, readable by its owner only.
password_in() {
  local file=$1
  if [ ! -s "$file" ]; then
    (umask 077; mkdir -p "$secrets"; head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' > "$file")
  fi
  chmod 700 "$secrets"
  chmod 600 "$file"
  cat "$file"
}

write_hba() {
  # Trust only on the socket, whose directory only the cluster's user can enter;
  # every TCP connection needs its role's password.
  cat <<HBA | as_owner tee "$data/pg_hba.conf" >/dev/null
# gridgis local cluster (written by scripts/pgcluster.sh)
local   all   all                    trust
host    all   all   127.0.0.1/32     scram-sha-256
host    all   all   ::1/128          scram-sha-256
# The hot standby (scripts/replica.sh) streams the WAL as this role only.
host    replication   gridgis_replicator   127.0.0.1/32   scram-sha-256
HBA
}

setup_roles() {
  local app_pw owner_pw replication_pw
  app_pw=$(password_in "$app_password_file")
  owner_pw=$(password_in "$owner_password_file")
  replication_pw=$(password_in "$replication_password_file")
  psql_admin -d postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridgis_owner') THEN
    CREATE ROLE gridgis_owner LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridgis_app') THEN
    CREATE ROLE gridgis_app NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridgis') THEN
    CREATE ROLE gridgis LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridgis_replicator') THEN
    CREATE ROLE gridgis_replicator LOGIN REPLICATION;
  END IF;
END
\$\$;
ALTER ROLE gridgis_owner LOGIN CREATEDB NOSUPERUSER NOCREATEROLE PASSWORD '$owner_pw';
-- The tests drop their throwaway databases WITH (FORCE), ending the app's
-- connections to them: that needs the right to signal other roles' backends.
GRANT pg_signal_backend TO gridgis_owner;
-- Earlier versions of this script made gridgis a superuser: take that back.
ALTER ROLE gridgis LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD '$app_pw';
GRANT gridgis_app TO gridgis;
ALTER ROLE gridgis_replicator LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE
  PASSWORD '$replication_pw';
SQL
  # Every new database (the tests make many) starts with the extensions, which
  # only a superuser may create (PostGIS is not a trusted extension).
  for db in template1 gridgis; do
    if [ "$db" = gridgis ] && ! psql_admin -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'gridgis'" | grep -q 1; then
      psql_admin -d postgres -c "CREATE DATABASE gridgis OWNER gridgis_owner"
    fi
    psql_admin -d "$db" -c "CREATE EXTENSION IF NOT EXISTS postgis" \
      -c "CREATE EXTENSION IF NOT EXISTS pg_trgm" -c "CREATE EXTENSION IF NOT EXISTS btree_gist"
  done
  # A database made by an earlier version belongs to gridgis: hand it to the owner.
  psql_admin -d gridgis <<'SQL'
ALTER DATABASE gridgis OWNER TO gridgis_owner;
REASSIGN OWNED BY gridgis TO gridgis_owner;
SQL
}

case "${1:-}" in
  start)
    # One start at a time: the test runner's workers each make sure the cluster
    # runs, and two role set-ups at once would trip over each other.
    mkdir -p "$top/var"
    exec 9>"$top/var/pgcluster.lock"
    flock 9
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
unix_socket_permissions = 0700
password_encryption = scram-sha-256
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 256MB
max_connections = 200
CONF
    fi
    if ! grep -q "^unix_socket_permissions" "$data/postgresql.conf" 2>/dev/null \
        && as_owner grep -q "gridgis local cluster" "$data/postgresql.conf"; then
      # A cluster made by an earlier version of this script: close its socket too.
      echo "unix_socket_permissions = 0700" | as_owner tee -a "$data/postgresql.conf" >/dev/null
    fi
    as_owner chmod 700 "$run"
    # A cluster whose hba an earlier version wrote has no replication line yet:
    # rewrite it (the rules above are the whole file), keeping the data.
    if ! as_owner grep -q "^host *replication *gridgis_replicator" "$data/pg_hba.conf"; then
      write_hba
      running && as_owner "$bindir/pg_ctl" -D "$data" reload >/dev/null
    fi
    if running; then
      echo "Local PostGIS already running on 127.0.0.1:$port"
    else
      # 9>&-: the server must not inherit the lock, or it would hold it for good.
      if ! as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "-p $port" start \
          >/dev/null 9>&-; then
        echo "The local PostGIS did not start; the end of $log says:" >&2
        tail -n 5 "$log" >&2
        echo "(Port $port taken by another server? Set GRIDGIS_PGPORT to a free port.)" >&2
        exit 1
      fi
      echo "Local PostGIS started on 127.0.0.1:$port (log: $log)"
    fi
    setup_roles
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
    echo "postgresql+psycopg://gridgis:$(password_in "$app_password_file")@127.0.0.1:$port/gridgis"
    ;;
  owner-url)
    echo "postgresql+psycopg://gridgis_owner:$(password_in "$owner_password_file")@127.0.0.1:$port/gridgis"
    ;;
  *)
    echo "usage: $0 start|stop|status|url|owner-url" >&2; exit 2 ;;
esac
