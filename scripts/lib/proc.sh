# Shared by scripts/kafka.sh and scripts/redis.sh (sourced; each defines
# log).

# await_exit waits up to 10 s for the process pid to exit after it was asked
# to, sends KILL if it has not, and returns once it is gone.
await_exit() {
  local pid=$1 i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "pid $pid still alive after 10s, sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
