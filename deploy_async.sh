#!/usr/bin/env bash
# Deploy aijobs to Railway: set the service's variables, upload this directory (`railway up`), then
# wait until the service's /health answers 200.
#
#   ./deploy_async.sh [--dry-run] [--service NAME] [--health-url URL] [--timeout SECONDS] [--set VAR=VALUE]...
#
# Variables come from this shell's environment when set (MAX_CONCURRENT_JOBS=2 ./deploy_async.sh) and
# from --set flags (which win). Secret values are never printed.
# Runs on bash 3.2 as well (macOS's /bin/bash): hence no associative arrays.
set -euo pipefail

# Read from the environment when set. DATABASE_URL is left out on purpose: on Railway it is usually a
# reference to the Postgres service (${{Postgres.DATABASE_URL}}), not this machine's database; pass
# it with --set when you mean it.
VARIABLES=(
  MAX_CONCURRENT_JOBS JOB_PROCESSING_INTERVAL MAX_JOB_RETRIES JOB_CLEANUP_DAYS LEASE_TTL_SECONDS
  OLLAMA_BASE_URL DEFAULT_MODEL RUN_PROCESSOR
  AUTH_MODE JWT_SECRET JWT_JWKS_URL JWT_AUDIENCE JWT_ISSUER FIREBASE_PROJECT_ID ADMIN_USERS CORS_ORIGINS
  MAX_QUEUED_PER_USER TRAINING_COMMAND LOG_LEVEL
)
POLL_SECONDS=5

usage() {
  cat <<'USAGE'
Deploy aijobs to Railway: set variables, `railway up`, then wait for the health check.

Usage: ./deploy_async.sh [options]

  --dry-run            print every command instead of running it (only the read-only checks
                       `railway status` and `railway variables --help` run; without the
                       Railway CLI it says so and prints the plan anyway)
  --service NAME       the Railway service to deploy (default: the linked one)
  --set VAR=VALUE      set a variable (repeatable); wins over the environment
  --health-url URL     the URL to poll (default: $HEALTH_URL, else https://<the service's public
                       domain>/health; without either, no polling)
  --timeout SECONDS    how long to wait for the health check to answer 200 (default 300)
  -h, --help           this help

Variables read from the environment when set:
  MAX_CONCURRENT_JOBS JOB_PROCESSING_INTERVAL MAX_JOB_RETRIES JOB_CLEANUP_DAYS LEASE_TTL_SECONDS
  OLLAMA_BASE_URL DEFAULT_MODEL RUN_PROCESSOR AUTH_MODE JWT_SECRET JWT_JWKS_URL JWT_AUDIENCE JWT_ISSUER
  FIREBASE_PROJECT_ID ADMIN_USERS CORS_ORIGINS MAX_QUEUED_PER_USER TRAINING_COMMAND LOG_LEVEL
Values of secret-looking variables (*SECRET*, *PASSWORD*, *TOKEN*, *_KEY, DATABASE_URL) are masked.

Needs the Railway CLI (npm i -g @railway/cli), `railway login` and `railway link`, and curl.
USAGE
}

die() {
  echo "deploy_async.sh: $*" >&2
  exit 1
}

dry_run=false
service=""
health_url="${HEALTH_URL:-}"
timeout=300
pending_sets=()  # --set arguments, applied after the environment
names=()         # the variables to set, in order; values[i] belongs to names[i]
values=()

set_value() { # set_value NAME VALUE: add NAME, or replace its value
  local i
  for ((i = 0; i < ${#names[@]}; i++)); do
    if [ "${names[i]}" = "$1" ]; then
      values[i]="$2"
      return
    fi
  done
  names+=("$1")
  values+=("$2")
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=true ;;
    --service) [ $# -ge 2 ] || die "--service needs a name"; service="$2"; shift ;;
    --set) [ $# -ge 2 ] || die "--set needs VAR=VALUE"; pending_sets+=("$2"); shift ;;
    --health-url) [ $# -ge 2 ] || die "--health-url needs a URL"; health_url="$2"; shift ;;
    --timeout) [ $# -ge 2 ] || die "--timeout needs seconds"; timeout="$2"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done

[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout must be a whole number of seconds, got '$timeout'"

# The environment first, then --set (later wins).
for name in "${VARIABLES[@]}"; do
  if [ -n "${!name:-}" ]; then set_value "$name" "${!name}"; fi
done
name_pattern='^[A-Za-z_][A-Za-z0-9_]*$'
for pair in "${pending_sets[@]+"${pending_sets[@]}"}"; do
  # The messages name the variable only: a malformed pair may still hold a secret.
  [[ "$pair" == *=* ]] || die "--set expects VAR=VALUE (an argument without '=' was given)"
  [[ "${pair%%=*}" =~ $name_pattern ]] || die "--set: '${pair%%=*}' is not a variable name"
  [ -n "${pair#*=}" ] || die "--set ${pair%%=*}=: the Railway CLI ignores empty values; remove the variable in the dashboard"
  set_value "${pair%%=*}" "${pair#*=}"
done

service_args=()
if [ -n "$service" ]; then service_args=(--service "$service"); fi

is_secret() {
  case "$1" in
    *SECRET* | *PASSWORD* | *TOKEN* | *_KEY | DATABASE_URL) return 0 ;;
    *) return 1 ;;
  esac
}

shown() { # one argument as it may be printed: NAME=VALUE of a secret masked, others quoted if needed
  local word="$1" plain='^[A-Za-z0-9_./:=@%+,*-]+$'
  if [[ "$word" == *=* ]] && is_secret "${word%%=*}"; then word="${word%%=*}=********"; fi
  if [[ "$word" =~ $plain ]]; then printf '%s' "$word"; else printf '%q' "$word"; fi
}

print_command() { # print_command COMMAND...: as "+ command args", secrets masked
  local line="+" arg
  for arg in "$@"; do line+=" $(shown "$arg")"; done
  echo "$line"
}

run() { # run COMMAND...: print it, then run it unless --dry-run
  print_command "$@"
  if ! $dry_run; then "$@"; fi
}

http_status() { # the status code a GET of $1 answers, or 000 when nothing answers
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$1" || true
}

# `railway up` uploads the current directory: make it this repository (Dockerfile, railway.toml),
# wherever the script is started from. The linked project is looked up from here as well.
script_dir="${BASH_SOURCE[0]%/*}"
if [ "$script_dir" = "${BASH_SOURCE[0]}" ]; then script_dir=.; fi
cd "$script_dir"

# 1. The tools: the Railway CLI (logged in, project linked) and curl for the health check. A dry run
#    without the CLI still prints the plan (as a current CLI would run it), after saying it is missing.
missing_cli="the Railway CLI is not installed (no 'railway' on PATH). Install it with: npm i -g @railway/cli
then run: railway login && railway link"
has_railway=true
if ! command -v railway >/dev/null 2>&1; then
  $dry_run || die "$missing_cli"
  has_railway=false
  echo "deploy_async.sh: $missing_cli" >&2
  echo "The plan, without checking the linked project:" >&2
fi
if ! $dry_run && ! command -v curl >/dev/null 2>&1; then
  die "curl is needed to poll the health check; install it (e.g. apt-get install curl)"
fi
if $has_railway && ! status_output="$(railway status 2>&1)"; then
  die "no Railway project is linked here (or you are not logged in): ${status_output%%$'\n'*}
Run: railway login && railway link"
fi
# Without --skip-deploys every `railway variables --set` redeploys the service (once per variable)
# before `railway up` deploys again; the flag came in July 2025 (railwayapp/cli#646). The help is read
# whole first: `| grep -q` could stop reading early and, under pipefail, fail the check.
skip_deploys=(--skip-deploys)
if $has_railway; then
  variables_help="$(railway variables --help 2>/dev/null || true)"
  if [[ "$variables_help" != *--skip-deploys* ]]; then
    skip_deploys=()
    if [ ${#names[@]} -gt 0 ]; then
      echo "Note: this Railway CLI has no 'variables --skip-deploys': each variable set triggers a redeploy. Upgrade: npm i -g @railway/cli"
    fi
  fi
fi

# 2. Where to check health: --health-url, $HEALTH_URL, else the service's public domain. It is read
#    from the service's variables (RAILWAY_PUBLIC_DOMAIN) because `railway domain` would create a
#    public domain when the service has none.
if [ -z "$health_url" ]; then
  if $dry_run; then
    print_command railway variables "${service_args[@]+"${service_args[@]}"}" --kv
    echo "  (then the health URL is https://\$RAILWAY_PUBLIC_DOMAIN/health, when the service has a public domain)"
  else
    domain="$(railway variables "${service_args[@]+"${service_args[@]}"}" --kv 2>/dev/null \
      | sed -n 's/^RAILWAY_PUBLIC_DOMAIN=//p' | head -n 1 || true)"
    domain="${domain%$'\r'}"
    if [[ "$domain" =~ ^[A-Za-z0-9.-]+$ ]]; then health_url="https://$domain/health"; fi
  fi
fi
if [ -n "$health_url" ] && ! $dry_run && [ "$(http_status "$health_url")" = "200" ]; then
  echo "Note: $health_url already answers 200 (the running deployment). Railway keeps it serving until"
  echo "      the new one passes its own /health check, so a 200 below may still come from it: see railway logs."
fi

# 3. Variables.
if [ ${#names[@]} -eq 0 ]; then
  echo "No variables to set (none of them is in the environment; add some with --set VAR=VALUE)."
fi
for ((i = 0; i < ${#names[@]}; i++)); do
  run railway variables "${service_args[@]+"${service_args[@]}"}" --set "${names[i]}=${values[i]}" \
    "${skip_deploys[@]+"${skip_deploys[@]}"}"
done

# 4. Upload and build; railway.toml picks the Dockerfile, the start command and the /health check.
run railway up --detach "${service_args[@]+"${service_args[@]}"}"

# 5. Wait for the health check.
if [ -z "$health_url" ]; then
  if $dry_run; then
    echo "+ curl https://\$RAILWAY_PUBLIC_DOMAIN/health every ${POLL_SECONDS} s until it answers 200 (at most ${timeout} s)"
  else
    echo "No health URL known (the service has no public domain: pass --health-url https://…/health,"
    echo "set HEALTH_URL, or create one with: railway domain); not waiting. Follow it with: railway logs"
  fi
  exit 0
fi
if $dry_run; then
  echo "+ curl $(shown "$health_url") every ${POLL_SECONDS} s until it answers 200 (at most ${timeout} s)"
  exit 0
fi
echo "Waiting for $health_url to answer 200 (at most ${timeout} s)…"
deadline=$((SECONDS + timeout))
while true; do
  code="$(http_status "$health_url")"
  if [ "$code" = "200" ]; then
    echo "Deployed: $health_url answers 200."
    exit 0
  fi
  remaining=$((deadline - SECONDS))
  if [ "$remaining" -le 0 ]; then
    die "$health_url did not answer 200 within ${timeout} s (last status: ${code}). See: railway logs"
  fi
  sleep $((remaining < POLL_SECONDS ? remaining : POLL_SECONDS))
done
