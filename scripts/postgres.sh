#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the console store's tests
# (console/store), from Debian's packages: no Docker, no download. Trust
# authentication on 127.0.0.1 only, no Unix socket, fsync off: for tests,
# never for data anyone wants to keep.
#
#   scripts/postgres.sh start    initdb a fresh cluster in a temp dir, start
#                                it, create the database xunjian_test; no-op
#                                if already running
#   scripts/postgres.sh stop     stop the cluster (fast shutdown) and remove
#                                its data dir
#   scripts/postgres.sh status   exit 0 and print the pid if running, else
#                                exit 1
#   scripts/postgres.sh env      print XUNJIAN_TEST_POSTGRES=<dsn> for
#                                eval/export
#
# Environment:
#   PG_PORT      TCP port on 127.0.0.1 (default 55432)
#   PG_BIN       directory of initdb, pg_ctl, postgres and createdb (default:
#                where the pg_ctl on PATH really lives, else the newest
#                /usr/lib/postgresql/<version>/bin; on Debian,
#                `apt-get install postgresql` provides them)
#   PG_RUN_DIR   where the data-dir path is kept (default
#                ${TMPDIR:-/tmp}/xunjian-postgres-<port>), so clusters on
#                different ports can run side by side
#
# initdb and postgres refuse to run as root. Run as root, the script runs
# them as the user postgres if it exists, else as nobody, and gives that
# user the data dir; run as anyone else, as that user.
#
# Typical use:
#   scripts/postgres.sh start && eval "export $(scripts/postgres.sh env)" &&
#     go test -count=1 ./console/...; scripts/postgres.sh stop
set -euo pipefail

HOST=127.0.0.1
PORT=${PG_PORT:-55432}
DB=xunjian_test
SUPERUSER=postgres
RUN_DIR=${PG_RUN_DIR:-${TMPDIR:-/tmp}/xunjian-postgres-${PORT}}
DATA_FILE=$RUN_DIR/datadir
START_TIMEOUT=60

log() { echo "postgres.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# find_bin prints the directory holding the server binaries.
find_bin() {
  if [ -n "${PG_BIN:-}" ]; then
    [ -x "$PG_BIN/initdb" ] || die "PG_BIN=$PG_BIN has no initdb"
    echo "$PG_BIN"
    return 0
  fi
  local ctl dir
  if ctl=$(command -v pg_ctl 2>/dev/null); then
    # Debian links only some tools into PATH: follow pg_ctl to the real
    # directory, which has initdb and postgres beside it.
    dir=$(dirname "$(readlink -f "$ctl")")
    if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return 0
    fi
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] ||
    die "PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BIN)"
  echo "$dir"
}

# RUN_AS is the user that runs initdb and postgres: empty for the current
# user, who must not be root.
RUN_AS=""
if [ "$(id -u)" -eq 0 ]; then
  if id postgres >/dev/null 2>&1; then RUN_AS=postgres; else RUN_AS=nobody; fi
fi

# as_server runs a command as RUN_AS, from / (the caller's directory may be
# closed to that user).
as_server() {
  if [ -z "$RUN_AS" ]; then
    (cd / && "$@")
  elif command -v runuser >/dev/null; then
    (cd / && runuser -u "$RUN_AS" -- "$@")
  else
    local q
    q=$(printf '%q ' "$@")
    (cd / && su -s /bin/sh "$RUN_AS" -c "$q")
  fi
}

# data_dir prints the recorded data dir, if any.
data_dir() {
  [ -f "$DATA_FILE" ] && cat "$DATA_FILE"
}

# running prints the postmaster pid and succeeds if the recorded cluster's
# postmaster is alive.
running() {
  local data pid
  data=$(data_dir) || return 1
  [ -f "$data/pg/postmaster.pid" ] || return 1
  pid=$(head -n 1 "$data/pg/postmaster.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# port_open succeeds if something accepts TCP connections on HOST:$1.
port_open() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

dsn() {
  echo "postgres://${SUPERUSER}@${HOST}:${PORT}/${DB}?sslmode=disable"
}

cmd_start() {
  local pid bin data started
  if pid=$(running); then
    log "already running (pid $pid) on $HOST:$PORT"
    return 0
  fi
  bin=$(find_bin)
  # A stale record from a crashed run: clean up its data dir first.
  cleanup_state
  port_open "$PORT" && die "$HOST:$PORT is already in use by another process"

  mkdir -p "$RUN_DIR"
  data=$(mktemp -d "${TMPDIR:-/tmp}/xunjian-postgres-data.XXXXXX")
  echo "$data" >"$DATA_FILE"
  if [ -n "$RUN_AS" ]; then
    chown "$RUN_AS" "$data"
    as_server test -w "$data" ||
      die "$RUN_AS cannot write $data (is ${TMPDIR:-/tmp} closed to it? set TMPDIR)"
  fi

  started=$SECONDS
  if ! as_server "$bin/initdb" -D "$data/pg" -U "$SUPERUSER" --auth=trust \
      --encoding=UTF8 --locale=C --no-instructions >"$data/initdb.log" 2>&1; then
    cat "$data/initdb.log" >&2
    die "initdb in $data/pg failed"
  fi
  # TCP on 127.0.0.1 only, no Unix socket, durability off (a test cluster).
  as_server sh -c "cat >>'$data/pg/postgresql.conf'" <<EOF
# Added by scripts/postgres.sh for one test run; removed by 'postgres.sh stop'.
listen_addresses = '${HOST}'
port = ${PORT}
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
EOF
  as_server sh -c "cat >'$data/pg/pg_hba.conf'" <<EOF
# Written by scripts/postgres.sh: trust, from this machine only.
host all all 127.0.0.1/32 trust
EOF

  if ! as_server "$bin/pg_ctl" -D "$data/pg" -l "$data/pg/server.log" -w -t "$START_TIMEOUT" start >"$data/pg_ctl.log" 2>&1; then
    cat "$data/pg_ctl.log" >&2
    [ -f "$data/pg/server.log" ] && tail -n 40 "$data/pg/server.log" >&2
    die "PostgreSQL did not start (data dir $data)"
  fi
  if ! "$bin/createdb" -h "$HOST" -p "$PORT" -U "$SUPERUSER" "$DB" >"$data/createdb.log" 2>&1; then
    cat "$data/createdb.log" >&2
    die "createdb $DB failed"
  fi
  pid=$(running) || die "PostgreSQL started but its pid is not readable (data dir $data)"
  log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') up on $HOST:$PORT in $((SECONDS - started))s (pid $pid, user ${RUN_AS:-$(id -un)}, data dir $data, database $DB)"
}

# cleanup_state removes the recorded data dir and the record.
cleanup_state() {
  local data
  if data=$(data_dir); then
    # Only ever remove a directory this script created.
    case "$data" in
      */xunjian-postgres-data.*) rm -rf -- "$data" ;;
    esac
  fi
  rm -f "$DATA_FILE"
  rmdir "$RUN_DIR" 2>/dev/null || true
}

cmd_stop() {
  local pid data
  if pid=$(running); then
    data=$(data_dir)
    if ! as_server "$(find_bin)/pg_ctl" -D "$data/pg" -m fast -w -t 30 stop >/dev/null 2>&1; then
      log "pg_ctl stop failed; sending KILL to pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    log "stopped (pid $pid)"
  else
    log "not running"
  fi
  cleanup_state
}

cmd_status() {
  local pid
  if pid=$(running); then
    echo "running pid=$pid address=$HOST:$PORT database=$DB data=$(data_dir)"
  else
    echo "not running"
    return 1
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) echo "XUNJIAN_TEST_POSTGRES=$(dsn)" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
