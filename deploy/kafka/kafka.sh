#!/usr/bin/env bash
# deploy/kafka/kafka.sh -- a local single-node Apache Kafka (KRaft, combined
# broker+controller) for development and tests. See README.md beside this file.
#
#   kafka.sh fetch                       get Kafka's jars from Maven Central (idempotent)
#   kafka.sh start                       format (first time) + start; prints 127.0.0.1:PORT
#   kafka.sh stop                        SIGTERM, then SIGKILL after a timeout (idempotent)
#   kafka.sh status                      prints state; exit 0 running+healthy, 1 unhealthy, 3 stopped
#   kafka.sh reset                       stop and wipe the data dir
#   kafka.sh topics create NAME PARTITIONS [compact]   (idempotent)
#   kafka.sh topics list | topics delete NAME
#   kafka.sh tool MAIN_CLASS [ARGS...]   run any main class from the Kafka jars
#
# KAFKA_SECURITY=ssl|sasl_ssl kafka.sh start   adds a TLS listener and a SASL_SSL
# (SCRAM-SHA-512) one, certificates and the SCRAM user made at start in
# $KAFKA_DATA_DIR/security/, and prints the bootstrap of the chosen one; the
# client files (librdkafka properties, a samordna config) are in that folder.
#
# stdout carries only: the bootstrap address (start), the status line (status),
# topic names (topics list) and whatever a `tool` prints. Progress and errors go
# to stderr.
set -euo pipefail

KAFKA_VERSION=3.9.1

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
HOME_DIR=$SCRIPT_DIR/.kafka                 # gitignored
LIB_DIR=$HOME_DIR/lib
POM=$SCRIPT_DIR/pom.xml
BROKER_LOG4J=$SCRIPT_DIR/log4j.properties
TOOLS_LOG4J=$SCRIPT_DIR/tools-log4j.properties

# Relative KAFKA_DATA_DIR is taken relative to the caller's cwd.
DATA_DIR=$(realpath -m -- "${KAFKA_DATA_DIR:-$HOME_DIR/data}")
PORT=${KAFKA_PORT:-19092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}    # seconds
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}      # seconds before SIGKILL
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
# C1 only: halves the CPU a broker start burns (~5 s -> ~2.7 s), which is what
# startup costs on a busy 2-core machine. Set KAFKA_JVM_OPTS= (empty) for
# full JIT, e.g. for throughput benchmarks.
JVM_OPTS=${KAFKA_JVM_OPTS--XX:TieredStopAtLevel=1}
EXTRA_CONFIG=${KAFKA_EXTRA_CONFIG:-}        # optional file appended to server.properties
# TLS and SASL/SCRAM (off by default; the PLAINTEXT listener stays for kafka.sh itself, loopback).
SECURITY=${KAFKA_SECURITY:-plaintext}       # plaintext | ssl | sasl_ssl
SSL_PORT=${KAFKA_SSL_PORT:-$((PORT + 2))}
SASL_SSL_PORT=${KAFKA_SASL_SSL_PORT:-$((PORT + 3))}
SCRAM_USER=${KAFKA_SCRAM_USER:-samordna}
CERT_DAYS=${KAFKA_CERT_DAYS:-365}

STORE_DIR=$DATA_DIR/kraft                   # log.dirs (the formatted KRaft store)
LOGS_DIR=$DATA_DIR/logs
CONFIG=$DATA_DIR/server.properties
PID_FILE=$DATA_DIR/kafka.pid
LOCK_FILE=$DATA_DIR/.lock
BOOTSTRAP=127.0.0.1:$PORT
SEC_DIR=$DATA_DIR/security                  # CA, broker keystore, passwords, client files (0700)

# Short-lived CLI JVMs: small heap, quick start.
TOOL_JVM_OPTS=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
               "-Dlog4j.configuration=file:$TOOLS_LOG4J")

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { printf 'kafka.sh: error: %s\n' "$*" >&2; exit 1; }

usage() { # usage [EXIT_CODE]
  sed -n '2,21s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit "${1:-2}"
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# ---------------------------------------------------------------- prerequisites

apt_install() {
  [[ $(id -u) == 0 ]] || die "'$1' is missing; install Debian package(s) ${*:2} (needs root)"
  command -v apt-get >/dev/null || die "'$1' is missing and apt-get is not available; install ${*:2}"
  log "installing ${*:2} with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
    || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${@:2}" >&2 \
    || die "apt-get install ${*:2} failed"
}

ensure_java() {
  if ! command -v java >/dev/null || ! java -version >/dev/null 2>&1; then
    apt_install java default-jre-headless
  fi
  java -version >/dev/null 2>&1 || die "'java -version' fails"
  local v major
  v=$(java -version 2>&1 | sed -n '1s/.*version "\([^"]*\)".*/\1/p')
  major=${v%%.*}
  [[ $major == 1 ]] && major=$(cut -d. -f2 <<<"$v")
  if is_uint "${major:-x}" && (( major < 11 )); then
    die "Kafka $KAFKA_VERSION needs Java 11+ (found '$v')"
  fi
}

ensure_mvn() {
  if ! command -v mvn >/dev/null; then
    apt_install mvn maven
  fi
  command -v mvn >/dev/null || die "'mvn' still not found on PATH"
}

# Serialise fetch/start/stop/reset on one data dir (and fetch globally) so that
# parallel test runners calling `start` don't race each other.
lock() { # lock FILE
  mkdir -p -- "$(dirname -- "$1")"
  exec 9>"$1"
  flock -w 600 9 || die "timed out waiting for lock $1"
}

# ------------------------------------------------------------------------ fetch

fetch_stamp() { echo "$KAFKA_VERSION $(sha256sum <"$POM" | cut -c1-16)"; }

fetched() { [[ -f $LIB_DIR/.fetched && $(<"$LIB_DIR/.fetched") == "$(fetch_stamp)" ]]; }

cmd_fetch() {
  ensure_java
  fetched && return 0
  lock "$HOME_DIR/.fetch.lock"
  fetched && return 0
  ensure_mvn
  local tmp=$HOME_DIR/lib.tmp.$$ mlog=$HOME_DIR/fetch.log
  rm -rf -- "$tmp"
  log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central (log: $mlog)"
  if ! mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
         "-Dkafka.lib.dir=$tmp" >"$mlog" 2>&1; then
    tail -n 30 "$mlog" >&2 || true
    rm -rf -- "$tmp"
    die "maven could not fetch the Kafka jars (full log: $mlog)"
  fi
  local j
  for j in "kafka_2.13-$KAFKA_VERSION.jar" "kafka-tools-$KAFKA_VERSION.jar" \
           "kafka-clients-$KAFKA_VERSION.jar" reload4j-; do
    compgen -G "$tmp/$j*" >/dev/null || { rm -rf -- "$tmp"; die "fetched jars lack $j"; }
  done
  rm -rf -- "$LIB_DIR"
  mv -- "$tmp" "$LIB_DIR"
  fetch_stamp >"$LIB_DIR/.fetched"
  log "fetched $(find "$LIB_DIR" -name '*.jar' | wc -l) jars into $LIB_DIR"
}

run_tool() { # run_tool MAIN_CLASS ARGS...   (fetched jars, quiet logging)
  java "${TOOL_JVM_OPTS[@]}" -cp "$LIB_DIR/*" "$@"
}

# ---------------------------------------------------------------- process state

# Prints the broker's pid for this data dir, if one is running.
broker_pid() {
  local pid cmdline
  if [[ -f $PID_FILE ]]; then
    pid=$(<"$PID_FILE")
    if is_uint "$pid" && [[ -r /proc/$pid/cmdline ]]; then
      cmdline=$( { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)
      if [[ $cmdline == *kafka.Kafka\ "$CONFIG"* ]]; then
        echo "$pid"; return 0
      fi
    fi
  fi
  # Lost/stale pid file: look for a broker started on this config.
  local f
  for f in /proc/[0-9]*/cmdline; do
    cmdline=$( { tr '\0' ' ' <"$f"; } 2>/dev/null || true)
    if [[ $cmdline == *kafka.Kafka\ "$CONFIG"* ]]; then
      pid=${f#/proc/}; pid=${pid%/cmdline}
      echo "$pid" >"$PID_FILE"
      echo "$pid"; return 0
    fi
  done
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A real client round-trip: list topics through the admin API.
healthy() {
  run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
    --command-config <(printf '%s\n' request.timeout.ms=5000 default.api.timeout.ms=8000 \
                         socket.connection.setup.timeout.ms=2000) \
    --list >/dev/null 2>&1
}

# Wait until the broker with pid $1 answers clients, or die.
wait_ready() {
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
  while ! port_open "$PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      # The cause comes before the shutdown that fills the tail: show the errors first.
      grep -E -m 20 '(ERROR|FATAL)|Exception:' "$LOGS_DIR/server.log" >&2 2>/dev/null || true
      tail -n 40 "$LOGS_DIR/server.log" >&2 2>/dev/null || true
      tail -n 20 "$LOGS_DIR/kafka.out" >&2 2>/dev/null || true
      die "broker exited during startup (logs: $LOGS_DIR)"
    fi
    (( SECONDS < deadline )) || die "broker (pid $pid) not listening on $BOOTSTRAP after ${START_TIMEOUT}s; left running, see $LOGS_DIR or run: $0 stop"
    sleep 0.2
  done
  until healthy; do
    kill -0 "$pid" 2>/dev/null || die "broker exited during startup (logs: $LOGS_DIR)"
    (( SECONDS < deadline )) || die "broker (pid $pid) on $BOOTSTRAP not answering clients after ${START_TIMEOUT}s; left running, see $LOGS_DIR or run: $0 stop"
    sleep 0.5
  done
}

# ------------------------------------------------------------------------ start

# A random Kafka Uuid: 16 bytes, base64url, unpadded (22 chars). Drawn again when it starts with
# '-': kafka-storage's argument parser reads such an id as an option and refuses to format (one
# draw in 64; CI failed on "-NCkm2-..."). Kafka's own Uuid.randomUuid() redraws them too.
cluster_id() {
  local id
  while id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'); [[ $id == -* ]]; do
    :
  done
  printf '%s\n' "$id"
}

write_config() {
  local listeners="PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT"
  local advertised="PLAINTEXT://127.0.0.1:$PORT"
  local protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if secure; then
    listeners+=",SSL://127.0.0.1:$SSL_PORT,SASL_SSL://127.0.0.1:$SASL_SSL_PORT"
    advertised+=",SSL://127.0.0.1:$SSL_PORT,SASL_SSL://127.0.0.1:$SASL_SSL_PORT"
    protocols+=",SSL:SSL,SASL_SSL:SASL_SSL"
  fi
  # The keystore password is in it when secure: readable by the owner only.
  (umask 077; : >"$CONFIG")
  chmod 600 "$CONFIG"
  cat >"$CONFIG" <<EOF
# Generated by deploy/kafka/kafka.sh on every start -- edits are overwritten.
# Single node, KRaft, combined broker+controller, loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protocols
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$STORE_DIR

# One broker: every replication factor / ISR is 1.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# Fewer internal partitions: faster first consumer group / first transaction.
offsets.topic.num.partitions=8
transaction.state.log.num.partitions=8

num.partitions=4
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
# Allow long-running transactions (client transaction.timeout.ms must be <= this).
transaction.max.timeout.ms=3600000
# Abort a transaction that outlived its transaction.timeout.ms within 1 s, not up to 10 s later:
# tests/integration/eos/txn_timeout.sh stalls the service past its timeout but within its session.
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000

# After an unclean stop (SIGKILL/crash) the controller keeps the old broker
# registration until its session expires, and the restarted broker backs off
# exponentially meanwhile: the default 9 s session made such a restart take
# ~20 s. Loopback heartbeats are cheap.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000

# Small machine (2 cores).
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
  if secure; then
    cat >>"$CONFIG" <<EOF

# KAFKA_SECURITY=$SECURITY: TLS on SSL://$SSL_PORT, SASL_SSL (SCRAM-SHA-512) on $SASL_SSL_PORT;
# the broker's certificate is signed by $SEC_DIR/ca.pem. No client certificates.
ssl.keystore.type=PKCS12
ssl.keystore.location=$SEC_DIR/broker.p12
ssl.keystore.password=$(<"$SEC_DIR/keystore.pass")
ssl.key.password=$(<"$SEC_DIR/keystore.pass")
ssl.client.auth=none
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
  fi
  if [[ -n $EXTRA_CONFIG ]]; then
    [[ -r $EXTRA_CONFIG ]] || die "KAFKA_EXTRA_CONFIG=$EXTRA_CONFIG is not readable"
    { echo; echo "# From KAFKA_EXTRA_CONFIG=$EXTRA_CONFIG"; cat -- "$EXTRA_CONFIG"; } >>"$CONFIG"
  fi
}

# ---------------------------------------------------------------------- security

secure() { [[ $SECURITY != plaintext ]]; }

secure_bootstrap() {
  case $SECURITY in ssl) echo "127.0.0.1:$SSL_PORT";; sasl_ssl) echo "127.0.0.1:$SASL_SSL_PORT";; esac
}

random_secret() { head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }

# A CA and a broker certificate for 127.0.0.1 and localhost (SAN: librdkafka checks the host name,
# ssl.endpoint.identification.algorithm=https), a PKCS12 keystore for the broker, a PKCS12
# truststore (keytool) for Kafka's Java tools. Made once per data dir; the broker certificate again
# when it expires within a day. Passwords are random, in files (0600), never on a command line:
# openssl and keytool read them from files.
ensure_certs() {
  command -v openssl >/dev/null || apt_install openssl openssl
  command -v keytool >/dev/null || die "'keytool' is missing (it comes with the JRE: default-jre-headless)"
  mkdir -p -- "$SEC_DIR"
  chmod 700 "$SEC_DIR"
  (
    umask 077
    cd -- "$SEC_DIR"
    [[ -s keystore.pass ]] || random_secret >keystore.pass
    [[ -s truststore.pass ]] || random_secret >truststore.pass
    [[ -s scram.pass ]] || random_secret >scram.pass
    if [[ ! -s ca.pem || ! -s ca.key ]]; then
      rm -f -- ca.pem ca.key broker.pem truststore.p12
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days $((CERT_DAYS * 2)) \
        -subj "/CN=samordna dev CA" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign >openssl.log 2>&1 \
        || { cat openssl.log >&2; exit 1; }
    fi
    if [[ ! -s broker.pem || ! -s broker.p12 ]] ||
       ! openssl x509 -checkend 86400 -noout -in broker.pem >/dev/null 2>&1; then
      openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=localhost" \
        >openssl.log 2>&1 || { cat openssl.log >&2; exit 1; }
      printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth" \
        "keyUsage=critical,digitalSignature,keyEncipherment" >broker.ext
      openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem \
        -days "$CERT_DAYS" -sha256 -extfile broker.ext >openssl.log 2>&1 || { cat openssl.log >&2; exit 1; }
      openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
        -out broker.p12 -passout file:keystore.pass >openssl.log 2>&1 || { cat openssl.log >&2; exit 1; }
      rm -f -- broker.csr broker.ext
    fi
    if [[ ! -s truststore.p12 ]]; then
      keytool -importcert -noprompt -alias samordna-dev-ca -file ca.pem -keystore truststore.p12 \
        -storetype PKCS12 -storepass:file truststore.pass >keytool.log 2>&1 \
        || { cat keytool.log >&2; exit 1; }
    fi
  ) || die "could not make the certificates in $SEC_DIR"
}

# Client files for this broker, all 0600 (they hold the SCRAM password):
#   client.properties       librdkafka, the chosen listener (SSL, or SASL_SSL with the SCRAM user)
#   samordna.yaml           a samordna config (run/produce/consume --config) for that listener
#   java-client.properties  Kafka's Java tools over SASL_SSL (`tool ... --command-config`)
write_client_files() {
  local ca=$SEC_DIR/ca.pem pass
  pass=$(<"$SEC_DIR/scram.pass")
  (
    umask 077
    {
      echo "# librdkafka client properties for $(secure_bootstrap) ($SECURITY), written by kafka.sh"
      echo "bootstrap.servers=$(secure_bootstrap)"
      if [[ $SECURITY == sasl_ssl ]]; then
        echo "security.protocol=SASL_SSL"
        echo "sasl.mechanisms=SCRAM-SHA-512"
        echo "sasl.username=$SCRAM_USER"
        echo "sasl.password=$pass"
      else
        echo "security.protocol=SSL"
      fi
      echo "ssl.ca.location=$ca"
    } >"$SEC_DIR/client.properties.tmp"
    mv -f -- "$SEC_DIR/client.properties.tmp" "$SEC_DIR/client.properties"
    {
      echo "# samordna run|produce|consume --config $SEC_DIR/samordna.yaml (written by kafka.sh)"
      echo "# Holds the SCRAM password: keep it 0600. Add stateDir, rulesDir, topics as needed."
      echo "kafka:"
      echo "  bootstrap: $(secure_bootstrap)"
      echo "  properties:"
      sed -n 's/^\(security\.protocol\|sasl\.[a-z]*\|ssl\.ca\.location\)=\(.*\)$/    \1: "\2"/p' \
        "$SEC_DIR/client.properties"
    } >"$SEC_DIR/samordna.yaml.tmp"
    mv -f -- "$SEC_DIR/samordna.yaml.tmp" "$SEC_DIR/samordna.yaml"
    {
      echo "security.protocol=SASL_SSL"
      echo "sasl.mechanism=SCRAM-SHA-512"
      echo "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$SCRAM_USER\" password=\"$pass\";"
      echo "ssl.truststore.type=PKCS12"
      echo "ssl.truststore.location=$SEC_DIR/truststore.p12"
      echo "ssl.truststore.password=$(<"$SEC_DIR/truststore.pass")"
    } >"$SEC_DIR/java-client.properties"
  )
}

# The SCRAM user (SCRAM-SHA-512), set on every start through the PLAINTEXT listener from a file
# (ConfigCommand --add-config-file), so the password is never on a command line. Then waits until
# a SASL_SSL client authenticates (the credential reaches the broker through the metadata log).
ensure_scram_user() {
  local f=$SEC_DIR/scram-add.properties out
  # In a file the value has no [...] (those only group a command-line value).
  (umask 077; printf 'SCRAM-SHA-512=iterations=8192,password=%s\n' "$(<"$SEC_DIR/scram.pass")" >"$f")
  if ! out=$(run_tool kafka.admin.ConfigCommand --bootstrap-server "$BOOTSTRAP" --alter \
               --entity-type users --entity-name "$SCRAM_USER" --add-config-file "$f" 2>&1); then
    rm -f -- "$f"
    # ConfigCommand echoes a value it refuses: never the password.
    printf '%s\n' "${out//"$(<"$SEC_DIR/scram.pass")"/<password>}" >&2
    die "could not create the SCRAM user '$SCRAM_USER'"
  fi
  rm -f -- "$f"
  local deadline=$((SECONDS + START_TIMEOUT))
  until run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$SASL_SSL_PORT" \
          --command-config <(cat "$SEC_DIR/java-client.properties"; printf '%s\n' \
            request.timeout.ms=5000 default.api.timeout.ms=8000 socket.connection.setup.timeout.ms=2000) \
          --list >/dev/null 2>&1; do
    (( SECONDS < deadline )) || die "no SASL_SSL client could authenticate on 127.0.0.1:$SASL_SSL_PORT after ${START_TIMEOUT}s (logs: $LOGS_DIR)"
    sleep 0.5
  done
}

cmd_start() {
  case $SECURITY in
    plaintext|ssl|sasl_ssl) ;;
    *) die "KAFKA_SECURITY must be plaintext, ssl or sasl_ssl, got '$SECURITY'";;
  esac
  if secure && { ! is_uint "$SSL_PORT" || ! is_uint "$SASL_SSL_PORT"; }; then
    die "KAFKA_SSL_PORT / KAFKA_SASL_SSL_PORT must be numbers"
  fi
  if ! is_uint "$PORT" || ! is_uint "$CONTROLLER_PORT"; then
    die "KAFKA_PORT / KAFKA_CONTROLLER_PORT must be numbers"
  fi
  [[ $PORT != "$CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"
  cmd_fetch
  lock "$LOCK_FILE"

  local pid
  if pid=$(broker_pid); then
    # Already running (maybe still starting, from a parallel caller).
    wait_ready "$pid"
    if secure; then
      grep -q "^listeners=.*SASL_SSL://127.0.0.1:$SASL_SSL_PORT" "$CONFIG" \
        || die "the broker for $DATA_DIR runs without KAFKA_SECURITY=$SECURITY's listeners; stop it first"
      ensure_scram_user
      secure_bootstrap
    else
      echo "$BOOTSTRAP"
    fi
    return 0
  fi
  rm -f -- "$PID_FILE"
  port_open "$PORT" && die "port $PORT is in use by another process (set KAFKA_PORT)"
  port_open "$CONTROLLER_PORT" && die "port $CONTROLLER_PORT is in use by another process (set KAFKA_CONTROLLER_PORT)"
  if secure; then
    port_open "$SSL_PORT" && die "port $SSL_PORT is in use by another process (set KAFKA_SSL_PORT)"
    port_open "$SASL_SSL_PORT" && die "port $SASL_SSL_PORT is in use by another process (set KAFKA_SASL_SSL_PORT)"
  fi

  mkdir -p -- "$STORE_DIR" "$LOGS_DIR"
  if secure; then
    ensure_certs
    write_client_files
  fi
  write_config
  if [[ ! -f $STORE_DIR/meta.properties ]]; then
    local cid
    cid=$(cluster_id)
    log "formatting KRaft store $STORE_DIR (cluster id $cid)"
    run_tool kafka.tools.StorageTool format -t "$cid" -c "$CONFIG" >"$LOGS_DIR/format.log" 2>&1 \
      || { cat "$LOGS_DIR/format.log" >&2; die "kafka-storage format failed"; }
  fi

  log "starting Kafka $KAFKA_VERSION on $BOOTSTRAP (data: $DATA_DIR)"
  # setsid + no inherited fds: the broker outlives this script and never holds
  # the caller's stdout (so `addr=$(kafka.sh start)` returns) or our lock.
  (
    cd -- "$DATA_DIR"
    # Close every inherited fd above stderr (our lock, callers' pipes).
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      if (( fd > 2 )); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    # shellcheck disable=SC2086  # HEAP_OPTS/JVM_OPTS are word lists
    exec setsid java -server $HEAP_OPTS $JVM_OPTS \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      "-Dkafka.logs.dir=$LOGS_DIR" "-Dlog4j.configuration=file:$BROKER_LOG4J" \
      -cp "$LIB_DIR/*" kafka.Kafka "$CONFIG"
  ) </dev/null >>"$LOGS_DIR/kafka.out" 2>&1 &
  pid=$!
  echo "$pid" >"$PID_FILE"
  wait_ready "$pid"
  if secure; then
    ensure_scram_user
    log "broker ready (pid $pid, logs: $LOGS_DIR); $SECURITY on $(secure_bootstrap), client files in $SEC_DIR (client.properties, samordna.yaml, ca.pem)"
    secure_bootstrap
    return 0
  fi
  log "broker ready (pid $pid, logs: $LOGS_DIR)"
  echo "$BOOTSTRAP"
}

# ------------------------------------------------------------------------- stop

cmd_stop() {
  [[ -d $DATA_DIR ]] || return 0
  lock "$LOCK_FILE"
  local pid
  if ! pid=$(broker_pid); then
    rm -f -- "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "still running after ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f -- "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  if [[ -d $DATA_DIR ]] && pid=$(broker_pid); then
    if healthy; then
      echo "running pid=$pid bootstrap=$BOOTSTRAP data=$DATA_DIR"
      return 0
    fi
    echo "unhealthy pid=$pid bootstrap=$BOOTSTRAP data=$DATA_DIR (logs: $LOGS_DIR)"
    return 1
  fi
  echo "stopped data=$DATA_DIR"
  return 3
}

cmd_reset() {
  cmd_stop
  [[ -d $DATA_DIR ]] || return 0
  case $DATA_DIR in /|"$HOME"|"$SCRIPT_DIR"|/work|/tmp) die "refusing to wipe $DATA_DIR";; esac
  # Only wipe what this script creates, unless told otherwise.
  local f stray=()
  shopt -s nullglob dotglob
  for f in "$DATA_DIR"/*; do
    case ${f##*/} in kraft|logs|security|server.properties|kafka.pid|.lock) ;; *) stray+=("$f");; esac
  done
  shopt -u nullglob dotglob
  if (( ${#stray[@]} )) && [[ ${KAFKA_RESET_FORCE:-} != 1 ]]; then
    die "$DATA_DIR holds files kafka.sh did not create (${stray[*]}); set KAFKA_RESET_FORCE=1 to wipe anyway"
  fi
  lock "$LOCK_FILE"
  find "$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf -- {} +
  log "wiped $DATA_DIR"
}

# ----------------------------------------------------------------------- topics

require_running() {
  fetched || die "Kafka not fetched; run: $0 fetch"
  broker_pid >/dev/null || die "broker not running for $DATA_DIR; run: $0 start"
}

cmd_topics() {
  local sub=${1:-}
  shift || true
  case $sub in
    create)
      (( $# == 2 || $# == 3 )) || die "usage: topics create NAME PARTITIONS [compact]"
      local name=$1 parts=$2 extra=()
      if ! is_uint "$parts" || (( parts == 0 )); then
        die "PARTITIONS must be a positive number, got '$parts'"
      fi
      if (( $# == 3 )); then
        [[ $3 == compact ]] || die "third argument must be 'compact', got '$3'"
        extra=(--config cleanup.policy=compact)
      fi
      require_running
      local out
      if ! out=$(run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
                   --create --if-not-exists --topic "$name" --partitions "$parts" \
                   --replication-factor 1 "${extra[@]}" 2>&1); then
        printf '%s\n' "$out" >&2
        die "could not create topic '$name'"
      fi
      ;;
    list)
      (( $# == 0 )) || die "usage: topics list"
      require_running
      run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list
      ;;
    delete)
      (( $# == 1 )) || die "usage: topics delete NAME"
      require_running
      run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
        --delete --if-exists --topic "$1" >/dev/null
      ;;
    *) die "usage: topics create NAME PARTITIONS [compact] | topics list | topics delete NAME";;
  esac
}

cmd_tool() {
  (( $# >= 1 )) || die "usage: tool MAIN_CLASS [ARGS...]   e.g. tool kafka.tools.ConsoleProducer --help"
  fetched || die "Kafka not fetched; run: $0 fetch"
  run_tool "$@"
}

# ------------------------------------------------------------------------- main

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in
    fetch)  (( $# == 0 )) || usage; cmd_fetch ;;
    start)  (( $# == 0 )) || usage; cmd_start ;;
    stop)   (( $# == 0 )) || usage; cmd_stop ;;
    status) (( $# == 0 )) || usage; cmd_status ;;
    reset)  (( $# == 0 )) || usage; cmd_reset ;;
    topics) cmd_topics "$@" ;;
    tool)   cmd_tool "$@" ;;
    -h|--help|help) usage 0 ;;
    *) [[ -z $cmd ]] || log "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
