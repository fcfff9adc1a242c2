#!/usr/bin/env bash
# A hot standby of the project-local cluster (scripts/pgcluster.sh), on the
# same machine: a base backup of the primary (pg_basebackup -R) under
# var/pg-replica, streaming its WAL and answering read-only queries, on
# 127.0.0.1:$GRIDGIS_REPLICA_PGPORT (default: the primary's port + 100).
#
#   scripts/replica.sh start | stop | status | url | pause | resume
#
# pause/resume stop and restart the replay of the primary's WAL on the standby
# (it keeps receiving it): the way to see what the app does with a standby
# that is behind (docs/deployment.md, "Read replica").
# `start` prints the GRIDGIS_READ_DATABASE_URL to set: the app's role and
# password work on the standby too, since roles replicate with everything
# else. The standby streams as gridgis_replicator, a role that may only read
# the WAL, whose password pgcluster.sh generated into var/secrets/.
#
# No replication slot: a slot would make the primary keep every WAL segment
# for as long as the standby is stopped, filling the disk of a machine where
# someone ran `make replica` once and forgot it. A standby stopped so long that
# the primary has recycled the WAL it needs says so in its log; remove
# var/pg-replica and start again (a fresh base backup).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
primary_port=${GRIDGIS_PGPORT:-55432}
port=${GRIDGIS_REPLICA_PGPORT:-$((primary_port + 100))}
root=$top/var/pg-replica
secrets=$top/var/secrets

# The binaries, as_owner (as root: the `postgres` user) and usable_root, as for the primary.
source "$top/scripts/pg-common.sh"
root=$(usable_root "$root" gridgis-pg-replica)
data=$root/data
run=$root/run
log=$root/postgres.log
passfile=$root/pgpass

running() { [ -f "$data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }

# The standby's own superuser session, over its socket (a hot standby answers reads only).
psql_standby() {
  as_owner "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$run" -p "$port" -U postgres -d postgres "$@"
}

secret() {
  local file=$secrets/$1
  [ -s "$file" ] || {
    echo "No $file: start the primary first with 'make db' (it makes the roles' passwords)." >&2
    exit 1
  }
  cat "$file"
}

url() {
  echo "postgresql+psycopg://gridgis:$(secret db-app.password)@127.0.0.1:$port/gridgis"
}

base_backup() {
  echo "Copying the primary (127.0.0.1:$primary_port) into $data with pg_basebackup"
  # The replication password in a passfile of the standby's user, never on a
  # command line (ps shows those); -R writes primary_conninfo naming the file.
  (umask 077; printf '127.0.0.1:%s:replication:gridgis_replicator:%s\n' \
    "$primary_port" "$(secret db-replication.password)" > "$passfile")
  [ "$(id -u)" = 0 ] && chown postgres: "$passfile"
  # Into a scratch directory first: a copy cut short must not look like a standby.
  as_owner rm -rf "$data.partial"
  if ! as_owner "$bindir/pg_basebackup" -D "$data.partial" -R -X stream -c fast \
      -d "host=127.0.0.1 port=$primary_port user=gridgis_replicator passfile=$passfile" \
      2> >(tail -n 5 >&2); then
    echo "pg_basebackup failed. Is the primary running ('make db') and its pg_hba.conf" >&2
    echo "up to date ('scripts/pgcluster.sh start' adds the replication line)?" >&2
    exit 1
  fi
  # The copy carries the primary's settings: give the standby its own port and
  # socket. hot_standby_feedback: without it, a long read (a report, a big
  # batch) is cancelled when the primary's vacuum removes rows it still sees.
  cat <<CONF | as_owner tee -a "$data.partial/postgresql.conf" >/dev/null
# gridgis hot standby (written by scripts/replica.sh)
port = $port
unix_socket_directories = '$run'
hot_standby = on
hot_standby_feedback = on
CONF
  as_owner mv "$data.partial" "$data"
}

case "${1:-}" in
  start)
    mkdir -p "$top/var"
    exec 9>"$top/var/replica.lock"
    flock 9
    if ! scripts/pgcluster.sh status >/dev/null 2>&1; then
      echo "The primary is not running: start it first with 'make db'." >&2
      exit 1
    fi
    mkdir -p "$root"
    [ "$(id -u)" = 0 ] && chown postgres: "$root"
    as_owner mkdir -p "$run"
    as_owner chmod 700 "$run"
    [ -f "$data/PG_VERSION" ] || base_backup
    if running; then
      echo "Hot standby already running on 127.0.0.1:$port"
    else
      if ! as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "-p $port" start \
          >/dev/null 9>&-; then
        echo "The hot standby did not start; the end of $log says:" >&2
        tail -n 5 "$log" >&2
        echo "(Port $port taken? Set GRIDGIS_REPLICA_PGPORT to a free port.)" >&2
        exit 1
      fi
      echo "Hot standby started on 127.0.0.1:$port (log: $log)"
    fi
    # Streaming, not merely up: wait for the WAL receiver to connect (a few seconds at most).
    for _ in $(seq 100); do
      state=$(psql_standby -tAc "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null || true)
      [ "$state" = streaming ] && break
      sleep 0.1
    done
    if [ "$state" != streaming ]; then
      echo "The standby runs but does not stream from the primary; see $log." >&2
      exit 1
    fi
    echo "Streaming from 127.0.0.1:$primary_port. Reads go to it when the app has:"
    echo "  export GRIDGIS_READ_DATABASE_URL='$(url)'"
    ;;
  stop)
    if running; then
      as_owner "$bindir/pg_ctl" -D "$data" -w -m fast stop >/dev/null
      echo "Hot standby stopped"
    else
      echo "Hot standby is not running"
    fi
    ;;
  status)
    if ! running; then echo "not running"; exit 3; fi
    psql_standby -tAc "SELECT 'running on 127.0.0.1:$port, ' ||
      coalesce((SELECT status FROM pg_stat_wal_receiver), 'not streaming') ||
      CASE WHEN pg_is_wal_replay_paused() THEN ', replay paused' ELSE '' END ||
      ', last replayed commit ' || coalesce(round(extract(epoch FROM now() - pg_last_xact_replay_timestamp()))::text || ' s old', 'none yet')"
    ;;
  url)
    url
    ;;
  pause | resume)
    running || { echo "The hot standby is not running: start it with 'make replica'." >&2; exit 1; }
    psql_standby -tAc "SELECT pg_wal_replay_$1()" >/dev/null
    echo "Replay ${1}d on the hot standby (127.0.0.1:$port)"
    ;;
  *)
    echo "usage: $0 start|stop|status|url|pause|resume" >&2; exit 2 ;;
esac
