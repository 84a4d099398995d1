#!/usr/bin/env bash
# Local Kafka (KRaft) + Redis for development, tests and CI, without Docker.
#
# Our machines have no Docker engine and Debian has no Kafka package, but Maven Central has the broker
# jars: deploy/kafka/pom.xml resolves them once into a per-user cache and we run `kafka.Kafka` with plain
# `java`. Redis comes from Debian. See docs/stack.md for the details and the ports.
#
#   stack.sh up [--kafka-nodes 1|3] [--redis-port PORT] [--secure] [--redis-cluster | --redis-sentinel]
#               [--kafka-version V]                      fresh stack (old data wiped), waits until ready;
#                                                        V: a Kafka release on Maven Central (default: the pom's)
#   stack.sh down                                        stop what `up` started, nothing else
#   stack.sh kill-broker N | start-broker N              crash (kill -9) / restart node N (1-based)
#   stack.sh kill-redis-node N | start-redis-node N      same for Redis Cluster node N (1..6)
#   stack.sh kill-redis-master                           kill -9 the master the sentinels now name
#   stack.sh start-redis-replica                         start that node again, as a replica of the new master
#   stack.sh status | env | logs [LINES]
#   stack.sh oauth-token [SECONDS]                       (--secure) write an unsecured JWT for OAUTHBEARER
#
# --secure: clients get a SASL_SSL listener (SCRAM-SHA-512, and OAUTHBEARER with Kafka's unsecured-JWS
# validator; a CA made under the stack dir); PLAINTEXT stays only for inter-broker traffic. --redis-cluster: three masters + three replicas on free ports.
# --redis-sentinel: a master, one replica and three sentinels watching it (master name "stack").
# Environment: STACK_DIR (default <repo>/.stack), REDIS_URL (default redis://127.0.0.1:6379),
# STACK_TIMEOUT (seconds to wait for readiness, default 120), KAFKA_PORT_OFFSET (default 0),
# REDIS_CLUSTER_BASE_PORT (default 7000 + KAFKA_PORT_OFFSET), REDIS_SENTINEL_BASE_PORT (default 7100 +
# KAFKA_PORT_OFFSET), XDG_CACHE_HOME.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${STACK_DIR:-$repo/.stack}"
pom="$repo/deploy/kafka/pom.xml"
timeout_s="${STACK_TIMEOUT:-120}"

# The pom holds the default version; `up --kafka-version V` runs another release (3.x included: the same
# KRaft tools, config and log4j2 binding work). The version names the cache dir, so each resolves once.
kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom" | head -n 1)"
libs_of() { echo "${XDG_CACHE_HOME:-$HOME/.cache}/ordered-sidecar/kafka-$1/libs"; }
libs="$(libs_of "$kafka_version")"

# Port layout: node N serves clients on 9091+N and its controller (Raft) listener on 19091+N, so the
# one-node and three-node layouts never collide and 9092 is always node 1. KAFKA_PORT_OFFSET shifts both
# (with its own STACK_DIR), so a second stack, e.g. a clean clone's CI run, can run beside a dev stack.
port_offset="${KAFKA_PORT_OFFSET:-0}"
broker_port() { echo $((9091 + port_offset + $1)); }
controller_port() { echo $((19091 + port_offset + $1)); }
# --secure adds node N's SASL_SSL client listener on 9191+N (shifted by the same offset).
secure_port() { echo $((9191 + port_offset + $1)); }
# Redis Cluster node N (1..6) on base+N; nodes 1-3 start as masters, 4-6 as their replicas.
redis_cluster_base="${REDIS_CLUSTER_BASE_PORT:-$((7000 + port_offset))}"
redis_cluster_port() { echo $((redis_cluster_base + $1)); }
REDIS_CLUSTER_SIZE=6
# Sentinel mode: data node N (1 = first master, 2 = its replica) on base+N, sentinel N (1..3) on base+10+N.
redis_sentinel_base="${REDIS_SENTINEL_BASE_PORT:-$((7100 + port_offset))}"
redis_data_port() { echo $((redis_sentinel_base + $1)); }
sentinel_port() { echo $((redis_sentinel_base + 10 + $1)); }
SENTINEL_MASTER=stack

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

node_dir() { echo "$state/kafka/node-$1"; }

# --- small helpers -----------------------------------------------------------------------------------

# kill -0 also succeeds on a zombie, and PID 1 on our machines reaps orphans only every few seconds:
# a crashed broker would look alive. A process counts as alive only if it is not a zombie.
alive() {
  local st
  st="$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [[ -n "$st" && "$st" != Z && "$st" != X ]]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A pid file alone is not proof: after a reboot or a long pause the pid may belong to someone else.
# We only ever signal a process whose command line mentions our own state dir (Kafka's does, through
# its config path) or, for redis-server, which rewrites its title, the expected program name.
our_pid() { # pidfile [text the command line must contain]
  local pidfile="$1" expect="${2:-$state}" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$expect" || return 1
  echo "$pid"
}

wait_gone() { # pid seconds
  local pid="$1" deadline=$((SECONDS + $2))
  while alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

as_root() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }

# Values recorded by `up`, read back by every other subcommand (they run in separate processes).
load_env() {
  [[ -f "$state/stack.env" ]] || die "no stack in $state (run: stack.sh up)"
  # shellcheck source=/dev/null
  source "$state/stack.env"
  # A broker restarted later must run the release the stack was started with.
  kafka_version="$KAFKA_VERSION" libs="$(libs_of "$KAFKA_VERSION")"
}

brokers_list() {
  local n out=() port_of=broker_port
  [[ "${KAFKA_SECURE:-no}" == yes ]] && port_of=secure_port
  for ((n = 1; n <= KAFKA_NODES; n++)); do out+=("127.0.0.1:$($port_of "$n")"); done
  (IFS=,; echo "${out[*]}")
}

# --- Kafka jars --------------------------------------------------------------------------------------

resolve_jars() {
  # The marker is written last, so an interrupted Maven run never leaves a cache that looks complete.
  if [[ -f "$libs/.complete" ]]; then return; fi
  command -v java >/dev/null || die "java not found (Kafka $kafka_version needs Java 17+)"
  command -v mvn >/dev/null || die "mvn not found; it is needed once to fetch the Kafka jars"
  log "resolving Kafka $kafka_version jars with Maven into $libs (first time only)"
  local tmp mvn_log
  mkdir -p "$(dirname "$libs")"
  tmp="$(mktemp -d "$(dirname "$libs")/libs.tmp.XXXXXX")"
  mvn_log="$tmp.mvn.log"
  if ! mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -Dkafka.version="$kafka_version" \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
    tail -n 40 "$mvn_log" >&2
    rm -rf "$tmp"
    die "Maven could not resolve the Kafka jars (full output: $mvn_log)"
  fi
  rm -f "$mvn_log"
  touch "$tmp/.complete"
  rm -rf "$libs"
  mv "$tmp" "$libs"
}

check_java() {
  local v
  v="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)"
  [[ -n "$v" && "$v" -ge 17 ]] || die "Kafka $kafka_version needs Java 17+, found: $(java -version 2>&1 | head -n 1)"
}

# --- Kafka config ------------------------------------------------------------------------------------

write_log4j() {
  # WARN keeps test output readable; KafkaRaftServer at INFO is what prints "Kafka Server started",
  # the line we wait for.
  cat >"$state/kafka/log4j2.properties" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.raftserver.name = kafka.server.KafkaRaftServer
logger.raftserver.level = INFO
EOF
}

secure_dir() { echo "$state/secure"; }

# Clients see only what `env` prints: the SASL_SSL listener with --secure, PLAINTEXT otherwise. With
# --secure, PLAINTEXT remains for inter-broker traffic only (nothing advertises it to clients as theirs).
listener_config() { # node
  local n="$1" bp cp sp sd
  bp="$(broker_port "$n")" cp="$(controller_port "$n")"
  if [[ "${KAFKA_SECURE:-no}" != yes ]]; then
    cat <<EOF
listeners=PLAINTEXT://127.0.0.1:$bp,CONTROLLER://127.0.0.1:$cp
advertised.listeners=PLAINTEXT://127.0.0.1:$bp
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
EOF
    return
  fi
  sp="$(secure_port "$n")" sd="$(secure_dir)"
  cat <<EOF
listeners=PLAINTEXT://127.0.0.1:$bp,SASL_SSL://127.0.0.1:$sp,CONTROLLER://127.0.0.1:$cp
advertised.listeners=PLAINTEXT://127.0.0.1:$bp,SASL_SSL://127.0.0.1:$sp
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
# SASL_SSL for clients: SCRAM-SHA-512 users are created when the storage is formatted (--add-scram).
sasl.enabled.mechanisms=SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
# OAUTHBEARER with Kafka's unsecured-JWS validator, for dev and tests only: it accepts any token whose
# header says alg "none" and whose sub/exp claims are valid, with no signature. An expired token is refused.
# The broker's own (unused) login token needs a subject.
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";
listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler
# OAUTHBEARER sessions last 15 s, then the client must re-authenticate (with the token its file holds then) or
# be disconnected, as production brokers do (with hours): tests see a refreshed token applied on a live
# connection. SCRAM sessions are not limited.
listener.name.sasl_ssl.oauthbearer.connections.max.reauth.ms=15000
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$sd/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$(<"$sd/keystore-password")
# Client certificates are checked when sent (mutual TLS), not required: SASL authenticates.
listener.name.sasl_ssl.ssl.client.auth=requested
listener.name.sasl_ssl.ssl.truststore.type=PEM
listener.name.sasl_ssl.ssl.truststore.location=$sd/ca.pem
EOF
}

# A CA and, signed by it, a broker certificate for 127.0.0.1 (clients verify the IP SAN) and a client
# certificate for mutual-TLS tests. Only the stack's user can read them: they hold private keys.
make_certs() {
  local sd ks
  sd="$(secure_dir)"
  command -v openssl >/dev/null || die "openssl not found (needed by --secure)"
  mkdir -p "$sd"
  chmod 700 "$sd"
  ks="$(openssl rand -hex 16)"
  printf '%s' "$ks" >"$sd/keystore-password"
  printf '%s' "$(openssl rand -hex 16)" >"$sd/sasl-password"
  printf 'app' >"$sd/sasl-username"
  (
    cd "$sd"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj '/CN=ordered-sidecar stack CA' \
      -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'
    openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj '/CN=127.0.0.1'
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem -days 30 -extfile broker.ext
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker -out broker.p12 -passout "pass:$ks"
    openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj '/CN=app'
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 30 -extfile client.ext
  ) >"$sd/openssl.log" 2>&1 || { cat "$sd/openssl.log" >&2; die "could not create the certificates"; }
  chmod 600 "$sd"/*
}

write_node_config() { # node total
  local n="$1" total="$2" dir voters="" i rf isr
  dir="$(node_dir "$n")"
  mkdir -p "$dir/data" "$dir/logs"
  for ((i = 1; i <= total; i++)); do voters+="${voters:+,}$i@127.0.0.1:$(controller_port "$i")"; done
  # Three nodes behave like a small production cluster (RF 3, min ISR 2: one node may die and writes
  # with acks=-1 still succeed); one node can only do RF 1.
  if ((total == 3)); then rf=3 isr=2; else rf=1 isr=1; fi

  cat >"$dir/server.properties" <<EOF
# Written by scripts/stack.sh; rewritten on every 'up'.
process.roles=broker,controller
node.id=$n
# Static quorum: every node knows all voters up front, so no --standalone/--initial-controllers.
controller.quorum.voters=$voters
$(listener_config "$n")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data

# The sidecar never creates topics and tests create theirs through the admin API: a typo must fail,
# not silently create a topic.
auto.create.topics.enable=false
num.partitions=3
default.replication.factor=$rf
min.insync.replicas=$isr
group.initial.rebalance.delay.ms=0

# Internal topics must fit the cluster size or the coordinators never come up. Fewer partitions than
# the defaults (50) make them quicker to create on a 2-core machine.
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
EOF
  if ((total == 3)); then
    cat >>"$dir/server.properties" <<'EOF'

# Fence a crashed broker after 6 s instead of 9 s so failover tests do not wait long.
broker.session.timeout.ms=6000
broker.heartbeat.interval.ms=1000
EOF
  fi
}

format_nodes() { # total
  local total="$1" cluster_id n pids=() failed=0 scram=()
  # SCRAM credentials are metadata records: written at format time they exist before any broker starts.
  if [[ "${KAFKA_SECURE:-no}" == yes ]]; then
    scram=(--add-scram "SCRAM-SHA-512=[name=$(<"$(secure_dir)/sasl-username"),password=$(<"$(secure_dir)/sasl-password")]")
  fi
  # StorageTool calls System.exit, hence one JVM per call.
  cluster_id="$(java -Dlog4j2.configurationFile="$state/kafka/log4j2.properties" -cp "$libs/*" \
    kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  [[ -n "$cluster_id" ]] || die "StorageTool random-uuid printed nothing"
  echo "$cluster_id" >"$state/kafka/cluster-id"
  # The formats are independent, so run them side by side: JVM start-up dominates.
  for ((n = 1; n <= total; n++)); do
    java -Dlog4j2.configurationFile="$state/kafka/log4j2.properties" -cp "$libs/*" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$(node_dir "$n")/server.properties" "${scram[@]+"${scram[@]}"}" \
      >"$(node_dir "$n")/format.log" 2>&1 &
    pids+=($!)
  done
  for ((n = 1; n <= total; n++)); do
    if ! wait "${pids[n - 1]}"; then
      log "formatting node $n failed:"
      cat "$(node_dir "$n")/format.log" >&2
      failed=1
    fi
  done
  ((failed == 0)) || die "could not format the Kafka data dirs"
}

# --- Kafka processes ---------------------------------------------------------------------------------

start_node() { # node  (does not wait)
  local n="$1" dir
  dir="$(node_dir "$n")"
  if our_pid "$dir/kafka.pid" >/dev/null; then die "node $n is already running"; fi
  if port_open "$(broker_port "$n")" || port_open "$(controller_port "$n")" ||
    { [[ "${KAFKA_SECURE:-no}" == yes ]] && port_open "$(secure_port "$n")"; }; then
    die "a port of node $n ($(broker_port "$n"), $(controller_port "$n"), $(secure_port "$n")) is taken by another process (another Kafka?)"
  fi
  # Readiness is judged on log lines written after this point: a restarted node appends to the same log.
  stat -c %s "$dir/kafka.log" 2>/dev/null >"$dir/log-offset" || echo 0 >"$dir/log-offset"
  # setsid: the broker gets its own session, so a Ctrl-C aimed at dev.sh or a test run does not reach
  # it. The inner shell writes its own pid and then execs java, so the pid file names the JVM itself.
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/kafka.pid" \
    java -Xms512m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$state/kafka/log4j2.properties" -Dkafka.logs.dir="$dir/logs" \
    -cp "$libs/*" kafka.Kafka "$dir/server.properties" \
    </dev/null >>"$dir/kafka.log" 2>&1 &
}

node_ready() { # node
  local n="$1" dir offset
  dir="$(node_dir "$n")"
  offset="$(cat "$dir/log-offset" 2>/dev/null || echo 0)"
  tail -c +"$((offset + 1))" "$dir/kafka.log" 2>/dev/null | grep -q 'Kafka Server started' &&
    port_open "$(broker_port "$n")" &&
    { [[ "${KAFKA_SECURE:-no}" != yes ]] || port_open "$(secure_port "$n")"; }
}

show_log_tail() { # node lines
  local f
  f="$(node_dir "$1")/kafka.log"
  printf -- '----- tail of %s -----\n' "$f" >&2
  tail -n "${2:-40}" "$f" >&2 2>/dev/null || true
}

wait_nodes() { # node...
  local deadline=$((SECONDS + timeout_s)) pending=("$@") still n pidfile
  while ((${#pending[@]})); do
    still=()
    for n in "${pending[@]}"; do
      pidfile="$(node_dir "$n")/kafka.pid"
      if node_ready "$n"; then continue; fi
      # The pid file appears a moment after the background start; only a missing process is fatal.
      if [[ -s "$pidfile" ]] && ! alive "$(<"$pidfile")"; then
        show_log_tail "$n" 60
        die "Kafka node $n exited during start-up (log above)"
      fi
      still+=("$n")
    done
    pending=("${still[@]+"${still[@]}"}")
    ((${#pending[@]})) || break
    if ((SECONDS >= deadline)); then
      for n in "${pending[@]}"; do show_log_tail "$n" 40; done
      die "Kafka node(s) ${pending[*]} not ready after ${timeout_s}s (no 'Kafka Server started' or port closed)"
    fi
    sleep 0.5
  done
}

stop_pidfile() { # pidfile signal [expected command line text]; prints the pid it signalled
  local pid
  pid="$(our_pid "$1" "${3:-}")" || return 1
  kill -"$2" "$pid" 2>/dev/null || true
  echo "$pid"
}

# --- Redis -------------------------------------------------------------------------------------------

redis_answers() { [[ "$(redis-cli -u "$1" ping 2>/dev/null)" == PONG ]]; }

ensure_redis_installed() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return
  log "installing Debian's redis-server (apt-get)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
}

start_redis() { # url
  local url="$1" hostport host port
  # A Redis that already answers (the machine's own, a developer's) is used as it is and never stopped.
  if command -v redis-cli >/dev/null && redis_answers "$url"; then
    log "reusing the Redis that answers at $url"
    REDIS_MANAGED=no
    return
  fi
  ensure_redis_installed
  # Installing the package may itself have started one (init script): reuse that too.
  if redis_answers "$url"; then
    log "reusing the Redis that answers at $url"
    REDIS_MANAGED=no
    return
  fi
  hostport="${url#*://}"; hostport="${hostport##*@}"; hostport="${hostport%%/*}"
  host="${hostport%%:*}"; port="${hostport##*:}"
  [[ "$port" != "$hostport" ]] || port=6379
  [[ "$host" == 127.0.0.1 || "$host" == localhost ]] ||
    die "nothing answers at $url and it is not local, so no Redis can be started for it"
  [[ "$port" =~ ^[0-9]+$ ]] || die "cannot read a port from REDIS_URL=$url"
  mkdir -p "$state/redis"
  # No persistence: test data must not survive a restart and must not cost disk writes.
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$state/redis" --pidfile "$state/redis/redis.pid" --logfile "$state/redis/redis.log" \
    >/dev/null
  local deadline=$((SECONDS + 15))
  until redis_answers "$url"; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$state/redis/redis.log" >&2 2>/dev/null || true
      die "our redis-server on port $port did not answer"
    fi
    sleep 0.1
  done
  log "started redis-server on 127.0.0.1:$port"
  REDIS_MANAGED=yes
}

# --- Redis Cluster -----------------------------------------------------------------------------------

redis_node_dir() { echo "$state/redis-cluster/node-$1"; }

cluster_nodes_list() {
  local n out=()
  for ((n = 1; n <= REDIS_CLUSTER_SIZE; n++)); do out+=("127.0.0.1:$(redis_cluster_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

start_redis_cluster_node() { # node  (its nodes.conf, if any, keeps its identity across restarts)
  local n="$1" dir port
  dir="$(redis_node_dir "$n")" port="$(redis_cluster_port "$n")"
  if our_pid "$dir/redis.pid" redis-server >/dev/null; then die "Redis Cluster node $n is already running"; fi
  port_open "$port" && die "port $port (Redis Cluster node $n) is taken by another process"
  mkdir -p "$dir"
  # A node timeout of 2 s makes a killed master fail over to its replica within seconds.
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --cluster-enabled yes \
    --cluster-config-file nodes.conf --cluster-node-timeout 2000 --save '' --appendonly no \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
}

wait_redis_ping() { # port seconds
  local deadline=$((SECONDS + $2))
  until [[ "$(redis-cli -p "$1" ping 2>/dev/null)" == PONG ]]; do
    ((SECONDS < deadline)) || die "Redis on port $1 did not answer within $2 s"
    sleep 0.1
  done
}

# Ready when every running node sees all 16384 slots served.
wait_cluster_ok() {
  local deadline=$((SECONDS + 60)) n ok
  while :; do
    ok=1
    for ((n = 1; n <= REDIS_CLUSTER_SIZE; n++)); do
      our_pid "$(redis_node_dir "$n")/redis.pid" redis-server >/dev/null || continue
      redis-cli -p "$(redis_cluster_port "$n")" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ok=0
    done
    ((ok)) && return 0
    ((SECONDS < deadline)) || die "the Redis Cluster did not reach cluster_state:ok within 60 s"
    sleep 0.2
  done
}

start_redis_cluster() {
  local n addrs=()
  ensure_redis_installed
  rm -rf "$state/redis-cluster"
  for ((n = 1; n <= REDIS_CLUSTER_SIZE; n++)); do start_redis_cluster_node "$n"; done
  for ((n = 1; n <= REDIS_CLUSTER_SIZE; n++)); do
    wait_redis_ping "$(redis_cluster_port "$n")" 15
    addrs+=("127.0.0.1:$(redis_cluster_port "$n")")
  done
  # The first three addresses become masters, the others their replicas. Three masters with a replica each
  # behave like a managed cluster: a lost master fails over instead of taking the whole cluster down.
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
    >"$state/redis-cluster/create.log" 2>&1 || { cat "$state/redis-cluster/create.log" >&2; die "redis-cli --cluster create failed"; }
  wait_cluster_ok
  log "Redis Cluster up: $(cluster_nodes_list)"
}

stop_redis_cluster() {
  local f pid pids=()
  for f in "$state"/redis-cluster/node-*/redis.pid; do
    [[ -e "$f" ]] || continue
    if pid="$(stop_pidfile "$f" TERM redis-server)"; then pids+=("$pid"); fi
  done
  for pid in "${pids[@]+"${pids[@]}"}"; do wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true; done
  rm -f "$state"/redis-cluster/node-*/redis.pid
}

redis_node_arg() { # N
  load_env
  [[ "${REDIS_CLUSTER:-no}" == yes ]] || die "this stack has no Redis Cluster (up --redis-cluster)"
  [[ "${1:-}" =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= REDIS_CLUSTER_SIZE)) ||
    die "Redis Cluster node must be 1..$REDIS_CLUSTER_SIZE, got '${1:-}'"
}

cmd_kill_redis_node() {
  local n="${1:-}" pid
  redis_node_arg "$n"
  pid="$(kill9 "Redis Cluster node $n" "$(redis_node_dir "$n")/redis.pid" redis-server)"
  log "killed Redis Cluster node $n (127.0.0.1:$(redis_cluster_port "$n"), pid $pid, kill -9)"
}

cmd_start_redis_node() {
  local n="${1:-}"
  redis_node_arg "$n"
  start_redis_cluster_node "$n"
  wait_redis_ping "$(redis_cluster_port "$n")" 15
  wait_cluster_ok
  log "Redis Cluster node $n up again (it rejoins as a replica if its replica took over)"
}

# --- Redis with Sentinels ----------------------------------------------------------------------------

sentinel_dir() { echo "$state/redis-sentinel"; }

sentinels_list() {
  local n out=()
  for n in 1 2 3; do out+=("127.0.0.1:$(sentinel_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

# One field of `info replication` (key:value lines).
info_field() { # port field
  redis-cli -p "$1" info replication 2>/dev/null | tr -d '\r' | sed -n "s/^$2:\(.*\)$/\1/p" | head -n 1
}
# One field of `sentinel master` (a key line, then its value line).
sentinel_field() { # sentinel-port field
  redis-cli -p "$1" sentinel master "$SENTINEL_MASTER" 2>/dev/null | tr -d '\r' | grep -A1 -x -- "$2" | tail -n 1
}

start_redis_data_node() { # node [port of the master to replicate]
  local n="$1" dir port
  dir="$(sentinel_dir)/node-$n" port="$(redis_data_port "$n")"
  port_open "$port" && die "port $port (Redis node $n) is taken by another process"
  mkdir -p "$dir"
  # No persistence (test data); diskless sync without delay so the replica is in sync within a second.
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --repl-diskless-sync yes --repl-diskless-sync-delay 0 ${2:+--replicaof 127.0.0.1 "$2"} \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
}

start_sentinel() { # n master-port
  local n="$1" dir port
  dir="$(sentinel_dir)/sentinel-$n" port="$(sentinel_port "$n")"
  port_open "$port" && die "port $port (sentinel $n) is taken by another process"
  mkdir -p "$dir"
  # Sentinel rewrites its config file (it records the replicas, the other sentinels and failovers), so each
  # has its own. A master silent for 1 s is down once two of the three sentinels agree (quorum 2).
  cat >"$dir/sentinel.conf" <<EOF
bind 127.0.0.1
port $port
daemonize yes
pidfile $dir/redis.pid
logfile $dir/sentinel.log
dir $dir
sentinel monitor $SENTINEL_MASTER 127.0.0.1 $2 2
sentinel down-after-milliseconds $SENTINEL_MASTER 1000
sentinel failover-timeout $SENTINEL_MASTER 5000
sentinel parallel-syncs $SENTINEL_MASTER 1
EOF
  redis-server "$dir/sentinel.conf" --sentinel >/dev/null
}

# Ready when the replica has completed its sync and every sentinel knows the replica and the two other
# sentinels: only then can a killed master fail over.
wait_sentinel_ready() {
  local deadline=$((SECONDS + 60)) n ok
  while :; do
    ok=1
    [[ "$(info_field "$(redis_data_port 2)" master_link_status)" == up ]] || ok=0
    [[ "$(info_field "$(redis_data_port 1)" slave0)" == *state=online* ]] || ok=0
    for n in 1 2 3; do
      [[ "$(sentinel_field "$(sentinel_port "$n")" num-slaves)" == 1 &&
        "$(sentinel_field "$(sentinel_port "$n")" num-other-sentinels)" == 2 ]] || ok=0
    done
    ((ok)) && return 0
    ((SECONDS < deadline)) || die "the replica or the sentinels were not ready within 60 s (logs in $(sentinel_dir))"
    sleep 0.2
  done
}

start_redis_sentinel() {
  local n
  ensure_redis_installed
  rm -rf "$(sentinel_dir)"
  start_redis_data_node 1
  wait_redis_ping "$(redis_data_port 1)" 15
  start_redis_data_node 2 "$(redis_data_port 1)"
  wait_redis_ping "$(redis_data_port 2)" 15
  for n in 1 2 3; do start_sentinel "$n" "$(redis_data_port 1)"; done
  for n in 1 2 3; do wait_redis_ping "$(sentinel_port "$n")" 15; done
  wait_sentinel_ready
  log "Redis with Sentinels up: master 127.0.0.1:$(redis_data_port 1), replica 127.0.0.1:$(redis_data_port 2), sentinels $(sentinels_list) (master name $SENTINEL_MASTER)"
}

stop_redis_sentinel() {
  local f pid pids=()
  for f in "$(sentinel_dir)"/*/redis.pid; do
    [[ -e "$f" ]] || continue
    if pid="$(stop_pidfile "$f" TERM redis-server)"; then pids+=("$pid"); fi
  done
  for pid in "${pids[@]+"${pids[@]}"}"; do wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true; done
  rm -f "$(sentinel_dir)"/*/redis.pid
}

# The master as the first answering sentinel names it: "host port".
sentinel_master_addr() {
  local n addr
  for n in 1 2 3; do
    addr="$(redis-cli -p "$(sentinel_port "$n")" sentinel get-master-addr-by-name "$SENTINEL_MASTER" 2>/dev/null | tr -d '\r' | paste -sd ' ')"
    [[ -n "$addr" ]] && { echo "$addr"; return 0; }
  done
  return 1
}

# Sets master_addr ("host port") and master_port to the master the sentinels name now.
find_sentinel_master() {
  load_env
  [[ "${REDIS_SENTINEL:-no}" == yes ]] || die "this stack has no Sentinels (up --redis-sentinel)"
  master_addr="$(sentinel_master_addr)" || die "no sentinel answers"
  master_port="${master_addr##* }"
}

cmd_kill_redis_master() {
  local master_addr master_port n pid
  find_sentinel_master
  for n in 1 2; do
    [[ "$(redis_data_port "$n")" == "$master_port" ]] || continue
    pid="$(kill9 "Redis node $n" "$(sentinel_dir)/node-$n/redis.pid" redis-server)"
    log "killed the master, Redis node $n (127.0.0.1:$master_port, pid $pid, kill -9); the sentinels promote the other node"
    return 0
  done
  die "the sentinels name $master_addr as master, which is none of this stack's nodes"
}

# The node kill-redis-master killed comes back as an operator brings a failed node back: as a replica of the
# master the sentinels name now (not as a master of its own, empty, until they convert it). Done once it is in
# sync, since only then does the new master have a replica to acknowledge writes (REDIS_REPLICA_ACKS).
cmd_start_redis_replica() {
  local master_addr master_port n deadline
  find_sentinel_master
  for n in 1 2; do
    our_pid "$(sentinel_dir)/node-$n/redis.pid" redis-server >/dev/null && continue
    start_redis_data_node "$n" "$master_port"
    wait_redis_ping "$(redis_data_port "$n")" 15
    deadline=$((SECONDS + 30))
    until [[ "$(info_field "$(redis_data_port "$n")" master_link_status)" == up ]]; do
      ((SECONDS < deadline)) || die "Redis node $n did not sync with the master 127.0.0.1:$master_port within 30 s"
      sleep 0.2
    done
    log "Redis node $n up again (127.0.0.1:$(redis_data_port "$n")), a replica in sync with the master 127.0.0.1:$master_port"
    return 0
  done
  die "both Redis nodes are running: nothing to start"
}

# --- subcommands -------------------------------------------------------------------------------------

cmd_up() {
  local nodes=1 redis_url="${REDIS_URL:-redis://127.0.0.1:6379}" n started secure=no cluster=no sentinel=no
  while (($#)); do
    case "$1" in
      --secure) secure=yes; shift ;;
      --redis-cluster) cluster=yes; shift ;;
      --redis-sentinel) sentinel=yes; shift ;;
      --kafka-nodes) nodes="${2:?--kafka-nodes needs 1 or 3}"; shift 2 ;;
      --kafka-nodes=*) nodes="${1#*=}"; shift ;;
      --redis-port) redis_url="redis://127.0.0.1:${2:?--redis-port needs a port}"; shift 2 ;;
      --redis-port=*) redis_url="redis://127.0.0.1:${1#*=}"; shift ;;
      --kafka-version) kafka_version="${2:?--kafka-version needs a version}"; shift 2 ;;
      --kafka-version=*) kafka_version="${1#*=}"; shift ;;
      *) die "up: unknown option $1" ;;
    esac
  done
  [[ "$nodes" == 1 || "$nodes" == 3 ]] || die "--kafka-nodes must be 1 or 3"
  [[ "$kafka_version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--kafka-version must be a release such as 3.9.1"
  libs="$(libs_of "$kafka_version")"
  [[ "$cluster" == yes && "$sentinel" == yes ]] && die "--redis-cluster and --redis-sentinel exclude each other"
  started=$SECONDS

  # `up` always means a fresh stack: stop whatever a previous `up` left, then wipe its state.
  if compgen -G "$state/kafka/node-*/kafka.pid" >/dev/null || [[ -f "$state/redis/redis.pid" ]] ||
    compgen -G "$state/redis-cluster/node-*/redis.pid" >/dev/null || compgen -G "$state/redis-sentinel/*/redis.pid" >/dev/null; then
    cmd_down
  fi
  rm -rf "$state/kafka" "$state/redis" "$state/redis-cluster" "$state/redis-sentinel" "$state/secure" "$state/stack.env"
  mkdir -p "$state/kafka"
  # A half-started stack is worse than none (JVMs holding ports and memory): on failure stop what this
  # run started. The logs stay in the state dir for a look.
  # Ctrl-C must count as a failure too: left to itself bash runs the EXIT trap with $? = 0 then.
  trap 'if (($? != 0)); then log "up failed; stopping what it started (logs stay in $state)"; cmd_down; fi' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  KAFKA_SECURE="$secure" REDIS_CLUSTER="$cluster" REDIS_SENTINEL="$sentinel"
  # A Cluster or Sentinels replace the single Redis: the sidecar takes one of them, never two.
  if [[ "$cluster" == yes ]]; then
    start_redis_cluster
    redis_url="" REDIS_MANAGED=no
  elif [[ "$sentinel" == yes ]]; then
    start_redis_sentinel
    redis_url="" REDIS_MANAGED=no
  else
    start_redis "$redis_url"
  fi

  check_java
  resolve_jars
  write_log4j
  [[ "$secure" == yes ]] && make_certs
  for ((n = 1; n <= nodes; n++)); do write_node_config "$n" "$nodes"; done
  format_nodes "$nodes"

  # %q: a REDIS_URL with a password may hold characters the shell would otherwise interpret.
  printf 'KAFKA_NODES=%q\nKAFKA_VERSION=%q\nREDIS_URL=%q\nREDIS_MANAGED=%q\nKAFKA_SECURE=%q\nREDIS_CLUSTER=%q\nREDIS_SENTINEL=%q\n' \
    "$nodes" "$kafka_version" "$redis_url" "$REDIS_MANAGED" "$secure" "$cluster" "$sentinel" >"$state/stack.env"
  KAFKA_NODES="$nodes"

  # A combined broker+controller cannot finish starting without a voter majority, so all JVMs must be
  # running before we wait on any of them.
  for ((n = 1; n <= nodes; n++)); do start_node "$n"; done
  log "waiting for $nodes Kafka node(s) (timeout ${timeout_s}s)"
  wait_nodes $(seq 1 "$nodes")
  trap - EXIT INT TERM
  log "up in $((SECONDS - started))s: Kafka $kafka_version at $(brokers_list)$([[ "$secure" == yes ]] && echo ' (SASL_SSL)'), Redis at ${redis_url:-$([[ "$sentinel" == yes ]] && echo "sentinels $(sentinels_list)" || echo "the cluster $(cluster_nodes_list)")}"
}

cmd_down() {
  local pids=() pid f n
  [[ -d "$state" ]] || return 0
  # TERM all brokers at once: stopped one by one, the last voters lose their quorum and their
  # controlled shutdown waits for a controller that is gone.
  for f in "$state"/kafka/node-*/kafka.pid; do
    [[ -e "$f" ]] || continue
    if pid="$(stop_pidfile "$f" TERM)"; then pids+=("$pid"); fi
  done
  for pid in "${pids[@]+"${pids[@]}"}"; do
    if ! wait_gone "$pid" 30; then
      log "Kafka pid $pid ignored TERM for 30s, killing it"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || log "pid $pid still alive"
    fi
  done
  rm -f "$state"/kafka/node-*/kafka.pid
  # Only a Redis we started has a pid file here; a reused one is left alone.
  if [[ -f "$state/redis/redis.pid" ]]; then
    if pid="$(stop_pidfile "$state/redis/redis.pid" TERM redis-server)"; then
      wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$state/redis/redis.pid"
  fi
  stop_redis_cluster
  stop_redis_sentinel
  n=${#pids[@]}
  rm -f "$state/stack.env"
  log "down (stopped $n Kafka node(s))"
}

node_arg() { # N
  load_env
  [[ "${1:-}" =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= KAFKA_NODES)) ||
    die "node must be 1..$KAFKA_NODES, got '${1:-}'"
}

# A crash for fault tests: kill -9, wait until the process is gone, forget its pid file; prints the pid.
kill9() { # what pidfile [text its command line must contain]
  local pid
  pid="$(stop_pidfile "$2" KILL "${3:-}")" || die "$1 is not running"
  wait_gone "$pid" 10 || die "$1 (pid $pid) survived kill -9"
  rm -f "$2"
  echo "$pid"
}

cmd_kill_broker() {
  local n="${1:-}" pid
  node_arg "$n"
  pid="$(kill9 "node $n" "$(node_dir "$n")/kafka.pid")"
  log "killed node $n (pid $pid, kill -9)"
}

cmd_start_broker() {
  local n="${1:-}" started=$SECONDS
  node_arg "$n"
  # Same config and data dir, no formatting: this is a restart after a crash, not a new node.
  start_node "$n"
  wait_nodes "$n"
  log "node $n up again in $((SECONDS - started))s"
}

cmd_status() {
  local n pid st
  load_env
  echo "stack dir: $state"
  echo "kafka $KAFKA_VERSION, $KAFKA_NODES node(s)"
  for ((n = 1; n <= KAFKA_NODES; n++)); do
    if pid="$(our_pid "$(node_dir "$n")/kafka.pid")"; then st="running pid $pid"; else st="stopped"; fi
    if port_open "$(broker_port "$n")"; then st+=", port open"; else st+=", port closed"; fi
    echo "  node $n: 127.0.0.1:$(broker_port "$n") (controller $(controller_port "$n")): $st"
  done
  echo "  active controller (Raft leader): $(raft_leader)"
  [[ "${KAFKA_SECURE:-no}" == yes ]] && echo "  clients: SASL_SSL (SCRAM-SHA-512, OAUTHBEARER unsecured JWS) on $(brokers_list); PLAINTEXT only between brokers"
  if [[ "${REDIS_CLUSTER:-no}" == yes ]]; then
    echo "redis cluster:"
    for ((n = 1; n <= REDIS_CLUSTER_SIZE; n++)); do
      if pid="$(our_pid "$(redis_node_dir "$n")/redis.pid" redis-server)"; then
        st="running pid $pid, $(redis-cli -p "$(redis_cluster_port "$n")" role 2>/dev/null | head -n 1)"
      else st="stopped"; fi
      echo "  node $n: 127.0.0.1:$(redis_cluster_port "$n"): $st"
    done
    return
  fi
  if [[ "${REDIS_SENTINEL:-no}" == yes ]]; then
    echo "redis with sentinels (master name $SENTINEL_MASTER, now $(sentinel_master_addr | tr " " : || echo unknown)):"
    for n in 1 2; do
      if pid="$(our_pid "$(sentinel_dir)/node-$n/redis.pid" redis-server)"; then
        st="running pid $pid, $(redis-cli -p "$(redis_data_port "$n")" role 2>/dev/null | head -n 1)"
      else st="stopped"; fi
      echo "  node $n: 127.0.0.1:$(redis_data_port "$n"): $st"
    done
    for n in 1 2 3; do
      if pid="$(our_pid "$(sentinel_dir)/sentinel-$n/redis.pid" redis-server)"; then st="running pid $pid"; else st="stopped"; fi
      echo "  sentinel $n: 127.0.0.1:$(sentinel_port "$n"): $st"
    done
    return
  fi
  if redis_answers "$REDIS_URL"; then st="answers"; else st="NOT answering"; fi
  if [[ "$REDIS_MANAGED" == yes ]]; then st+=" (started by us)"; else st+=" (not ours, reused)"; fi
  echo "redis $REDIS_URL: $st"
}

# Failover tests behave differently when the node they kill is also the active controller (a Raft
# election comes first), so status shows it. Each node persists the leader it knows in quorum-state;
# the highest epoch among running nodes is the current one.
raft_leader() {
  local n f epoch id best_epoch=-1 best="unknown"
  for ((n = 1; n <= KAFKA_NODES; n++)); do
    our_pid "$(node_dir "$n")/kafka.pid" >/dev/null || continue
    f="$(node_dir "$n")/data/__cluster_metadata-0/quorum-state"
    [[ -f "$f" ]] || continue
    epoch="$(sed -n 's/.*"leaderEpoch":\([0-9-]*\).*/\1/p' "$f")"
    id="$(sed -n 's/.*"leaderId":\([0-9-]*\).*/\1/p' "$f")"
    if [[ -n "$epoch" && -n "$id" && "$id" != -1 ]] && ((epoch > best_epoch)); then
      best_epoch=$epoch best="node $id (epoch $epoch)"
    fi
  done
  echo "$best"
}

# Variables of the other mode are unset, so a shell that ran `env` of an earlier stack is not left half-set.
cmd_env() {
  local sd
  load_env
  echo "export KAFKA_BROKERS=$(brokers_list)"
  if [[ "${KAFKA_SECURE:-no}" == yes ]]; then
    sd="$(secure_dir)"
    printf 'export KAFKA_TLS_CA_FILE=%q\n' "$sd/ca.pem"
    echo "export KAFKA_SASL_MECHANISM=scram-sha-512"
    printf 'export KAFKA_SASL_USERNAME=%q\n' "$(<"$sd/sasl-username")"
    printf 'export KAFKA_SASL_PASSWORD=%q\n' "$(<"$sd/sasl-password")"
    echo "unset KAFKA_SASL_OAUTHBEARER_TOKEN_FILE"
    echo "# OAUTHBEARER instead (KAFKA_CLIENT=platformatic): eval \"\$(bash scripts/stack.sh oauth-token)\""
  else
    echo "unset KAFKA_TLS_CA_FILE KAFKA_SASL_MECHANISM KAFKA_SASL_USERNAME KAFKA_SASL_PASSWORD KAFKA_SASL_OAUTHBEARER_TOKEN_FILE"
  fi
  if [[ "${REDIS_CLUSTER:-no}" == yes ]]; then
    echo "export REDIS_CLUSTER_NODES=$(cluster_nodes_list)"
    echo "unset REDIS_URL REDIS_SENTINELS REDIS_SENTINEL_MASTER"
  elif [[ "${REDIS_SENTINEL:-no}" == yes ]]; then
    echo "export REDIS_SENTINELS=$(sentinels_list)"
    echo "export REDIS_SENTINEL_MASTER=$SENTINEL_MASTER"
    echo "unset REDIS_URL REDIS_CLUSTER_NODES"
  else
    printf 'export REDIS_URL=%q\n' "$REDIS_URL"
    echo "unset REDIS_CLUSTER_NODES REDIS_SENTINELS REDIS_SENTINEL_MASTER"
  fi
}

# An unsigned JWT (header alg "none") for the user `app`, valid SECONDS (default 3600; negative: already
# expired), in <STACK_DIR>/secure/oauthbearer-token: what the broker's unsecured-JWS validator accepts. Prints
# the exports that switch a shell from SCRAM to OAUTHBEARER; run it again to "refresh" the token.
cmd_oauth_token() {
  local lifetime="${1:-3600}" sd now
  load_env
  [[ "${KAFKA_SECURE:-no}" == yes ]] || die "oauth-token needs a stack started with --secure"
  [[ "$lifetime" =~ ^-?[0-9]+$ ]] || die "oauth-token takes a lifetime in seconds, not '$lifetime'"
  sd="$(secure_dir)" now="$(date +%s)"
  part() { printf '%s' "$1" | openssl base64 -A | tr '+/' '-_' | tr -d '='; }
  printf '%s.%s.\n' "$(part '{"alg":"none"}')" "$(part "{\"sub\":\"app\",\"iat\":$now,\"exp\":$((now + lifetime))}")" >"$sd/oauthbearer-token"
  chmod 600 "$sd/oauthbearer-token"
  echo "export KAFKA_SASL_MECHANISM=oauthbearer"
  printf 'export KAFKA_SASL_OAUTHBEARER_TOKEN_FILE=%q\n' "$sd/oauthbearer-token"
  echo "unset KAFKA_SASL_USERNAME KAFKA_SASL_PASSWORD KAFKA_SASL_PASSWORD_FILE"
}

cmd_logs() {
  local lines="${1:-40}" n f
  [[ -f "$state/stack.env" ]] && load_env
  for ((n = 1; n <= ${KAFKA_NODES:-3}; n++)); do
    [[ -f "$(node_dir "$n")/kafka.log" ]] && show_log_tail "$n" "$lines" 2>&1
  done
  for f in "$state/redis/redis.log" "$state"/redis-cluster/node-*/redis.log "$state"/redis-sentinel/*/*.log; do
    [[ -f "$f" ]] || continue
    printf -- '----- tail of %s -----\n' "$f"
    tail -n "$lines" "$f"
  done
  return 0
}

usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  kill-broker) cmd_kill_broker "${2:-}" ;;
  start-broker) cmd_start_broker "${2:-}" ;;
  kill-redis-node) cmd_kill_redis_node "${2:-}" ;;
  start-redis-node) cmd_start_redis_node "${2:-}" ;;
  kill-redis-master) cmd_kill_redis_master ;;
  start-redis-replica) cmd_start_redis_replica ;;
  status) cmd_status ;;
  env) cmd_env ;;
  logs) cmd_logs "${2:-}" ;;
  oauth-token) cmd_oauth_token "${2:-}" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
