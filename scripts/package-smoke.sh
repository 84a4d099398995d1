#!/usr/bin/env bash
# Package smoke test (.ci/run, phase 1): what a new user gets from the two tarballs, with no workspace links. The
# server is an esbuild bundle (scripts/build-server.mjs, @platformatic/kafka tree-shaken, lazily loaded chunks) that
# the test suite, on the TypeScript sources, never runs: this is where each of its paths runs once.
#   1. `npm pack` the sidecar (the root package) and the SDK (packages/sdk).
#   2. A fresh project with the SDK tarball alone: its tree is that one package (no server library), and it
#      imports and validates under the machine's Node 20 (MACHINE_NODE, default /usr/bin/node) and Node 24.
#   3. A fresh project with both tarballs: `npx ordered-sidecar --version`, a `strict` client of the bundled
#      @platformatic/kafka refusing bad options as the library does (strict-validation.mjs), then two `npx ordered-sidecar serve`
#      against the stack (KAFKA_BROKERS, REDIS_URL), one fleet: A on the default engine (@platformatic/kafka) writing
#      snappy, with a subscription pushed to an endpoint made with the installed SDK (signed deliveries,
#      scripts/package-smoke/push-endpoint.mjs) and TRACING=on (spans to the same process); B on
#      KAFKA_CLIENT=kafkajs writing lz4 (the codecs of the bundled @platformatic/kafka). Through each, ordered
#      messages sent with the installed SDK (on Node 20 to A, on Node 24 to B) and read back from Kafka
#      (ordered-roundtrip.mjs); A's also delivered to the endpoint in order per group (await-deliveries.mjs), one
#      dead-lettered on purpose. The CLI: `config check` of A's configuration before it starts, then against them
#      `groups` (topics, list, get, loads), `groups rebuild` of both topics from the route log (each engine's
#      reader) after their mappings were deleted from Redis, `dlq replay`, `subscriptions stop/reset/start` (a
#      second delivery pass); /v1/openapi.json and the console served. Both must stop cleanly on SIGTERM, without
#      logging an error.
# Node 24 is the `node` first on PATH (.ci/run puts node_modules/.bin there). Exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
MACHINE_NODE="${MACHINE_NODE:-/usr/bin/node}"
: "${KAFKA_BROKERS:?the stack's KAFKA_BROKERS}" "${REDIS_URL:?the stack's REDIS_URL}"

say() { printf 'package-smoke: %s\n' "$*"; }
work="$(mktemp -d)"
# Every process started in the background (the npx shells, the endpoint, the round trips), and the sidecars
# themselves: npx runs the bin through `sh -c`, which does not pass a signal on, so the sidecar (its pid is in its
# first log line) is the process to stop.
declare -A npx_pids=() sidecar_pids=()
started=()
cleanup() {
  local pid
  for pid in "${sidecar_pids[@]}" "${npx_pids[@]}" "${started[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for pid in "${npx_pids[@]}" "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

node24="$(command -v node)"
[[ "$("$node24" -p 'process.versions.node.split(".")[0]')" == 24 ]] || { say "node on PATH is $("$node24" --version), not 24"; exit 1; }
[[ -x "$MACHINE_NODE" ]] || { say "no machine Node at $MACHINE_NODE (set MACHINE_NODE)"; exit 1; }
[[ "$("$MACHINE_NODE" -p 'process.versions.node.split(".")[0]')" == 20 ]] || { say "$MACHINE_NODE is $("$MACHINE_NODE" --version), not Node 20"; exit 1; }
command -v redis-cli >/dev/null || { say "no redis-cli on PATH (it deletes mappings before the route log rebuild)"; exit 1; }

# --- 1. pack ------------------------------------------------------------------------------------------------
mkdir "$work/tarballs"
npm pack --silent --pack-destination "$work/tarballs" >/dev/null
npm pack --silent --workspace packages/sdk --pack-destination "$work/tarballs" >/dev/null
version="$(node -p 'require("./package.json").version')"
sidecar_tgz="$work/tarballs/ordered-sidecar-$version.tgz"
sdk_tgz="$work/tarballs/ordered-sidecar-client-$(node -p 'require("./packages/sdk/package.json").version').tgz"
ls -l "$work/tarballs"
# The tarballs carry what the packages need and nothing of the development tree. (Listed first: with pipefail,
# `tar | grep -q` may report tar's SIGPIPE.)
sidecar_files="$(tar -tzf "$sidecar_tgz")"
sdk_files="$(tar -tzf "$sdk_tgz")"
grep -qx 'package/dist/cli.js' <<<"$sidecar_files" || { say "the sidecar tarball has no dist/cli.js"; exit 1; }
if grep -Eq '^package/(src|test|scripts)/' <<<"$sidecar_files"; then say "the sidecar tarball carries sources"; exit 1; fi
grep -qx 'package/dist/sdk/index.d.ts' <<<"$sdk_files" || { say "the SDK tarball has no type declarations"; exit 1; }

new_project() { # dir
  mkdir -p "$1"
  printf '{ "name": "smoke-app", "version": "1.0.0", "private": true, "type": "module" }\n' >"$1/package.json"
}

# --- 2. the SDK alone, on Node 20 and Node 24 ----------------------------------------------------------------
new_project "$work/sdk-app"
(cd "$work/sdk-app" && npm install --no-audit --no-fund --loglevel=error "$sdk_tgz")
installed="$(cd "$work/sdk-app/node_modules" && find . -mindepth 1 -maxdepth 2 -name package.json | sort | tr '\n' ' ')"
[[ "$installed" == "./ordered-sidecar-client/package.json " ]] || { say "installing the SDK brought more than itself: $installed"; exit 1; }
[[ ! -L "$work/sdk-app/node_modules/ordered-sidecar-client" ]] || { say "the SDK is a link, not an install"; exit 1; }
cp scripts/package-smoke/sdk-import.mjs scripts/package-smoke/sdk-types.ts "$work/sdk-app/"
(cd "$work/sdk-app" && "$MACHINE_NODE" sdk-import.mjs && "$node24" sdk-import.mjs)
# Its type declarations check under strict settings without skipLibCheck, with kafkajs and prom-client absent.
(cd "$work/sdk-app" && "$REPO/node_modules/.bin/tsc" --noEmit --strict --exactOptionalPropertyTypes --module nodenext \
  --moduleResolution nodenext --target es2022 --types node --typeRoots "$REPO/node_modules/@types" sdk-types.ts)
say "the SDK's type declarations check without its optional peers"

# --- 3. the sidecar from its tarball, the SDK talking to it --------------------------------------------------
new_project "$work/app"
(cd "$work/app" && npm install --no-audit --no-fund --loglevel=error "$sdk_tgz" "$sidecar_tgz")
for pkg in ordered-sidecar ordered-sidecar-client; do
  [[ -d "$work/app/node_modules/$pkg" && ! -L "$work/app/node_modules/$pkg" ]] || { say "$pkg is not installed from its tarball"; exit 1; }
done
cp "$REPO"/scripts/package-smoke/{create-topics,ordered-roundtrip,push-endpoint,await-deliveries,strict-validation}.mjs "$work/app/"
cd "$work/app"
printed="$(npx --no-install ordered-sidecar --version)"
[[ "$printed" == "$version" ]] || { say "npx ordered-sidecar --version printed '$printed', expected $version"; exit 1; }
say "npx ordered-sidecar --version: $printed"
node strict-validation.mjs

free_port() { node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
http_ok() { node -e 'fetch(process.argv[1]).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' "$1"; }
cli() { npx --no-install ordered-sidecar "$@"; }
# An expression of `d`, the JSON document on stdin, as `node -p` prints it.
field() { node -p "(d => $1)(JSON.parse(require('node:fs').readFileSync(0, 'utf8')))"; }

launch() { # name port VAR=value...: `npx ordered-sidecar serve` with those variables, in the background
  local name="$1" port="$2"
  shift 2
  env PORT="$port" REDIS_PREFIX="$prefix" LOG_LEVEL=info "$@" npx --no-install ordered-sidecar serve >"$work/$name.log" 2>&1 &
  npx_pids[$name]=$!
}
await_ready() { # name port: polls /readyz, then takes the sidecar's pid from its 'listening' log line
  local name="$1" port="$2" pid
  for _ in $(seq 1 120); do
    kill -0 "${npx_pids[$name]}" 2>/dev/null || break
    if http_ok "http://127.0.0.1:$port/readyz"; then
      pid="$(node -e '
        for (const line of require("node:fs").readFileSync(process.argv[1], "utf8").split("\n"))
          if (line.includes("ordered-sidecar listening")) { console.log(JSON.parse(line).pid); break; }' "$work/$name.log")"
      [[ "$pid" =~ ^[0-9]+$ ]] || { say "no 'listening' line with a pid in sidecar $name's log"; cat "$work/$name.log"; exit 1; }
      sidecar_pids[$name]="$pid"
      say "sidecar $name: ready on 127.0.0.1:$port (pid $pid)"
      return 0
    fi
    sleep 0.5
  done
  say "the installed sidecar $name did not become ready on port $port; its log:"
  cat "$work/$name.log"
  exit 1
}
stop_sidecars() { # name...: SIGTERM to each at once; each must exit 0 without having logged an error
  local name status
  for name in "$@"; do kill -TERM "${sidecar_pids[$name]}"; done
  for name in "$@"; do
    status=0
    wait "${npx_pids[$name]}" || status=$?
    unset "npx_pids[$name]" "sidecar_pids[$name]"
    ((status == 0)) || { say "sidecar $name exited $status on SIGTERM; its log:"; cat "$work/$name.log"; exit 1; }
    if grep -q '"level":"\(error\|fatal\)"' "$work/$name.log"; then say "sidecar $name logged errors:"; cat "$work/$name.log"; exit 1; fi
  done
}

# What the round trips send and the endpoint expects: g0..g7, 25 messages each; g7:3 is refused by the endpoint.
export SMOKE_GROUPS=8 SMOKE_PER_GROUP=25 SMOKE_POISON=g7:3
prefix="smoke-$$"
topic_a="package-smoke-$$-$(date +%s)"
topic_b="$topic_a-kafkajs"
dlq="$topic_a.dlq"
port_a="$(free_port)"
port_b="$(free_port)"
url_a="http://127.0.0.1:$port_a"
url_b="http://127.0.0.1:$port_b"

# B first (it needs no topic); A once its topics and its endpoint exist.
launch b "$port_b" KAFKA_CLIENT=kafkajs KAFKA_COMPRESSION=lz4
printf 'smoke-signing-secret-%s\n' "$$" >"$work/signing-secret"
node push-endpoint.mjs "$work/signing-secret" >"$work/endpoint.out" 2>"$work/endpoint.err" &
started+=("$!")
"$MACHINE_NODE" create-topics.mjs "$topic_a:6" "$topic_b:6" "$dlq:1"
for _ in $(seq 1 50); do [[ -s "$work/endpoint.out" ]] && break; sleep 0.1; done
endpoint="http://127.0.0.1:$(head -n1 "$work/endpoint.out")"
http_ok "$endpoint/received" || { say "the push endpoint did not start:"; cat "$work/endpoint.err"; exit 1; }
cat >"$work/subscriptions.json" <<JSON
{"subscriptions": [{"name": "smoke", "topic": "$topic_a", "consumer_group": "package-smoke-$$", "endpoint": "$endpoint/deliver",
  "max_attempts": 2, "retry_backoff": "10ms", "dead_letter_topic": "$dlq", "signing_secret_file": "$work/signing-secret"}]}
JSON
SUBSCRIPTIONS_FILE="$work/subscriptions.json" cli config check >"$work/config-check.out" ||
  { say "config check refused A's configuration:"; cat "$work/config-check.out"; exit 1; }
launch a "$port_a" KAFKA_COMPRESSION=snappy SUBSCRIPTIONS_FILE="$work/subscriptions.json" TRACING=on OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" OTEL_BSP_SCHEDULE_DELAY=200
await_ready b "$port_b"
await_ready a "$port_a"

# The files the sources read next to themselves are found in the bundle's layout: the console, the OpenAPI document.
for file in "" console.js; do
  http_ok "$url_a/console/$file" || { say "the installed sidecar does not serve /console/$file (is dist/console in the package?)"; exit 1; }
done
openapi="$(node -e 'fetch(process.argv[1]).then(async (r) => (r.ok ? console.log(await r.text()) : process.exit(1)), () => process.exit(1))' "$url_a/v1/openapi.json")" ||
  { say "GET /v1/openapi.json failed"; exit 1; }
[[ "$(field 'd.info.version + " " + Object.keys(d.paths).includes("/v1/ordered-produce")' <<<"$openapi")" == "$version true" ]] ||
  { say "/v1/openapi.json is not the package's document: ${openapi:0:300}"; exit 1; }
say "the operations console and /v1/openapi.json are served from the package"

# Both round trips at once. (kafkajs, the reader, sets a negative timer that Node 24 warns about.)
SIDECAR_URL="$url_a" SMOKE_TOPIC="$topic_a" SMOKE_CODEC=snappy "$MACHINE_NODE" ordered-roundtrip.mjs &
roundtrip_a=$!
SIDECAR_URL="$url_b" SMOKE_TOPIC="$topic_b" SMOKE_CODEC=lz4 node --disable-warning=TimeoutNegativeWarning ordered-roundtrip.mjs &
roundtrip_b=$!
started+=("$roundtrip_a" "$roundtrip_b")
wait "$roundtrip_a" || { say "the round trip through sidecar a (platformatic) failed"; exit 1; }
wait "$roundtrip_b" || { say "the round trip through sidecar b (kafkajs) failed"; exit 1; }

# The mappings, as the CLI shows them: each group's partition is the one its messages were delivered from.
topics="$(cli groups topics --url "$url_a")"
grep -qx "$topic_a" <<<"$topics" && grep -qx "$topic_b" <<<"$topics" || { say "groups topics lists: $topics"; exit 1; }
cli groups list "$topic_a" --all --json --url "$url_a" >"$work/groups-a.json"
cli groups list "$topic_b" --all --json --url "$url_b" >"$work/groups-b.json"
node await-deliveries.mjs "$endpoint" delivered "$work/groups-a.json"
[[ "$(cli groups loads "$topic_a" --json --url "$url_a" | field d.total)" == "$SMOKE_GROUPS" ]] || { say "groups loads does not count $SMOKE_GROUPS groups"; exit 1; }
mapping="$(cli groups get "$topic_b" g0 --url "$url_b")"
grep -q '^partition ' <<<"$mapping" || { say "groups get printed no partition: $mapping"; exit 1; }
[[ "$(cli subscriptions blocked smoke --json --url "$url_a" | field d.blocked_groups.length)" == 0 ]] || { say "subscription smoke has blocked groups"; exit 1; }

# The route log read back by each engine's reader: the topics' mappings deleted from Redis (a loss the epoch cannot
# see), `groups rebuild` restores every one, on the partition it had.
rebuild_routes() { # side topic url
  local side="$1" topic="$2" url="$3" restored
  redis-cli -u "$REDIS_URL" --scan --pattern "$prefix:{$topic}:m:*" | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null
  redis-cli -u "$REDIS_URL" del "$prefix:{$topic}:loads" >/dev/null
  restored="$(cli groups rebuild "$topic" --json --url "$url" | field d.restored)"
  [[ "$restored" == "$SMOKE_GROUPS" ]] || { say "groups rebuild on sidecar $side restored $restored mappings, not $SMOKE_GROUPS"; exit 1; }
  cli groups list "$topic" --all --json --url "$url" >"$work/rebuilt-$side.json"
  node -e '
    const routes = (file) => JSON.stringify(JSON.parse(require("node:fs").readFileSync(file, "utf8")).groups.map((g) => [g.group, g.partition]).sort());
    if (routes(process.argv[1]) !== routes(process.argv[2])) { console.error(`rebuilt ${routes(process.argv[2])}, was ${routes(process.argv[1])}`); process.exit(1); }
  ' "$work/groups-$side.json" "$work/rebuilt-$side.json" || { say "groups rebuild on sidecar $side changed the mappings"; exit 1; }
}
rebuild_routes a "$topic_a" "$url_a"
rebuild_routes b "$topic_b" "$url_b"
say "groups rebuild restored $SMOKE_GROUPS mappings per topic from the route log, on both engines"

# The dead letter produced again, then the subscription moved back to the start and consumed again.
replayed="$(cli dlq replay smoke --json --url "$url_a" | field d.replayed)"
[[ "$replayed" == 1 ]] || { say "dlq replay produced $replayed dead letters, not 1"; exit 1; }
node await-deliveries.mjs "$endpoint" replayed
cli subscriptions stop smoke --url "$url_a" >/dev/null
cli subscriptions reset smoke --to earliest --url "$url_a" >/dev/null
cli subscriptions start smoke --url "$url_a" >/dev/null
node await-deliveries.mjs "$endpoint" reset

stop_sidecars a b
# Nothing delivered twice while they stopped.
node await-deliveries.mjs "$endpoint" reset >/dev/null
say "passed"
