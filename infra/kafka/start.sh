#!/usr/bin/env bash
# Starts one Apache Kafka broker (KRaft, combined broker+controller) on 127.0.0.1 from the Maven
# Central jars named in infra/kafka/pom.xml, in the background, and prints
#   KAFKA_BROKERS=127.0.0.1:<port>
# on stdout once it serves requests. Everything else goes to stderr.
#
#   infra/kafka/start.sh          start (jars are cached, so only the first run downloads)
#   infra/kafka/start.sh stop     stop the broker named by the pid file and delete its data
#   infra/kafka/start.sh cached   exit 0 when the jars for KAFKA_VERSION are cached (start would
#                                 not download), 1 otherwise; prints the jar directory either way
#
# Environment:
#   KAFKA_VERSION            broker version, 3.x (KRaft) or 4.x (default: kafka.version in pom.xml)
#   RUNLEDGER_KAFKA_CACHE    jar cache and default pid file (default ~/.cache/runledger-kafka)
#   RUNLEDGER_KAFKA_PIDFILE  pid file (default $RUNLEDGER_KAFKA_CACHE/broker.pid)
#   RUNLEDGER_KAFKA_TIMEOUT  seconds to wait for the broker (default 90)
#   RUNLEDGER_KAFKA_FETCH_TIMEOUT  seconds allowed for the first download (default 300)
# Needs Java 17+ and, for the first run only, Maven with access to Maven Central.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${RUNLEDGER_KAFKA_CACHE:-$HOME/.cache/runledger-kafka}"
pidfile="${RUNLEDGER_KAFKA_PIDFILE:-$cache/broker.pid}"
timeout="${RUNLEDGER_KAFKA_TIMEOUT:-90}"

say() { printf '%s\n' "kafka: $*" >&2; }
die() { say "$*"; exit 1; }

stop_broker() {
  [ -f "$pidfile" ] || { say "no pid file at $pidfile: nothing to stop"; return 0; }
  local pid data
  pid="$(sed -n 1p "$pidfile")"
  data="$(sed -n 2p "$pidfile")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    say "stopped broker pid $pid"
  fi
  # Only ever delete the directory this script created (it carries our marker file).
  if [ -n "$data" ] && [ -f "$data/.runledger-kafka" ]; then rm -rf "$data"; fi
  rm -f "$pidfile"
}

if [ "${1:-}" = "stop" ]; then stop_broker; exit 0; fi

# One default, in pom.xml; KAFKA_VERSION overrides it.
version="${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")}"
[[ "$version" =~ ^([0-9]+)\.[0-9]+\.[0-9]+$ ]] || die "KAFKA_VERSION=$version is not a release version like 3.9.1 or 4.1.1"
major="${BASH_REMATCH[1]}"
# 3.x still has ZooKeeper mode, but only KRaft is started here; 4.0 removed ZooKeeper (KIP-833).
[ "$major" -ge 3 ] || die "KAFKA_VERSION=$version: only Kafka 3.x (KRaft) and 4.x brokers can be started"
if [ "$major" -ge 4 ]; then profile=kafka4; else profile=kafka3; fi

# The jar set is keyed by the pom's content and the version, so changing either refetches.
pomsum="$(sha256sum "$here/pom.xml" | cut -c1-16)"
libs="$cache/libs-$pomsum-$version"

if [ "${1:-}" = "cached" ]; then echo "$libs"; [ -f "$libs/.complete" ]; exit; fi
[ $# -eq 0 ] || die "usage: infra/kafka/start.sh [stop|cached]"

command -v java >/dev/null || die "java not found: install a Java 17+ runtime"

if [ -f "$pidfile" ] && kill -0 "$(sed -n 1p "$pidfile")" 2>/dev/null; then
  die "a broker is already running (pid $(sed -n 1p "$pidfile"), pid file $pidfile): run 'infra/kafka/start.sh stop' first"
fi

if [ ! -f "$libs/.complete" ]; then
  command -v mvn >/dev/null || die "Kafka $version jars are not cached at $libs and mvn is not installed"
  say "fetching the Kafka $version broker jars from Maven Central into $libs"
  mkdir -p "$cache"
  rm -rf "$libs.tmp"
  # Bounded, so a network that silently drops packets cannot hang CI; colour codes stripped.
  timeout "${RUNLEDGER_KAFKA_FETCH_TIMEOUT:-300}" \
    mvn -q -B -f "$here/pom.xml" -P "$profile" -Dkafka.version="$version" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs.tmp" 2>&1 \
    | sed 's/\x1b\[[0-9;]*m//g' >&2 \
    || die "mvn could not fetch the Kafka $version jars within ${RUNLEDGER_KAFKA_FETCH_TIMEOUT:-300}s (is Maven Central reachable?)"
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  touch "$libs/.complete"
fi

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
port="$(free_port)"
cport="$(free_port)"
while [ "$cport" = "$port" ]; do cport="$(free_port)"; done

data="$(mktemp -d "${TMPDIR:-/tmp}/runledger-kafka-XXXXXX")"
touch "$data/.runledger-kafka"
cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data/logs
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
if [ "$major" -ge 4 ]; then
  # Kafka 4.x logs through log4j 2 (KIP-653).
  cat > "$data/log4j2.properties" <<'PROPS'
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/broker.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.log.name = kafka.log
logger.log.level = warn
logger.storage.name = org.apache.kafka.storage
logger.storage.level = warn
PROPS
  logging=("-Dlog4j2.configurationFile=$data/log4j2.properties")
else
  cat > "$data/log4j.properties" <<'PROPS'
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${kafka.logs.dir}/broker.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.log=WARN
log4j.logger.org.apache.kafka.storage=WARN
PROPS
  logging=("-Dlog4j.configuration=file:$data/log4j.properties")
fi

jvm=(-Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
     "-Dkafka.logs.dir=$data" "${logging[@]}")

# KRaft needs its storage formatted with a cluster id (16 random bytes, base64url without padding).
cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
java "${jvm[@]}" -cp "$libs/*" kafka.tools.StorageTool format -t "$cluster_id" \
  -c "$data/server.properties" >"$data/format.log" 2>&1 \
  || { cat "$data/format.log" >&2; rm -rf "$data"; die "could not format the KRaft storage"; }

mkdir -p "$(dirname "$pidfile")"
nohup java "${jvm[@]}" -cp "$libs/*" kafka.Kafka "$data/server.properties" \
  >"$data/stdout.log" 2>&1 </dev/null &
pid=$!
printf '%s\n%s\n%s\n' "$pid" "$data" "127.0.0.1:$port" > "$pidfile"

# Ready = the server logged that it started and the port accepts connections.
deadline=$((SECONDS + timeout))
until grep -q 'Kafka Server started' "$data/broker.log" 2>/dev/null \
      && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 30 "$data/broker.log" "$data/stdout.log" >&2 2>/dev/null || true
    rm -f "$pidfile"; rm -rf "$data"
    die "the broker exited during start-up (log above)"
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    tail -n 30 "$data/broker.log" >&2 2>/dev/null || true
    stop_broker
    die "the broker did not start within ${timeout}s"
  fi
  sleep 0.3
done

say "Kafka $version broker pid $pid, data $data, log $data/broker.log; stop with: infra/kafka/start.sh stop"
echo "KAFKA_BROKERS=127.0.0.1:$port"
