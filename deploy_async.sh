#!/usr/bin/env bash
# Deploy aijobs to Railway: set the service's variables, upload, and wait until /health answers.
#
#   ./deploy_async.sh [--dry-run] [--service NAME] [--health-url URL] [--timeout SECONDS] [--set VAR=VALUE]...
#
# Variables are taken from this shell's environment when set (MAX_CONCURRENT_JOBS=2 ./deploy_async.sh)
# and from --set flags (which win). Secrets are never printed.
set -euo pipefail

VARIABLES=(
  MAX_CONCURRENT_JOBS JOB_PROCESSING_INTERVAL MAX_JOB_RETRIES JOB_CLEANUP_DAYS LEASE_TTL_SECONDS
  OLLAMA_BASE_URL DEFAULT_MODEL RUN_PROCESSOR
  AUTH_MODE JWT_SECRET JWT_JWKS_URL JWT_AUDIENCE JWT_ISSUER FIREBASE_PROJECT_ID ADMIN_USERS CORS_ORIGINS
  MAX_QUEUED_PER_USER TRAINING_COMMAND LOG_LEVEL
)
SECRETS=" JWT_SECRET DATABASE_URL "

dry_run=false
service=""
health_url="${HEALTH_URL:-}"
timeout=300
declare -a settings=()

usage() {
  cat <<'USAGE'
Deploy aijobs to Railway: set variables, `railway up`, then wait for the health check.

Usage: ./deploy_async.sh [options]

  --dry-run            print every command instead of running it
  --service NAME       the Railway service to deploy (default: the linked one)
  --set VAR=VALUE      set a variable (repeatable); wins over the environment
  --health-url URL     where to poll /health (default: $HEALTH_URL, else the service's Railway domain)
  --timeout SECONDS    how long to wait for the health check (default 300)
  -h, --help           this help

Variables read from the environment when set:
  MAX_CONCURRENT_JOBS JOB_PROCESSING_INTERVAL MAX_JOB_RETRIES JOB_CLEANUP_DAYS LEASE_TTL_SECONDS
  OLLAMA_BASE_URL DEFAULT_MODEL RUN_PROCESSOR AUTH_MODE JWT_SECRET JWT_JWKS_URL JWT_AUDIENCE JWT_ISSUER
  FIREBASE_PROJECT_ID ADMIN_USERS CORS_ORIGINS MAX_QUEUED_PER_USER TRAINING_COMMAND LOG_LEVEL
USAGE
}

die() {
  echo "deploy_async.sh: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=true ;;
    --service) [ $# -ge 2 ] || die "--service needs a name"; service="$2"; shift ;;
    --set) [ $# -ge 2 ] || die "--set needs VAR=VALUE"; settings+=("$2"); shift ;;
    --health-url) [ $# -ge 2 ] || die "--health-url needs a URL"; health_url="$2"; shift ;;
    --timeout) [ $# -ge 2 ] || die "--timeout needs seconds"; timeout="$2"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done

[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout must be a whole number of seconds, got '$timeout'"

# What to set: the environment first, then --set (later wins).
declare -A values=()
for name in "${VARIABLES[@]}"; do
  if [ -n "${!name:-}" ]; then values[$name]="${!name}"; fi
done
for pair in "${settings[@]+"${settings[@]}"}"; do
  [[ "$pair" == *=* ]] || die "--set expects VAR=VALUE, got '$pair'"
  values[${pair%%=*}]="${pair#*=}"
done

service_args=()
if [ -n "$service" ]; then service_args=(--service "$service"); fi

shown() { # a variable as it may be printed: secrets masked
  if [[ "$SECRETS" == *" $1 "* ]]; then echo "$1=********"; else echo "$1=$2"; fi
}

run() { # run a command, or print it under --dry-run; $1 is how to show it
  local display="$1"
  shift
  if $dry_run; then
    echo "+ $display"
  else
    echo "→ $display"
    "$@"
  fi
}

# 1. The Railway CLI, logged in and linked to a project.
if ! command -v railway >/dev/null 2>&1; then
  die "the Railway CLI is not installed. Install it with: npm i -g @railway/cli   (then: railway login && railway link)"
fi
if ! railway status >/dev/null 2>&1; then
  die "no Railway project is linked here (or you are not logged in). Run: railway login && railway link"
fi

# 2. Variables.
if [ ${#values[@]} -eq 0 ]; then
  echo "No variables to set (none of them is in the environment; add some with --set VAR=VALUE)."
fi
for name in $(printf '%s\n' "${!values[@]}" | sort); do
  run "railway variables ${service_args[*]+"${service_args[*]} "}--set $(shown "$name" "${values[$name]}")" \
    railway variables "${service_args[@]+"${service_args[@]}"}" --set "$name=${values[$name]}"
done

# 3. Upload and build (railway.toml: the Dockerfile, the start command, the /health check).
run "railway up --detach ${service_args[*]+"${service_args[*]}"}" railway up --detach "${service_args[@]+"${service_args[@]}"}"

# 4. Wait for the health check.
if [ -z "$health_url" ] && ! $dry_run; then
  domain="$(railway domain "${service_args[@]+"${service_args[@]}"}" 2>/dev/null | grep -Eo 'https://[^ ]+' | head -n 1 || true)"
  [ -n "$domain" ] && health_url="${domain%/}/health"
fi
if [ -z "$health_url" ]; then
  echo "No health URL known (pass --health-url https://…/health, or set HEALTH_URL); not waiting."
  exit 0
fi
if $dry_run; then
  echo "+ poll $health_url every 5 s until it answers 200 (at most ${timeout} s)"
  exit 0
fi
echo "Waiting for $health_url (up to ${timeout} s)…"
deadline=$((SECONDS + timeout))
while true; do
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$health_url" || true)"
  if [ "$code" = "200" ]; then
    echo "Deployed: $health_url answers 200."
    exit 0
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    die "$health_url did not answer 200 within ${timeout} s (last status: ${code:-none}). See: railway logs"
  fi
  sleep 5
done
