# shellcheck shell=bash disable=SC2034 # API_LOGGING: setup_infrastructure.sh reads it
# API Gateway's CloudWatch Logs role: one setting per account and region, shared by every
# REST API there, so it lives outside the app stack. setup_infrastructure.sh sets it only
# when the account has none (another stack's or team's stays as it is), and the stack's
# stage logs (ApiLogging=true) only once it is there. Sourced after common.sh.
set -euo pipefail

API_LOGGING_ROLE_NAME="swescribe-apigateway-cloudwatch"
API_LOGGING_ATTEMPTS="${API_LOGGING_ATTEMPTS:-6}"
API_LOGGING_RETRY_SECONDS="${API_LOGGING_RETRY_SECONDS:-10}"
API_LOGGING="false"

# ensure_api_logging_role: sets API_LOGGING to true when the account's API Gateway has a
# CloudWatch role (found, or made here), false when it could not be set (the deploy goes
# on without stage logs, and says how to turn them on later).
ensure_api_logging_role() {
  local current arn attempt answer
  if ((DRY_RUN)); then
    log "[dry-run] aws apigateway get-account; unless it names a cloudwatchRoleArn: create role $API_LOGGING_ROLE_NAME (AmazonAPIGatewayPushToCloudWatchLogs) and aws apigateway update-account (retried while IAM propagates)"
    API_LOGGING="true"
    return 0
  fi
  current="$(aws_cli apigateway get-account --query cloudwatchRoleArn --output text 2>/dev/null || true)"
  if [[ -n "$current" && "$current" != None ]]; then
    log "API Gateway logs through the account's role $current (left as it is)"
    API_LOGGING="true"
    return 0
  fi
  if ! arn="$(aws_cli iam get-role --role-name "$API_LOGGING_ROLE_NAME" \
    --query Role.Arn --output text 2>/dev/null)"; then
    log "creating role $API_LOGGING_ROLE_NAME for API Gateway's CloudWatch logs (account-wide)"
    arn="$(aws_cli iam create-role --role-name "$API_LOGGING_ROLE_NAME" \
      --description "API Gateway logging to CloudWatch (account-wide setting)" \
      --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":"sts:AssumeRole"}]}' \
      --query Role.Arn --output text)"
  fi
  aws_cli iam attach-role-policy --role-name "$API_LOGGING_ROLE_NAME" \
    --policy-arn arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs
  # A new role takes a while to reach API Gateway: until then update-account answers "The
  # role ARN does not have required permissions set to API Gateway".
  for ((attempt = 1; attempt <= API_LOGGING_ATTEMPTS; attempt++)); do
    if answer="$(aws_cli apigateway update-account \
      --patch-operations "op=replace,path=/cloudwatchRoleArn,value=$arn" 2>&1 >/dev/null)"; then
      log "API Gateway logs through $arn"
      API_LOGGING="true"
      return 0
    fi
    log "API Gateway does not take $arn yet (attempt $attempt of $API_LOGGING_ATTEMPTS): ${answer##*: }"
    ((attempt < API_LOGGING_ATTEMPTS)) && sleep "$API_LOGGING_RETRY_SECONDS"
  done
  log "warning: API Gateway's CloudWatch role is not set, so the API stage will not log; run this again later (stages then log), or: aws apigateway update-account --patch-operations op=replace,path=/cloudwatchRoleArn,value=$arn"
  API_LOGGING="false"
}
