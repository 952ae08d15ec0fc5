#!/usr/bin/env bash
# Validates the deployment files without a cluster or a Docker engine:
#   1. k8s/base and every overlay render with `kubectl kustomize` (no Secret; HPAs, NetworkPolicies,
#      an Ingress, read-only root filesystems);
#   1b. deploy/prometheus passes `promtool check rules` and `check config`;
#   2. docker-compose.yml passes `docker-compose config -q`.
# Installs Debian's docker-compose with apt-get when it is missing and we are
# root; a check whose tool is unavailable is skipped with a message.
# Exits non-zero when a check that ran failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

failed=0
ran=0
skipped=0

log() { printf 'check-deploy: %s\n' "$*"; }

# ---- kustomize ---------------------------------------------------------------
if command -v kubectl >/dev/null 2>&1; then
    rendered="$(mktemp)"
    trap 'rm -f "$rendered"' EXIT
    for tree in k8s/base k8s/overlays/dev k8s/overlays/prod; do
        ran=$((ran + 1))
        if kubectl kustomize "$tree" >"$rendered"; then
            if grep -qE '^kind: Secret$' "$rendered"; then
                log "FAIL kustomize: $tree renders a Secret; secrets must be created out of band"
                failed=$((failed + 1))
            elif [ "$(grep -cE '^kind: Deployment$' "$rendered")" -ne 3 ]; then
                log "FAIL kustomize: $tree: expected 3 Deployments (api, ingest, projections)"
                failed=$((failed + 1))
            elif [ "$(grep -cE '^kind: HorizontalPodAutoscaler$' "$rendered")" -ne 2 ] || ! grep -qE '^kind: NetworkPolicy$' "$rendered" \
                 || ! grep -qE '^kind: Ingress$' "$rendered" || [ "$(grep -c 'readOnlyRootFilesystem: true' "$rendered")" -ne 3 ]; then
                log "FAIL kustomize: $tree: expected 2 HPAs, NetworkPolicies, an Ingress and a read-only root filesystem in every Deployment"
                failed=$((failed + 1))
            else
                log "ok   kubectl kustomize $tree"
            fi
        else
            log "FAIL kubectl kustomize $tree"
            failed=$((failed + 1))
        fi
    done
else
    log "SKIP kustomize: kubectl is not installed"
    skipped=$((skipped + 1))
fi

# ---- Prometheus configuration and alert rules ---------------------------------
source scripts/lib/tools.sh
if ensure_promtool; then
    ran=$((ran + 1))
    if promtool check rules deploy/prometheus/rules.yml >/dev/null && \
       (cd deploy/prometheus && sed 's#/etc/prometheus/rules.yml#rules.yml#' prometheus.yml > .prometheus-check.yml && promtool check config --syntax-only .prometheus-check.yml >/dev/null; status=$?; rm -f .prometheus-check.yml; exit $status); then
        log "ok   promtool check rules and config (deploy/prometheus)"
    else
        log "FAIL promtool check rules/config (deploy/prometheus)"
        failed=$((failed + 1))
    fi
else
    log "SKIP promtool: could not be fetched"
    skipped=$((skipped + 1))
fi

# ---- docker-compose ----------------------------------------------------------
install_compose() {
    [ "$(id -u)" -eq 0 ] || return 1
    command -v apt-get >/dev/null 2>&1 || return 1
    log "installing docker-compose with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq docker-compose </dev/null >/dev/null 2>&1 && return 0
    # Package lists may be missing or stale on a fresh machine.
    apt-get update -qq </dev/null >/dev/null 2>&1 || true
    apt-get install -y -qq docker-compose </dev/null >/dev/null 2>&1
}

compose=()
if ! command -v docker-compose >/dev/null 2>&1; then
    install_compose || log "could not install docker-compose with apt-get"
fi
if command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    compose=(docker compose)    # the Compose v2 plugin validates the same file
fi

if [ ${#compose[@]} -gt 0 ]; then
    ran=$((ran + 1))
    if "${compose[@]}" -f docker-compose.yml config -q; then
        log "ok   ${compose[*]} -f docker-compose.yml config -q"
    else
        log "FAIL ${compose[*]} -f docker-compose.yml config -q"
        failed=$((failed + 1))
    fi
else
    log "SKIP compose: docker-compose is missing and could not be installed (needs root and apt-get)"
    skipped=$((skipped + 1))
fi

if [ "$failed" -gt 0 ]; then
    log "deployment checks FAILED ($failed failed, $ran run, $skipped skipped)"
    exit 1
fi
log "deployment checks ok ($ran run, $skipped skipped)"
