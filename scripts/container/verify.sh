#!/usr/bin/env bash
# Runs the Dockerfile's steps without a Docker engine. Build stage: only the files the Dockerfile
# copies, with the dev dependencies (the repository's own, same lockfile), bundled into relay/dist.
# Runtime stage: a clean folder with a production-only install and that bundle, precompiled and
# started with the container's NODE_OPTIONS. Checks that a start takes the compile cache, the
# HEALTHCHECK command, /readyz's store check, the /docs UI (loaded on demand from the production
# install) and a graceful SIGTERM stop. Catches a runtime dependency left in devDependencies or a
# file the image does not copy.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
node22="$repo/node_modules/.bin/node"
work="$(mktemp -d)"
port="${VERIFY_PORT:-18181}"
trap 'kill "${relay_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir -p "$work/build/relay" "$work/build/scripts" "$work/app/relay" "$work/app/.data"
cp -r "$repo/relay/src" "$repo/relay/bin" "$work/build/relay/"
cp -r "$repo/scripts/build" "$work/build/scripts/"
ln -s "$repo/node_modules" "$work/build/node_modules"
"$node22" --disable-warning=ExperimentalWarning "$work/build/scripts/build/relay.ts" >/dev/null

cd "$work/app"
cp "$repo/package.json" "$repo/package-lock.json" .
npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
cp -r "$work/build/relay/dist" relay/dist

# Placeholder credentials: the systems are unreachable here, so /readyz must report them failed
# while the process itself is healthy.
export NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size=384"
export NODE_COMPILE_CACHE="$work/app/.cache/node-compile"
"$node22" relay/dist/main.mjs precompile >/dev/null
# The cache is keyed by Node's version and V8 flags: a start under the image's flags must take it.
NODE_DEBUG_NATIVE=COMPILE_CACHE "$node22" relay/dist/main.mjs --help 2>&1 >/dev/null \
    | grep -q 'cli-.*was accepted' || { echo "container check: compile cache not used" >&2; exit 1; }
export RELAY_HOST=127.0.0.1 RELAY_PORT="$port" RELAY_STORE_URL="sqlite:$work/app/.data/relay.db"
export RELAY_ADMIN_TOKEN=container-check-admin-token RELAY_CALLOUT_KEY=container-check-callout-key
export RELAY_BUSINESS_EVENTS_SECRET=container-check-events-secret
export D365_ENVIRONMENT_URL=https://127.0.0.1:9 D365_TENANT_ID=t D365_CLIENT_ID=c D365_CLIENT_SECRET=s
export SF_LOGIN_URL=https://127.0.0.1:9 SF_AUTH_FLOW=client_credentials SF_CLIENT_ID=c SF_CLIENT_SECRET=s
export RELAY_LOG_LEVEL=error
"$node22" relay/dist/main.mjs start &
relay_pid=$!

healthcheck() {
    "$node22" -e "fetch('http://127.0.0.1:'+process.env.RELAY_PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
}
for _ in $(seq 1 50); do healthcheck && break; sleep 0.2; done
healthcheck || { echo "container check: /healthz never answered" >&2; exit 1; }

ready="$(curl -s "http://127.0.0.1:$port/readyz")"
case "$ready" in
    *'"store":"ok"'*'"d365":"failed"'*) ;;
    *) echo "container check: unexpected /readyz answer: $ready" >&2; exit 1 ;;
esac

docs="$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "http://127.0.0.1:$port/docs/")"
case "$docs" in
    '200 text/html'*) ;;
    *) echo "container check: /docs/ answered $docs" >&2; exit 1 ;;
esac

kill -TERM "$relay_pid"
wait "$relay_pid" && status=0 || status=$?
[ "$status" -eq 0 ] || { echo "container check: SIGTERM exit code $status" >&2; exit 1; }
echo "container check passed: bundle build, production install, compile cache, health check, readiness, /docs, graceful stop"
