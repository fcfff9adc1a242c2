# Sourced by scripts/pgcluster.sh (the local cluster) and scripts/replica.sh (its
# standby), after they `cd` to the checkout and set $top: where the PostgreSQL
# server binaries are, and how to run them and where to keep their data as root.

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] && command -v pg_ctl >/dev/null; then bindir=$(dirname "$(command -v pg_ctl)"); fi
[ -n "$bindir" ] || { echo "PostgreSQL server binaries not found: run 'make system' first." >&2; exit 1; }

# PostgreSQL refuses to run as root, so as root it runs as the `postgres`
# system user on a directory it owns; anyone else runs it as themself.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# usable_root DIR NAME: the directory to keep a cluster's data in: DIR, or, as root
# when the postgres user cannot enter the checkout (e.g. under /root), a
# postgres-owned /var/tmp/NAME-<checkout hash>, linked from DIR.
usable_root() {
  local dir=$1 name=$2 alt
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$top" 2>/dev/null; then
    alt=/var/tmp/$name-$(printf %s "$top" | md5sum | cut -c1-10)
    mkdir -p "$top/var" "$alt"
    [ -e "$dir" ] || ln -s "$alt" "$dir"
    echo "$alt"
  else
    echo "$dir"
  fi
}
