#!/usr/bin/env bash
# Validates the deployment files without a Docker engine or a cluster:
#   - promtool: alerts.yml syntax, the alert unit tests (alerts.test.yml), prometheus.yml, and the PromQL
#     of every Grafana dashboard query;
#   - every YAML/JSON file under deploy/ and docker-compose.yml parses;
#   - alerts and dashboard use only the sidecar's metric names (and their labels);
#   - Kubernetes manifests against the Kubernetes API schema (npm package kubernetes-models);
#   - docker-compose.yml through `docker compose config` (or docker-compose v1);
#   - Dockerfile COPY sources vs .dockerignore; the container healthcheck script's syntax.
# Exits non-zero if anything fails. Installs what it needs when missing (promtool and docker-compose
# from Debian's packages when running as root; the npm tools into a cache directory), so it also runs
# on a fresh CI machine. Needs node (>= 18) and npm.
#
#   bash scripts/check-deploy.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

log() { printf '==> %s\n' "$*"; }
die() { printf 'check-deploy: %s\n' "$*" >&2; exit 1; }

APT_UPDATED=0
apt_install() {
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    return 1
  fi
  if [[ $APT_UPDATED -eq 0 ]]; then
    apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---------------------------------------------------------------- tools
if ! command -v promtool >/dev/null 2>&1; then
  log "promtool missing: installing Debian package prometheus"
  apt_install prometheus || die "promtool not found and cannot apt-get install prometheus (not root / no apt)"
fi
command -v promtool >/dev/null 2>&1 || die "promtool still not on PATH after installing prometheus"

NODE=$(command -v node || true)
[[ -z $NODE && -x $ROOT/node_modules/.bin/node ]] && NODE=$ROOT/node_modules/.bin/node
[[ -n $NODE ]] || die "node not found (install Node.js or run npm ci first)"
command -v npm >/dev/null 2>&1 || die "npm not found"

# Pinned npm tools, kept out of the project's own dependencies.
TOOLS=${CHECK_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ordered-sidecar/check-deploy-tools}
TOOLS_PKG='{"name":"check-deploy-tools","private":true,"dependencies":{"yaml":"2.9.1","kubernetes-models":"4.5.1"}}'
# (npm may rewrite package.json, so a separate stamp records what was installed.)
if [[ ! -f $TOOLS/.installed || $(cat "$TOOLS/.installed") != "$TOOLS_PKG" ]]; then
  log "installing yaml + kubernetes-models into $TOOLS"
  mkdir -p "$TOOLS"
  rm -f "$TOOLS/.installed"
  printf '%s' "$TOOLS_PKG" >"$TOOLS/package.json"
  (cd "$TOOLS" && npm install --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null) \
    || die "npm install of the check tools failed"
  printf '%s' "$TOOLS_PKG" >"$TOOLS/.installed"
fi
export CHECK_DEPLOY_TOOLS=$TOOLS

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

PASSED=0
FAILED=0
FAILURES=()
step() {
  local name=$1
  shift
  if "$@" >"$WORK/step.log" 2>&1; then
    PASSED=$((PASSED + 1))
    printf 'ok    %s\n' "$name"
  else
    FAILED=$((FAILED + 1))
    FAILURES+=("$name")
    printf 'FAIL  %s\n' "$name"
    sed 's/^/        /' "$WORK/step.log"
  fi
}

# ---------------------------------------------------------------- Prometheus
log "Prometheus rules and config ($(promtool --version 2>&1 | head -n1))"
step "promtool check rules deploy/prometheus/alerts.yml" \
  promtool check rules deploy/prometheus/alerts.yml
step "promtool test rules deploy/prometheus/alerts.test.yml" \
  bash -c 'cd deploy/prometheus && promtool test rules alerts.test.yml'
# prometheus.yml loads /etc/prometheus/alerts.yml (the compose mount); check it against a copy.
check_prom_config() {
  cp deploy/prometheus/alerts.yml "$WORK/alerts.yml"
  sed "s#/etc/prometheus/alerts.yml#$WORK/alerts.yml#" deploy/prometheus/prometheus.yml >"$WORK/prometheus.yml"
  promtool check config "$WORK/prometheus.yml"
}
step "promtool check config deploy/prometheus/prometheus.yml" check_prom_config

# ---------------------------------------------------------------- static checks (node)
log "Static checks (YAML/JSON, metric names, dashboard, provisioning, compose wiring, k8s schema, Dockerfile)"
if "$NODE" scripts/check-deploy.mjs "$WORK"; then
  PASSED=$((PASSED + 1))
else
  FAILED=$((FAILED + 1))
  FAILURES+=("scripts/check-deploy.mjs")
fi
if [[ -f $WORK/dashboard-exprs.rules.yml ]]; then
  step "promtool parses every dashboard query ($(grep -c 'record:' "$WORK/dashboard-exprs.rules.yml") expressions)" \
    promtool check rules "$WORK/dashboard-exprs.rules.yml"
fi
step "node --check deploy/docker/healthcheck.mjs" "$NODE" --check deploy/docker/healthcheck.mjs

# ---------------------------------------------------------------- docker compose
log "docker compose config"
COMPOSE=()
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
else
  log "no docker compose: installing Debian package docker-compose (v1, parses and validates without an engine)"
  if apt_install docker-compose; then COMPOSE=(docker-compose); fi
fi
if [[ ${#COMPOSE[@]} -gt 0 ]]; then
  # `config` validates the file and resolves variables; it needs no Docker engine.
  step "${COMPOSE[*]} -f docker-compose.yml config" "${COMPOSE[@]}" -f docker-compose.yml config -q
else
  FAILED=$((FAILED + 1))
  FAILURES+=("docker compose config (no compose implementation available)")
  printf 'FAIL  docker compose config: neither `docker compose` nor docker-compose available\n'
fi

# ---------------------------------------------------------------- summary
echo
if [[ $FAILED -gt 0 ]]; then
  printf 'failed: %s\n' "${FAILURES[@]}"
fi
echo "check-deploy: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
