#!/usr/bin/env bash
# Package smoke test (.ci/run, phase 1): what a new user gets from the two tarballs, with no workspace links.
#   1. `npm pack` the sidecar (the root package) and the SDK (packages/sdk).
#   2. A fresh project with the SDK tarball alone: its tree is that one package (no server library), and it
#      imports and validates under the machine's Node 20 (MACHINE_NODE, default /usr/bin/node) and Node 24.
#   3. A fresh project with both tarballs: `npx ordered-sidecar --version`, `npx ordered-sidecar serve` against the
#      stack (KAFKA_BROKERS, REDIS_URL), ordered messages sent through the installed SDK (on Node 20) to the
#      installed sidecar and read back from Kafka (scripts/package-smoke/ordered-roundtrip.mjs).
# Node 24 is the `node` first on PATH (.ci/run puts node_modules/.bin there). Exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
MACHINE_NODE="${MACHINE_NODE:-/usr/bin/node}"
: "${KAFKA_BROKERS:?the stack's KAFKA_BROKERS}" "${REDIS_URL:?the stack's REDIS_URL}"

say() { printf 'package-smoke: %s\n' "$*"; }
work="$(mktemp -d)"
npx_pid=""
sidecar_pid=""
# npx runs the bin through `sh -c`, which does not pass a signal on: the sidecar itself (its pid is in its
# first log line) is the process to stop.
cleanup() {
  local pid
  for pid in "$sidecar_pid" "$npx_pid"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  if [[ -n "$npx_pid" ]]; then wait "$npx_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

node24="$(command -v node)"
[[ "$("$node24" -p 'process.versions.node.split(".")[0]')" == 24 ]] || { say "node on PATH is $("$node24" --version), not 24"; exit 1; }
[[ -x "$MACHINE_NODE" ]] || { say "no machine Node at $MACHINE_NODE (set MACHINE_NODE)"; exit 1; }
[[ "$("$MACHINE_NODE" -p 'process.versions.node.split(".")[0]')" == 20 ]] || { say "$MACHINE_NODE is $("$MACHINE_NODE" --version), not Node 20"; exit 1; }

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
cd "$work/app"
printed="$(npx --no-install ordered-sidecar --version)"
[[ "$printed" == "$version" ]] || { say "npx ordered-sidecar --version printed '$printed', expected $version"; exit 1; }
say "npx ordered-sidecar --version: $printed"

port="$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
PORT="$port" REDIS_PREFIX="smoke-$$" LOG_LEVEL=info npx --no-install ordered-sidecar serve >"$work/sidecar.log" 2>&1 &
npx_pid=$!
ready=""
for _ in $(seq 1 120); do
  if ! kill -0 "$npx_pid" 2>/dev/null; then break; fi
  if node -e 'fetch(process.argv[1]).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$port/readyz"; then
    ready=yes
    break
  fi
  sleep 0.5
done
if [[ -z "$ready" ]]; then
  say "the installed sidecar did not become ready on port $port; its log:"
  cat "$work/sidecar.log"
  exit 1
fi
sidecar_pid="$(node -e '
  for (const line of require("node:fs").readFileSync(process.argv[1], "utf8").split("\n"))
    if (line.includes("ordered-sidecar listening")) { console.log(JSON.parse(line).pid); break; }' "$work/sidecar.log")"
[[ "$sidecar_pid" =~ ^[0-9]+$ ]] || { say "no 'listening' line with a pid in the sidecar's log"; cat "$work/sidecar.log"; exit 1; }
say "npx ordered-sidecar serve: ready on 127.0.0.1:$port (pid $sidecar_pid)"

# The operations console ships built in the package (dist/console): its page and script are served.
for file in "" console.js; do
  node -e 'fetch(process.argv[1]).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$port/console/$file" ||
    { say "the installed sidecar does not serve /console/$file (is dist/console in the package?)"; exit 1; }
done
say "the operations console is served from the package"

cp "$REPO/scripts/package-smoke/ordered-roundtrip.mjs" .
SIDECAR_URL="http://127.0.0.1:$port" SMOKE_TOPIC="package-smoke-$$-$(date +%s)" "$MACHINE_NODE" ordered-roundtrip.mjs

kill -TERM "$sidecar_pid"
status=0
wait "$npx_pid" || status=$?
npx_pid=""
sidecar_pid=""
((status == 0)) || { say "the sidecar exited $status on SIGTERM; its log:"; cat "$work/sidecar.log"; exit 1; }
if grep -q '"level":"\(error\|fatal\)"' "$work/sidecar.log"; then say "the sidecar logged errors:"; cat "$work/sidecar.log"; exit 1; fi
say "passed"
