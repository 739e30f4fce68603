#!/usr/bin/env bash
# A throwaway PostgreSQL server for the service tests (tests/service/test_postgres.py).
#
#   eval "$(bash .ci/postgres.sh)"       # installs PostgreSQL if missing, starts a cluster in a temp dir,
#                                        # exports OPDSIM_TEST_PG_DSN and stops the cluster when the shell exits
#   bash .ci/postgres.sh stop DIR        # stop and remove a cluster started by this script
#
# The cluster listens on 127.0.0.1 only, on a free port, and runs as the `postgres` user when started by root
# (PostgreSQL refuses to run as root). Everything but the lines to eval goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

as_owner() {  # run a PostgreSQL program as the user owning the cluster
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
    local ctl
    if ctl="$(command -v pg_ctl 2>/dev/null)"; then dirname "$(readlink -f "$ctl")"; return; fi
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ "${1:-}" = stop ]; then
    dir="$2"
    bin="$(bindir)"
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    exit 0
fi

bin="$(bindir)"
if [ -z "$bin" ] || [ ! -x "$bin/pg_ctl" ]; then
    echo "postgres.sh: installing PostgreSQL (apt-get)" >&2
    apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
    bin="$(bindir)"
fi
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
dir="$(mktemp -d /tmp/opdsim-pg.XXXXXX)"
if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >&2 \
    || { cat "$dir/server.log" >&2; exit 1; }
as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres opdsim_test >&2
echo "postgres.sh: PostgreSQL on 127.0.0.1:$port (cluster $dir)" >&2
echo "export OPDSIM_TEST_PG_DSN=postgresql://postgres@127.0.0.1:$port/opdsim_test"
echo "trap 'bash \"$here/postgres.sh\" stop \"$dir\"' EXIT"
