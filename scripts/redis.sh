#!/usr/bin/env bash
# A throwaway Redis server for the shared-state tests (gateway/internal/
# redisstate and the multi-instance test), from Debian's redis-server
# package: no Docker, no download. Loopback only, no password (protected
# mode on), no persistence (no RDB, no AOF), its files in a temp dir: for
# tests, never for data anyone wants to keep. Valkey's server takes the
# same configuration (REDIS_SERVER=valkey-server).
#
#   scripts/redis.sh start    start a fresh server, wait until it answers
#                             PING; no-op if already running
#   scripts/redis.sh stop     stop it (SHUTDOWN NOSAVE, KILL after 10 s) and
#                             remove its temp dir
#   scripts/redis.sh status   exit 0 and print the pid if running, else exit 1
#   scripts/redis.sh env      print XUNJIAN_TEST_REDIS=host:port for
#                             eval/export
#
# And a throwaway Redis Cluster of three primaries (no replicas), for the
# same tests in cluster mode (shared_state.cluster):
#
#   scripts/redis.sh cluster-start   start three redis-server processes
#                                    with cluster-enabled yes, join them
#                                    (redis-cli --cluster create, slots
#                                    spread over the three), wait until
#                                    every node says cluster_state:ok;
#                                    no-op if already running
#   scripts/redis.sh cluster-stop    stop them and remove their temp dir
#   scripts/redis.sh cluster-status  exit 0 and print the pids if running
#   scripts/redis.sh cluster-env     print XUNJIAN_TEST_REDIS_CLUSTER=
#                                    host:port,host:port,host:port
#
# Environment:
#   REDIS_PORT     TCP port on 127.0.0.1 (default 56379)
#   REDIS_SERVER   the server binary (default redis-server on PATH;
#                  `apt-get install redis-server` provides it)
#   REDIS_RUN_DIR  where the pid and temp-dir path are kept (default
#                  ${TMPDIR:-/tmp}/xunjian-redis-<port>), so servers on
#                  different ports can run side by side
#   REDIS_CLUSTER_PORT  the cluster's first node's port; the others take
#                  the next two (default 57001: 57001-57003). Each node's
#                  cluster bus is on its port + 100 (57101-57103)
#   REDIS_CLI      the client the cluster is joined with (default redis-cli
#                  on PATH; `apt-get install redis-tools` provides it)
#   REDIS_CLUSTER_RUN_DIR  as REDIS_RUN_DIR, for the cluster (default
#                  ${TMPDIR:-/tmp}/xunjian-redis-cluster-<first port>)
#
# Redis runs as whoever starts it, root included.
#
# Typical use:
#   scripts/redis.sh start && eval "export $(scripts/redis.sh env)" &&
#     go test -count=1 ./gateway/internal/redisstate/; scripts/redis.sh stop
#   scripts/redis.sh cluster-start &&
#     eval "export $(scripts/redis.sh cluster-env)" && go test -count=1 \
#     ./gateway/internal/redisstate/; scripts/redis.sh cluster-stop
set -euo pipefail

HOST=127.0.0.1
PORT=${REDIS_PORT:-56379}
SERVER=${REDIS_SERVER:-redis-server}
RUN_DIR=${REDIS_RUN_DIR:-${TMPDIR:-/tmp}/xunjian-redis-${PORT}}
PID_FILE=$RUN_DIR/redis.pid
DATA_FILE=$RUN_DIR/datadir
START_TIMEOUT=30
CLUSTER_PORT=${REDIS_CLUSTER_PORT:-57001}
CLUSTER_PORTS=("$CLUSTER_PORT" "$((CLUSTER_PORT + 1))" "$((CLUSTER_PORT + 2))")
CLUSTER_BUS_OFFSET=100
CLI=${REDIS_CLI:-redis-cli}
CLUSTER_RUN_DIR=${REDIS_CLUSTER_RUN_DIR:-${TMPDIR:-/tmp}/xunjian-redis-cluster-${CLUSTER_PORT}}
CLUSTER_DATA_FILE=$CLUSTER_RUN_DIR/datadir

log() { echo "redis.sh: $*" >&2; }
die() { log "$*"; exit 1; }
# shellcheck source=lib/proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/proc.sh"

# running prints the server pid and succeeds if the recorded process is alive.
running() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# port_open succeeds if something accepts TCP connections on HOST:$1.
port_open() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# pong succeeds if the server on ${1:-PORT} answers PING with PONG
# (without redis-cli: RESP by hand over bash's /dev/tcp).
pong() {
  local reply
  reply=$({ exec 3<>"/dev/tcp/$HOST/${1:-$PORT}" && printf 'PING\r\n' >&3 && timeout 1 head -c 7 <&3; } 2>/dev/null) || return 1
  [ "${reply%$'\r'*}" = "+PONG" ]
}

# await_node waits until the server of pid answers PING on port, or dies
# with the tail of its logs in dir when it exits or START_TIMEOUT (counted
# from $started) passes.
await_node() {
  local port=$1 pid=$2 dir=$3
  until pong "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$dir/redis.log" "$dir/stdout.log" >&2 2>/dev/null || true
      die "redis-server on $HOST:$port exited during startup (temp dir $dir)"
    fi
    if ((SECONDS - started >= START_TIMEOUT)); then
      tail -n 40 "$dir/redis.log" >&2 2>/dev/null || true
      die "redis-server did not answer on $HOST:$port within ${START_TIMEOUT}s (pid $pid)"
    fi
    sleep 0.05
  done
}

# shutdown_node stops the server of pid on port: SHUTDOWN NOSAVE over RESP,
# TERM if that fails, KILL after 10 s; it returns once the process is gone.
shutdown_node() {
  local port=$1 pid=$2
  ({ exec 3<>"/dev/tcp/$HOST/$port" && printf 'SHUTDOWN NOSAVE\r\n' >&3; } 2>/dev/null) || kill -TERM "$pid" 2>/dev/null || true
  await_exit "$pid"
}

cmd_start() {
  local pid data started
  if pid=$(running); then
    log "already running (pid $pid) on $HOST:$PORT"
    return 0
  fi
  command -v "$SERVER" >/dev/null || die "$SERVER not found (apt-get install redis-server, or set REDIS_SERVER)"
  # A stale record from a crashed run: clean up its temp dir first.
  cleanup_state
  port_open "$PORT" && die "$HOST:$PORT is already in use by another process"

  mkdir -p "$RUN_DIR"
  data=$(mktemp -d "${TMPDIR:-/tmp}/xunjian-redis-data.XXXXXX")
  echo "$data" >"$DATA_FILE"
  cat >"$data/redis.conf" <<EOF
# Written by scripts/redis.sh for one test run; removed by 'redis.sh stop'.
bind ${HOST}
port ${PORT}
protected-mode yes
daemonize no
dir ${data}
logfile ${data}/redis.log
save ""
appendonly no
unixsocket ""
databases 16
EOF
  started=$SECONDS
  nohup "$SERVER" "$data/redis.conf" >"$data/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_FILE"
  await_node "$PORT" "$pid" "$data"
  log "$("$SERVER" --version | awk '{print $1, $3}') up on $HOST:$PORT in $((SECONDS - started))s (pid $pid, user $(id -un), temp dir $data)"
}

# cleanup_state removes the recorded temp dir and the pid/data files.
cleanup_state() {
  if [ -f "$DATA_FILE" ]; then
    local data
    data=$(cat "$DATA_FILE")
    # Only ever remove a directory this script created.
    case "$data" in
      */xunjian-redis-data.*) rm -rf -- "$data" ;;
    esac
  fi
  rm -f "$PID_FILE" "$DATA_FILE"
  rmdir "$RUN_DIR" 2>/dev/null || true
}

cmd_stop() {
  local pid
  if pid=$(running); then
    shutdown_node "$PORT" "$pid"
    log "stopped (pid $pid)"
  else
    log "not running"
  fi
  cleanup_state
}

cmd_status() {
  local pid
  if pid=$(running); then
    echo "running pid=$pid address=$HOST:$PORT data=$(cat "$DATA_FILE" 2>/dev/null)"
  else
    echo "not running"
    return 1
  fi
}

# cluster_running prints the cluster's pids and succeeds if all three
# recorded processes are alive.
cluster_running() {
  local port pid pids=()
  for port in "${CLUSTER_PORTS[@]}"; do
    [ -f "$CLUSTER_RUN_DIR/redis-$port.pid" ] || return 1
    pid=$(cat "$CLUSTER_RUN_DIR/redis-$port.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    pids+=("$pid")
  done
  echo "${pids[*]}"
}

# cluster_ok succeeds if every node says cluster_state:ok.
cluster_ok() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    "$CLI" -h "$HOST" -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

# cluster_addrs prints the nodes' host:port, comma-separated.
cluster_addrs() {
  local IFS=,
  echo "${CLUSTER_PORTS[*]/#/$HOST:}"
}

cmd_cluster_start() {
  local pids data port started
  if pids=$(cluster_running); then
    log "cluster already running (pids $pids) on $(cluster_addrs)"
    return 0
  fi
  command -v "$SERVER" >/dev/null || die "$SERVER not found (apt-get install redis-server, or set REDIS_SERVER)"
  command -v "$CLI" >/dev/null || die "$CLI not found (apt-get install redis-tools, or set REDIS_CLI)"
  # What a crashed run left (a stale record, some of the nodes): stopped
  # and cleaned up first.
  cmd_cluster_stop >/dev/null 2>&1
  for port in "${CLUSTER_PORTS[@]}"; do
    port_open "$port" && die "$HOST:$port is already in use by another process"
    port_open "$((port + CLUSTER_BUS_OFFSET))" && die "$HOST:$((port + CLUSTER_BUS_OFFSET)) (cluster bus) is already in use by another process"
  done

  mkdir -p "$CLUSTER_RUN_DIR"
  data=$(mktemp -d "${TMPDIR:-/tmp}/xunjian-redis-data.XXXXXX")
  echo "$data" >"$CLUSTER_DATA_FILE"
  started=$SECONDS
  for port in "${CLUSTER_PORTS[@]}"; do
    mkdir -p "$data/$port"
    cat >"$data/$port/redis.conf" <<EOF
# Written by scripts/redis.sh for one test run; removed by 'redis.sh cluster-stop'.
bind ${HOST}
port ${port}
protected-mode yes
daemonize no
dir ${data}/${port}
logfile ${data}/${port}/redis.log
save ""
appendonly no
unixsocket ""
cluster-enabled yes
cluster-config-file nodes.conf
cluster-port $((port + CLUSTER_BUS_OFFSET))
cluster-node-timeout 5000
EOF
    nohup "$SERVER" "$data/$port/redis.conf" >"$data/$port/stdout.log" 2>&1 </dev/null &
    echo "$!" >"$CLUSTER_RUN_DIR/redis-$port.pid"
  done
  for port in "${CLUSTER_PORTS[@]}"; do
    await_node "$port" "$(cat "$CLUSTER_RUN_DIR/redis-$port.pid")" "$data/$port"
  done
  "$CLI" --cluster create "${CLUSTER_PORTS[@]/#/$HOST:}" --cluster-replicas 0 --cluster-yes >"$data/create.log" 2>&1 ||
    { cat "$data/create.log" >&2; die "redis-cli --cluster create failed (temp dir $data)"; }
  until cluster_ok; do
    if ((SECONDS - started >= START_TIMEOUT)); then
      for port in "${CLUSTER_PORTS[@]}"; do "$CLI" -h "$HOST" -p "$port" cluster info >&2 2>&1 || true; done
      die "the cluster on $(cluster_addrs) did not say cluster_state:ok within ${START_TIMEOUT}s (temp dir $data)"
    fi
    sleep 0.1
  done
  log "cluster of $("$SERVER" --version | awk '{print $1, $3}') up on $(cluster_addrs) in $((SECONDS - started))s (pids $(cluster_running), user $(id -un), temp dir $data)"
}

cmd_cluster_stop() {
  local port pid data stopped=0
  for port in "${CLUSTER_PORTS[@]}"; do
    [ -f "$CLUSTER_RUN_DIR/redis-$port.pid" ] || continue
    pid=$(cat "$CLUSTER_RUN_DIR/redis-$port.pid" 2>/dev/null) || continue
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || continue
    shutdown_node "$port" "$pid"
    stopped=$((stopped + 1))
  done
  if ((stopped > 0)); then log "cluster stopped ($stopped nodes)"; else log "cluster not running"; fi
  if [ -f "$CLUSTER_DATA_FILE" ]; then
    data=$(cat "$CLUSTER_DATA_FILE")
    # Only ever remove a directory this script created.
    case "$data" in
      */xunjian-redis-data.*) rm -rf -- "$data" ;;
    esac
  fi
  rm -f "$CLUSTER_DATA_FILE" "$CLUSTER_RUN_DIR"/redis-*.pid
  rmdir "$CLUSTER_RUN_DIR" 2>/dev/null || true
}

cmd_cluster_status() {
  local pids
  if pids=$(cluster_running); then
    echo "running pids=$pids addresses=$(cluster_addrs) data=$(cat "$CLUSTER_DATA_FILE" 2>/dev/null)"
  else
    echo "not running"
    return 1
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) echo "XUNJIAN_TEST_REDIS=$HOST:$PORT" ;;
  cluster-start) cmd_cluster_start ;;
  cluster-stop) cmd_cluster_stop ;;
  cluster-status) cmd_cluster_status ;;
  cluster-env) echo "XUNJIAN_TEST_REDIS_CLUSTER=$(cluster_addrs)" ;;
  *) echo "usage: $0 start|stop|status|env|cluster-start|cluster-stop|cluster-status|cluster-env" >&2; exit 2 ;;
esac
