#!/usr/bin/env bash
# Run the sidecar against a local stack, in the foreground, for development.
#
#   npm run dev -- [serve options]          (or: bash scripts/dev.sh [serve options])
#   DEV_KAFKA_NODES=3 npm run dev            three Kafka nodes instead of one
#
# The stack is left running when the sidecar stops, so the next start takes seconds; stop it with
# `npm run stack -- down`.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# The machine's own node may be older than the project needs; the `node` devDependency puts Node 24
# in node_modules/.bin, which runs our .ts sources directly.
if [[ ! -d node_modules ]]; then
  echo "[dev] node_modules missing, running npm ci" >&2
  npm ci
fi
export PATH="$repo/node_modules/.bin:$PATH"

bash scripts/stack.sh up --kafka-nodes "${DEV_KAFKA_NODES:-1}"
eval "$(bash scripts/stack.sh env)"
echo "[dev] KAFKA_BROKERS=$KAFKA_BROKERS REDIS_URL=$REDIS_URL" >&2

trap 'echo "[dev] sidecar stopped; the stack is still running (stop it with: npm run stack -- down)" >&2' EXIT

# The sidecar never creates topics; the README tour uses this one.
node scripts/topic.ts create "${DEV_TOPIC:-orders}" "${DEV_TOPIC_PARTITIONS:-6}" >&2

# Not `exec`: the EXIT trap above must still run after the sidecar ends. It runs in the background
# so that a TERM sent to this script can be passed on at once (bash runs traps only between
# commands). Ctrl-C needs no relay: the terminal sends SIGINT to the sidecar too.
node src/cli.ts serve "$@" &
sidecar=$!
trap 'kill -TERM "$sidecar" 2>/dev/null || true' TERM HUP
trap ':' INT
status=0
wait "$sidecar" || status=$?
# A trap interrupts `wait`; keep waiting until the sidecar has really finished its shutdown.
while kill -0 "$sidecar" 2>/dev/null; do
  status=0
  wait "$sidecar" || status=$?
done
exit "$status"
