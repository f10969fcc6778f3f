#!/usr/bin/env bash
# API keys on the deployed stack's API Gateway usage plan: create, list, revoke, rotate.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: setup/setup_api_gateway.sh [options] COMMAND

The API itself (REST API, usage plan, throttling) is part of the stack that
setup_infrastructure.sh deploys; this script manages the clients' API keys on its
usage plan. Each key sees only its own jobs.

Commands:
  create --name NAME          a new key on the usage plan; the key value is printed alone
                              on the last line of stdout (and nowhere else: keep it)
  list                        the plan's keys: id, name, enabled, created (never values)
  revoke KEY_ID               disable the key, take it off the plan, delete it
  rotate OLD_KEY_ID --name NEW
                              a new key on the plan, printed like create; OLD_KEY_ID stays
                              valid until you revoke it, so clients can switch first

Options:
  --stack-name NAME       the stack (default: swescribe); its UsagePlanId output is used
  --usage-plan-id ID      use this usage plan instead of the stack's
  --profile NAME          AWS named profile (default: $AWS_PROFILE)
  --region REGION         AWS region (default: $AWS_REGION, else eu-north-1)
  --dry-run               change nothing: print what would be done
  -h, --help              this help
EOF
}

STACK="$SWESCRIBE_DEFAULT_STACK"
USAGE_PLAN_ID=""
KEY_NAME=""
POSITIONAL=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --name) KEY_NAME="$(need_value "$@")"; shift 2 ;;
    --stack-name) STACK="$(need_value "$@")"; shift 2 ;;
    --usage-plan-id) USAGE_PLAN_ID="$(need_value "$@")"; shift 2 ;;
    --profile) AWS_PROFILE_NAME="$(need_value "$@")"; shift 2 ;;
    --region) AWS_REGION_NAME="$(need_value "$@")"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage_error "unknown option: $1" ;;
    *) POSITIONAL+=("$1"); shift ;;
  esac
done
((${#POSITIONAL[@]} > 0)) || usage_error "a command is needed: create, list, revoke or rotate"
COMMAND="${POSITIONAL[0]}"

valid_key_name() {
  [[ "$1" =~ ^[A-Za-z0-9._-]{1,128}$ ]] || usage_error "key names are 1-128 letters, digits, '.', '_' or '-'"
}

usage_plan() {
  if [[ -n "$USAGE_PLAN_ID" ]]; then
    printf '%s' "$USAGE_PLAN_ID"
  elif ((DRY_RUN)); then
    printf '%s' "<UsagePlanId of $STACK>"
  else
    local id
    id="$(stack_output "$STACK" UsagePlanId)" || die "stack $STACK not found in $AWS_REGION_NAME"
    [[ -n "$id" ]] || die "stack $STACK has no UsagePlanId output"
    printf '%s' "$id"
  fi
}

# plan_has_key PLAN KEY_ID: whether the key is on the plan.
plan_has_key() {
  aws_cli apigateway get-usage-plan-key --usage-plan-id "$1" --key-id "$2" >/dev/null 2>&1
}

# create_key PLAN NAME: a new enabled key on the plan; its value alone on stdout.
create_key() {
  local plan="$1" name="$2" existing created key_id key_value
  if ((DRY_RUN)); then
    log "[dry-run] aws apigateway create-api-key --name $name --enabled"
    log "[dry-run] aws apigateway create-usage-plan-key --usage-plan-id $plan --key-id <new key id> --key-type API_KEY"
    printf '%s\n' "<new key value>"
    return 0
  fi
  existing="$(aws_cli apigateway get-usage-plan-keys --usage-plan-id "$plan" \
    --name-query "$name" --query "items[?name=='$name'].id | [0]" --output text)"
  if [[ -n "$existing" && "$existing" != "None" ]]; then
    die "a key named $name is already on the plan ($existing); use another name, or rotate it"
  fi
  created="$(aws_cli apigateway create-api-key --name "$name" --enabled \
    --description "swescribe client key (stack $STACK)" \
    --tags "swescribe:stack=$STACK" --query '[id, value]' --output text)"
  read -r key_id key_value <<<"$created"
  if ! aws_cli apigateway create-usage-plan-key --usage-plan-id "$plan" \
    --key-id "$key_id" --key-type API_KEY >/dev/null; then
    aws_cli apigateway delete-api-key --api-key "$key_id" || true
    die "could not put the new key on usage plan $plan (the key was deleted again)"
  fi
  log "created key $key_id ($name) on usage plan $plan; the value follows (keep it secret):"
  printf '%s\n' "$key_value"
}

list_keys() {
  local plan="$1" ids id
  if ((DRY_RUN)); then
    log "[dry-run] aws apigateway get-usage-plan-keys --usage-plan-id $plan"
    return 0
  fi
  ids="$(aws_cli apigateway get-usage-plan-keys --usage-plan-id "$plan" \
    --query 'items[].id' --output text)"
  printf '%s\t%s\t%s\t%s\n' "KEY_ID" "NAME" "ENABLED" "CREATED"
  for id in $ids; do
    [[ "$id" == "None" ]] && continue
    aws_cli apigateway get-api-key --api-key "$id" \
      --query '[id, name, enabled, createdDate]' --output text
  done
}

revoke_key() {
  local plan="$1" key_id="$2"
  if ((DRY_RUN)); then
    log "[dry-run] aws apigateway update-api-key --api-key $key_id --patch-operations op=replace,path=/enabled,value=false"
    log "[dry-run] aws apigateway delete-usage-plan-key --usage-plan-id $plan --key-id $key_id"
    log "[dry-run] aws apigateway delete-api-key --api-key $key_id"
    return 0
  fi
  if ! aws_cli apigateway get-api-key --api-key "$key_id" >/dev/null 2>&1; then
    log "key $key_id does not exist (already revoked?)"
    return 0
  fi
  if ! plan_has_key "$plan" "$key_id"; then
    die "key $key_id is not on usage plan $plan; not touching a key of something else"
  fi
  # Disabled first: API Gateway refuses it at once, even while the deletes propagate.
  aws_cli apigateway update-api-key --api-key "$key_id" \
    --patch-operations op=replace,path=/enabled,value=false >/dev/null
  aws_cli apigateway delete-usage-plan-key --usage-plan-id "$plan" --key-id "$key_id"
  aws_cli apigateway delete-api-key --api-key "$key_id"
  log "revoked key $key_id"
}

PLAN="$(usage_plan)"
case "$COMMAND" in
  create)
    ((${#POSITIONAL[@]} == 1)) || usage_error "create takes no arguments besides --name"
    [[ -n "$KEY_NAME" ]] || usage_error "create needs --name NAME"
    valid_key_name "$KEY_NAME"
    create_key "$PLAN" "$KEY_NAME"
    ;;
  list)
    ((${#POSITIONAL[@]} == 1)) || usage_error "list takes no arguments"
    list_keys "$PLAN"
    ;;
  revoke)
    ((${#POSITIONAL[@]} == 2)) || usage_error "revoke needs one KEY_ID"
    revoke_key "$PLAN" "${POSITIONAL[1]}"
    ;;
  rotate)
    ((${#POSITIONAL[@]} == 2)) || usage_error "rotate needs one OLD_KEY_ID"
    [[ -n "$KEY_NAME" ]] || usage_error "rotate needs --name NEW_NAME"
    valid_key_name "$KEY_NAME"
    OLD_KEY_ID="${POSITIONAL[1]}"
    if ((!DRY_RUN)) && ! plan_has_key "$PLAN" "$OLD_KEY_ID"; then
      die "key $OLD_KEY_ID is not on usage plan $PLAN"
    fi
    log "rotating: $OLD_KEY_ID stays valid until revoked; switch the clients, then run"
    log "  setup/setup_api_gateway.sh --stack-name $STACK revoke $OLD_KEY_ID"
    create_key "$PLAN" "$KEY_NAME"
    ;;
  *) usage_error "unknown command: $COMMAND (create, list, revoke or rotate)" ;;
esac
