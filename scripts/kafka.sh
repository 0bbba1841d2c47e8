#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, combined broker+controller)
# for the integration tests, fetched with Maven from Maven Central: no Docker,
# no Kafka tarball, only a JDK (17+) and Maven.
#
#   scripts/kafka.sh start    fetch jars (first run only), format a fresh data
#                             dir, start the broker, wait until it accepts
#                             connections; no-op if already running
#   scripts/kafka.sh stop     stop the broker (TERM, KILL after 10 s) and
#                             remove its data dir
#   scripts/kafka.sh pause    stop the broker but keep its data dir (an outage)
#   scripts/kafka.sh resume   start a paused broker again on the same data
#   scripts/kafka.sh status   exit 0 and print the pid if running, else exit 1
#   scripts/kafka.sh env      print KAFKA_BROKERS=host:port for eval/export and,
#                             while a broker with the secure listener runs,
#                             KAFKA_SCRAM_BROKERS, KAFKA_SCRAM_USER,
#                             KAFKA_SCRAM_PASSWORD, KAFKA_CA_FILE and
#                             KAFKA_CA_KEY_FILE
#
# Two client listeners: PLAINTEXT on KAFKA_PORT (what most tests use), and
# SASL_SSL on KAFKA_SCRAM_PORT: TLS with a certificate for 127.0.0.1 and
# localhost signed by a CA made at start (openssl, into the data dir; its
# certificate is KAFKA_CA_FILE), and SASL with SCRAM-SHA-512, SCRAM-SHA-256
# and PLAIN for the user KAFKA_SCRAM_USER, whose password is random per start
# (set at format time: the SCRAM credentials live in the cluster metadata).
# The listener requests a client certificate (ssl.client.auth=requested): a
# client may present none, but one it presents must be signed by the same
# CA, whose key (KAFKA_CA_KEY_FILE) lets the tests issue client
# certificates.
# Without openssl the broker starts with the PLAINTEXT listener only, and
# `env` prints KAFKA_BROKERS only.
#
# Environment:
#   KAFKA_PORT             client listener port (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default 9093)
#   KAFKA_SCRAM_PORT       SASL_SSL listener port (default KAFKA_PORT + 2)
#   KAFKA_SCRAM_USER       the SASL user made at start (default xunjian)
#   KAFKA_HEAP_OPTS        JVM heap flags (default -Xms128m -Xmx512m)
#   XUNJIAN_CACHE          jar cache root (default $HOME/.cache/xunjian); the
#                          jars live in $XUNJIAN_CACHE/kafka-<version>/libs
#   KAFKA_RUN_DIR          where the pid and data-dir path are kept (default
#                          ${TMPDIR:-/tmp}/xunjian-kafka-<port>), so brokers on
#                          different ports can run side by side
#
# Typical use:
#   scripts/kafka.sh start && KAFKA_BROKERS=127.0.0.1:9092 \
#     go test -tags kafka -count=1 ./gateway/stream/kafkatest/; scripts/kafka.sh stop
# or, with the secure listener's variables too:
#   scripts/kafka.sh start && set -a && eval "$(scripts/kafka.sh env)" && set +a &&
#     go test -tags kafka -count=1 ./gateway/stream/kafkatest/; scripts/kafka.sh stop
set -euo pipefail

# Pinned: the newest 4.1.x on Maven Central when this script was written.
KAFKA_VERSION=4.1.2
# Kafka's published POM has no logging backend; Kafka logs through SLF4J 1.7,
# so the binding is log4j-slf4j-impl (not log4j-slf4j2-impl).
LOG4J_VERSION=2.24.3
DEPENDENCY_PLUGIN_VERSION=3.8.1

HOST=127.0.0.1
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
SCRAM_PORT=${KAFKA_SCRAM_PORT:-$((PORT + 2))}
SCRAM_USER=${KAFKA_SCRAM_USER:-xunjian}
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
CACHE_DIR=${XUNJIAN_CACHE:-$HOME/.cache/xunjian}/kafka-${KAFKA_VERSION}
LIBS=$CACHE_DIR/libs
MARKER=$LIBS/.complete
RUN_DIR=${KAFKA_RUN_DIR:-${TMPDIR:-/tmp}/xunjian-kafka-${PORT}}
PID_FILE=$RUN_DIR/kafka.pid
DATA_FILE=$RUN_DIR/datadir
START_TIMEOUT=60

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }
# shellcheck source=lib/proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/proc.sh"

# running prints the broker pid and succeeds if the recorded process is alive.
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

# all_open succeeds if every port given accepts TCP connections on HOST.
all_open() {
  local p
  for p in "$@"; do port_open "$p" || return 1; done
}

# fetch_jars copies kafka_2.13 and its runtime dependencies plus the log4j2
# backend into $LIBS, once per machine; the marker is written only after a
# complete copy, so an interrupted fetch is redone.
fetch_jars() {
  [ -f "$MARKER" ] && return 0
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch Kafka ${KAFKA_VERSION})"
  mkdir -p "$CACHE_DIR"
  # Serialise concurrent first starts (parallel test runs) on the same cache.
  exec 8>"$CACHE_DIR/.lock"
  flock 8
  if [ -f "$MARKER" ]; then exec 8>&-; return 0; fi

  log "fetching org.apache.kafka:kafka_2.13:${KAFKA_VERSION} with Maven into $LIBS (first run only)"
  cat >"$CACHE_DIR/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/kafka.sh: only used to fetch the broker's jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>xunjian.local</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-api</artifactId>
      <version>${LOG4J_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>${LOG4J_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>${LOG4J_VERSION}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>${DEPENDENCY_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
  rm -rf "$LIBS.partial"
  if ! mvn -B -q -f "$CACHE_DIR/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$LIBS.partial" >"$CACHE_DIR/mvn.log" 2>&1; then
    tail -n 40 "$CACHE_DIR/mvn.log" >&2
    die "mvn dependency:copy-dependencies failed (full log: $CACHE_DIR/mvn.log)"
  fi
  ls "$LIBS.partial"/kafka_2.13-"${KAFKA_VERSION}".jar >/dev/null 2>&1 ||
    die "Maven finished but kafka_2.13-${KAFKA_VERSION}.jar is missing from $LIBS.partial"
  rm -rf "$LIBS"
  mv "$LIBS.partial" "$LIBS"
  date -u +%FT%TZ >"$MARKER"
  exec 8>&-
  log "cached $(ls "$LIBS"/*.jar | wc -l) jars in $LIBS"
}

# cluster_id prints a random Kafka Uuid: 16 random bytes, base64url, no padding
# (what `kafka.tools.StorageTool random-uuid` prints, without a JVM start).
cluster_id() {
  head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

# secure_enabled succeeds if the data dir $1 has the SASL_SSL listener's
# files (make_secure made them).
secure_enabled() {
  [ -f "$1/sasl/password" ] && [ -f "$1/sasl/brokers" ] && [ -f "$1/tls/ca.pem" ]
}

# make_secure writes into the data dir $1 what the SASL_SSL listener needs: a
# CA (tls/ca.pem, the tests' KAFKA_CA_FILE), the broker's key and certificate
# for 127.0.0.1 and localhost signed by it (tls/broker.pem, a PEM keystore:
# the PKCS#8 key, then the certificate), and the SASL user's name, random
# password and listener address (sasl/). It fails without openssl, leaving
# no sasl/ behind.
make_secure() {
  local data=$1
  local tls=$data/tls sasl=$data/sasl
  command -v openssl >/dev/null || { log "openssl not found: no SASL_SSL listener (the PLAINTEXT one only)"; return 1; }
  mkdir -m 700 -p "$tls"
  if ! {
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -days 7 \
      -subj "/CN=xunjian test Kafka CA" -keyout "$tls/ca.key" -out "$tls/ca.pem" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc \
      -subj "/CN=localhost" -keyout "$tls/broker.key" -out "$tls/broker.csr" &&
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' >"$tls/broker.ext" &&
    openssl x509 -req -in "$tls/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
      -set_serial "0x$(openssl rand -hex 16)" -days 7 -extfile "$tls/broker.ext" -out "$tls/broker.crt" &&
    cat "$tls/broker.key" "$tls/broker.crt" >"$tls/broker.pem"
  } >"$tls/openssl.log" 2>&1; then
    cat "$tls/openssl.log" >&2
    log "making the test CA and the broker's certificate failed: no SASL_SSL listener"
    return 1
  fi
  mkdir -m 700 -p "$sasl"
  echo "$SCRAM_USER" >"$sasl/user"
  echo "$HOST:$SCRAM_PORT" >"$sasl/brokers"
  (umask 077; openssl rand -hex 24 >"$sasl/password")
}

write_config() {
  local data=$1
  local listeners="PLAINTEXT://${HOST}:${PORT}" protocols="PLAINTEXT:PLAINTEXT"
  if secure_enabled "$data"; then
    listeners+=",SASL_SSL://${HOST}:${SCRAM_PORT}"
    protocols+=",SASL_SSL:SASL_SSL"
  fi
  cat >"$data/server.properties" <<EOF
# Generated by scripts/kafka.sh for one test run; removed by 'kafka.sh stop'.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${CONTROLLER_PORT}
listeners=${listeners},CONTROLLER://${HOST}:${CONTROLLER_PORT}
advertised.listeners=${listeners}
listener.security.protocol.map=${protocols},CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${data}/logs
num.partitions=3
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
  if secure_enabled "$data"; then
    # The SCRAM users are in the cluster metadata (formatted with
    # --add-scram); PLAIN's user is listed here. No authorizer: an
    # authenticated user may do anything, as on the PLAINTEXT listener.
    cat >>"$data/server.properties" <<EOF
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${SCRAM_USER}="$(cat "$data/sasl/password")";
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=${data}/tls/broker.pem
listener.name.sasl_ssl.ssl.enabled.protocols=TLSv1.3,TLSv1.2
listener.name.sasl_ssl.ssl.client.auth=requested
listener.name.sasl_ssl.ssl.truststore.type=PEM
listener.name.sasl_ssl.ssl.truststore.location=${data}/tls/ca.pem
EOF
  fi
  # WARN and above to a file in the data dir; nothing on the console.
  cat >"$data/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="file" fileName="${data}/kafka.log">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
EOF
}

show_logs() {
  local data=$1 f
  for f in "$data/kafka.log" "$data/stdout.log"; do
    [ -s "$f" ] || continue
    echo "---- tail of $f" >&2
    tail -n 40 "$f" >&2
  done
}

cmd_start() {
  local pid
  if pid=$(running); then
    log "already running (pid $pid) on $HOST:$PORT"
    return 0
  fi
  command -v java >/dev/null || die "java not found (Kafka ${KAFKA_VERSION} needs a JDK 17+)"
  # A stale pid file from a crashed run: clean up its data dir first.
  cleanup_state
  port_open "$PORT" && die "$HOST:$PORT is already in use by another process"
  port_open "$CONTROLLER_PORT" && die "$HOST:$CONTROLLER_PORT is already in use by another process"
  if [ "$SCRAM_PORT" = "$PORT" ] || [ "$SCRAM_PORT" = "$CONTROLLER_PORT" ]; then
    die "KAFKA_SCRAM_PORT $SCRAM_PORT must differ from the client and controller ports"
  fi
  port_open "$SCRAM_PORT" && die "$HOST:$SCRAM_PORT (KAFKA_SCRAM_PORT) is already in use by another process"

  fetch_jars

  mkdir -p "$RUN_DIR"
  local data
  data=$(mktemp -d "${TMPDIR:-/tmp}/xunjian-kafka-data.XXXXXX")
  echo "$data" >"$DATA_FILE"
  local scram=()
  if make_secure "$data"; then
    local pw mech
    pw=$(cat "$data/sasl/password")
    for mech in SCRAM-SHA-512 SCRAM-SHA-256; do
      scram+=(--add-scram "${mech}=[name=${SCRAM_USER},password=${pw}]")
    done
  fi
  write_config "$data"

  local java_opts=(-Djava.awt.headless=true "-Dlog4j2.configurationFile=$data/log4j2.xml")
  if ! java $HEAP_OPTS "${java_opts[@]}" -cp "$LIBS/*" kafka.tools.StorageTool \
      format -t "$(cluster_id)" -c "$data/server.properties" "${scram[@]}" >"$data/format.log" 2>&1; then
    cat "$data/format.log" >&2
    die "formatting the storage in $data failed"
  fi

  launch "$data"
}

# launch starts the broker on the formatted data dir $1 and waits until it
# accepts connections.
launch() {
  local data=$1 pid
  local java_opts=(-Djava.awt.headless=true "-Dlog4j2.configurationFile=$data/log4j2.xml")
  local started=$SECONDS
  nohup java $HEAP_OPTS "${java_opts[@]}" -cp "$LIBS/*" kafka.Kafka "$data/server.properties" \
    >"$data/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_FILE"

  local ports=("$PORT")
  secure_enabled "$data" && ports+=("$(cat "$data/sasl/brokers" | cut -d: -f2)")
  while ! all_open "${ports[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_logs "$data"
      die "broker exited during startup (data dir $data)"
    fi
    if (( SECONDS - started >= START_TIMEOUT )); then
      show_logs "$data"
      die "broker did not accept connections on $HOST port(s) ${ports[*]} within ${START_TIMEOUT}s (pid $pid, data dir $data)"
    fi
    sleep 0.2
  done
  local secure=""
  secure_enabled "$data" && secure=", SASL_SSL (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN) on $(cat "$data/sasl/brokers")"
  log "Kafka ${KAFKA_VERSION} up on $HOST:$PORT${secure} in $((SECONDS - started))s (pid $pid, data dir $data)"
}

# cleanup_state removes the recorded data dir and the pid/data files.
cleanup_state() {
  if [ -f "$DATA_FILE" ]; then
    local data
    data=$(cat "$DATA_FILE")
    # Only ever remove a directory this script created.
    case "$data" in
      */xunjian-kafka-data.*) rm -rf -- "$data" ;;
    esac
  fi
  rm -f "$PID_FILE" "$DATA_FILE"
  rmdir "$RUN_DIR" 2>/dev/null || true
}

cmd_stop() {
  local pid
  if pid=$(running); then
    stop_broker "$pid"
    log "stopped (pid $pid)"
  else
    log "not running"
  fi
  cleanup_state
}

# stop_broker TERMs the running broker (KILL after 10 s) and waits for it.
stop_broker() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  await_exit "$pid"
}

cmd_pause() {
  local pid
  pid=$(running) || die "not running"
  stop_broker "$pid"
  rm -f "$PID_FILE"
  log "paused (pid $pid stopped, data kept in $(cat "$DATA_FILE"))"
}

cmd_resume() {
  local pid data
  if pid=$(running); then
    log "already running (pid $pid)"
    return 0
  fi
  [ -f "$DATA_FILE" ] || die "nothing to resume: no data dir recorded (use start)"
  data=$(cat "$DATA_FILE")
  [ -f "$data/server.properties" ] || die "data dir $data is gone (use start)"
  mkdir -p "$RUN_DIR"
  launch "$data"
}

cmd_status() {
  local pid
  if pid=$(running); then
    local data scram=""
    data=$(cat "$DATA_FILE" 2>/dev/null) || true
    if [ -n "$data" ] && secure_enabled "$data"; then scram=" scram_brokers=$(cat "$data/sasl/brokers")"; fi
    echo "running pid=$pid brokers=$HOST:$PORT${scram} data=$data"
  else
    echo "not running"
    return 1
  fi
}

# cmd_env prints the variables the tests read: KAFKA_BROKERS always (the
# PLAINTEXT listener, whether or not the broker runs), and the SASL_SSL
# listener's while the broker's data dir has it.
cmd_env() {
  echo "KAFKA_BROKERS=$HOST:$PORT"
  local data
  [ -f "$DATA_FILE" ] || return 0
  data=$(cat "$DATA_FILE")
  secure_enabled "$data" || return 0
  echo "KAFKA_SCRAM_BROKERS=$(cat "$data/sasl/brokers")"
  echo "KAFKA_SCRAM_USER=$(cat "$data/sasl/user")"
  echo "KAFKA_SCRAM_PASSWORD=$(cat "$data/sasl/password")"
  echo "KAFKA_CA_FILE=$data/tls/ca.pem"
  echo "KAFKA_CA_KEY_FILE=$data/tls/ca.key"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  pause) cmd_pause ;;
  resume) cmd_resume ;;
  env) cmd_env ;;
  *) echo "usage: $0 start|stop|pause|resume|status|env" >&2; exit 2 ;;
esac
