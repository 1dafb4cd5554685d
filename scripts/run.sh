#!/usr/bin/env bash
# The one entry point behind the README's commands: bootstraps what a fresh machine lacks (pnpm, the
# workspace's packages, a software GPU driver when there is no GPU), then runs the requested job.
#   scripts/run.sh setup | demo | test | bench
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
job="${1:-}"; shift || true

PNPM_VERSION=10.34.9  # keep equal to package.json "packageManager"
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
tools="$repo_root/.graft/tools"
say() { printf 'graft: %s\n' "$*" >&2; }

ensure_pnpm() {
  # corepack's signature check fails against some registries, so pnpm comes from npm, project-locally.
  if [ ! -x "$tools/node_modules/.bin/pnpm" ]; then
    say "installing pnpm $PNPM_VERSION under .graft/tools"
    npm install --prefix "$tools" --no-audit --no-fund --silent "pnpm@$PNPM_VERSION"
  fi
  export PATH="$tools/node_modules/.bin:$PATH"
}

setup() {
  local node_major
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$node_major" -ge 20 ] || { say "Node >= 20 is required (found $(node --version))"; exit 1; }
  ensure_pnpm
  bash "$repo_root/scripts/setup-gpu-driver.sh"
  if [ ! -e node_modules/.modules.yaml ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
    say "installing the workspace's packages"
    pnpm install --frozen-lockfile --reporter=append-only >/dev/null
  fi
}

case "$job" in
  setup) setup ;;
  demo)  setup; pnpm exec turbo run build --output-logs=errors-only; node packages/cli/bin/graft.js demo "$@" ;;
  test)
    setup
    bash "$repo_root/scripts/setup-chromium.sh"  # the run-report test renders report.html in headless Chromium
    rm -rf .graft/test-results
    pnpm exec turbo run build typecheck --output-logs=errors-only
    status=0
    pnpm exec turbo run test --concurrency=1 --continue "$@" || status=$?
    node scripts/test-summary.mjs .graft/test-results kernels,autograd,models,cli,benchmarks || status=1
    exit "$status" ;;
  bench) setup; pnpm exec turbo run build --output-logs=errors-only; node packages/cli/bin/graft.js bench "$@" ;;
  *) say "usage: scripts/run.sh setup|demo|test|bench"; exit 2 ;;
esac
