#!/usr/bin/env bash
# The one command that deploys (or updates) swescribe on AWS.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"
# shellcheck source=lib/preflight.sh
source "$SCRIPT_DIR/lib/preflight.sh"
# shellcheck source=lib/api_logging.sh
source "$SCRIPT_DIR/lib/api_logging.sh"

usage() {
  cat <<'EOF'
Usage: setup/setup_infrastructure.sh [options]

Deploys the CloudFormation stack setup/cloudformation/swescribe.yaml: S3 bucket, DynamoDB
table, SQS queues, the three Lambdas, API Gateway with API keys, the GPU workers' launch
template, alarms and dashboard. Safe to run again: unchanged code and settings change
nothing. Steps:

  1. checks the AWS CLI v2 and Python >= 3.11; for a new stack, that its bucket and table
     names are free; for the subnets given, that workers there reach S3, SQS, DynamoDB,
     EC2 and CloudWatch Logs (a public IP in a public subnet, a NAT route, or VPC
     endpoints for all five); it stops, saying what is missing, before creating anything;
  2. creates the artifacts bucket <stack>-artifacts-<account>-<region> if missing
     (SSE-AES256, public access blocked, TLS only);
  3. builds the swescribe wheel and uploads it as wheels/<sha256>/<wheel> (the workers
     install it at boot: a code change needs no new AMI);
  4. builds the Lambda package (lambda/deploy_lambda_functions.sh --package-only) and
     uploads it as lambda/<sha256>.zip;
  5. sets API Gateway's CloudWatch Logs role (one per account and region) only when the
     account has none, retrying while IAM propagates; the stage logs once it is set;
  6. aws cloudformation deploy, then prints the stack's outputs.

Needed for a new stack (an existing stack keeps its values when they are left out):
  --vpc-id VPC            the VPC of the workers
  --subnet-ids A,B        subnets whose workers reach S3, SQS, DynamoDB, EC2 and Logs
                          (public IP on launch, a NAT gateway route, or VPC endpoints)
  --ami-id AMI            the worker AMI printed by run_transcription/build_ami.sh

Options (left out: the template's default, or the existing stack's value):
  --stack-name NAME       default: swescribe
  --bucket NAME           data bucket; a new stack without it gets
                          <stack>-data-<account>-<region> (bucket names are global)
  --table NAME            DynamoDB table (template default: transcription-jobs)
  --alarm-email ADDRESS   alarm notifications (confirm the SNS e-mail)
  --instance-per-job      the seed's behaviour: one worker instance per job
  --no-instance-per-job   pooled workers that take queued jobs (the default)
  --instance-types LIST   e.g. g4dn.xlarge,g5.xlarge (tried in order on spot)
  --max-workers N         most GPU workers at once
  --worker-idle-seconds N a worker ends itself after this long without a job
  --model NAME            e.g. kb-whisper-small (must be baked into the AMI)
  --log-retention-days N
  --throttle-rate N       API requests per second (steady)
  --throttle-burst N      API burst
  --upload-retention-days N   uploads are deleted after N days
  --result-retention-days N   results are deleted after N days
  --parameter KEY=VALUE   any other template parameter (repeatable)
  --artifacts-bucket B    default: <stack>-artifacts-<account>-<region>
  --profile NAME          AWS named profile (default: $AWS_PROFILE)
  --region REGION         AWS region (default: $AWS_REGION, else eu-north-1)
  --dry-run               build nothing, change nothing: print what would be done
  -h, --help              this help
EOF
}

STACK="$SWESCRIBE_DEFAULT_STACK"
ARTIFACTS_BUCKET=""
TEMPLATE="$SCRIPT_DIR/cloudformation/swescribe.yaml"
VPC_ID=""
BUCKET=""
TABLE=""
SUBNET_IDS=""
AMI_ID=""
PARAMS=()
add_param() { PARAMS+=("$1=$2"); }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --stack-name) STACK="$(need_value "$@")"; shift 2 ;;
    --bucket) BUCKET="$(need_value "$@")"; shift 2 ;;
    --table) TABLE="$(need_value "$@")"; shift 2 ;;
    --vpc-id) VPC_ID="$(need_value "$@")"; shift 2 ;;
    --subnet-ids) SUBNET_IDS="$(need_value "$@")"; shift 2 ;;
    --ami-id) AMI_ID="$(need_value "$@")"; shift 2 ;;
    --alarm-email) add_param AlarmEmail "$(need_value "$@")"; shift 2 ;;
    --instance-per-job) add_param InstancePerJob true; shift ;;
    --no-instance-per-job) add_param InstancePerJob false; shift ;;
    --instance-types) add_param WorkerInstanceTypes "$(need_value "$@")"; shift 2 ;;
    --max-workers) add_param MaxWorkers "$(need_value "$@")"; shift 2 ;;
    --worker-idle-seconds) add_param WorkerIdleSeconds "$(need_value "$@")"; shift 2 ;;
    --model) add_param Model "$(need_value "$@")"; shift 2 ;;
    --log-retention-days) add_param LogRetentionDays "$(need_value "$@")"; shift 2 ;;
    --throttle-rate) add_param ApiThrottleRate "$(need_value "$@")"; shift 2 ;;
    --throttle-burst) add_param ApiThrottleBurst "$(need_value "$@")"; shift 2 ;;
    --upload-retention-days) add_param UploadRetentionDays "$(need_value "$@")"; shift 2 ;;
    --result-retention-days) add_param ResultRetentionDays "$(need_value "$@")"; shift 2 ;;
    --parameter)
      value="$(need_value "$@")"
      [[ "$value" == ?*=* ]] || usage_error "--parameter needs KEY=VALUE"
      PARAMS+=("$value")
      shift 2
      ;;
    --artifacts-bucket) ARTIFACTS_BUCKET="$(need_value "$@")"; shift 2 ;;
    --profile) AWS_PROFILE_NAME="$(need_value "$@")"; shift 2 ;;
    --region) AWS_REGION_NAME="$(need_value "$@")"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
done
[[ -n "$VPC_ID" ]] && add_param VpcId "$VPC_ID"
[[ -n "$SUBNET_IDS" ]] && add_param SubnetIds "$SUBNET_IDS"
[[ -n "$AMI_ID" ]] && add_param WorkerAmiId "$AMI_ID"

step "Prerequisites"
check_prerequisites
if [[ ! -f "$TEMPLATE" ]]; then
  if ((DRY_RUN)); then
    log "warning: $TEMPLATE is missing"
  else
    die "$TEMPLATE is missing"
  fi
fi
ACCOUNT="$(account_id)"
[[ -n "$ARTIFACTS_BUCKET" ]] || ARTIFACTS_BUCKET="$(artifacts_bucket_name "$STACK" "$ACCOUNT")"
log "account $ACCOUNT, region $AWS_REGION_NAME, stack $STACK${AWS_PROFILE_NAME:+, profile $AWS_PROFILE_NAME}"

STATUS="NEW"
if ((!DRY_RUN)); then
  STATUS="$(aws_cli cloudformation describe-stacks --stack-name "$STACK" \
    --query 'Stacks[0].StackStatus' --output text 2>/dev/null || echo NEW)"
fi
if [[ "$STATUS" == ROLLBACK_COMPLETE ]]; then
  # A first create that failed: the stack holds nothing (the bucket and table are kept
  # only once a create succeeded: RetainExceptOnCreate), and it blocks a new create.
  log "stack $STACK is what a failed first create left (ROLLBACK_COMPLETE): deleting it"
  aws_do cloudformation delete-stack --stack-name "$STACK"
  aws_do cloudformation wait stack-delete-complete --stack-name "$STACK"
  STATUS="NEW"
fi
case "$STATUS" in
  ROLLBACK_FAILED | DELETE_FAILED)
    die "stack $STACK is in $STATUS and cannot be updated; remove it with setup/teardown.sh --stack-name $STACK, then run this again"
    ;;
  *_IN_PROGRESS)
    die "stack $STACK is busy ($STATUS); wait for it to finish, then run this again"
    ;;
esac
if [[ "$STATUS" == "NEW" ]]; then
  missing=()
  [[ -n "$VPC_ID" ]] || missing+=(--vpc-id)
  [[ -n "$SUBNET_IDS" ]] || missing+=(--subnet-ids)
  [[ -n "$AMI_ID" ]] || missing+=(--ami-id)
  ((${#missing[@]} == 0)) || usage_error "a new stack needs ${missing[*]} (the AMI comes from run_transcription/build_ami.sh)"
  [[ -n "$BUCKET" ]] || BUCKET="$(data_bucket_name "$STACK" "$ACCOUNT")"
  [[ -n "$TABLE" ]] || TABLE="transcription-jobs"
fi
[[ -n "$BUCKET" ]] && add_param BucketName "$BUCKET"
[[ -n "$TABLE" ]] && add_param TableName "$TABLE"

step "Preflight"
if ((DRY_RUN)); then
  [[ "$STATUS" == NEW ]] && log "[dry-run] check that bucket $BUCKET and table $TABLE do not exist yet"
  [[ -n "$SUBNET_IDS" ]] && log "[dry-run] check that workers in $SUBNET_IDS reach S3, SQS, DynamoDB, EC2 and Logs"
else
  [[ "$STATUS" == NEW ]] && check_names_free "$BUCKET" "$TABLE"
  [[ -n "$SUBNET_IDS" ]] && check_worker_subnets "$VPC_ID" "$SUBNET_IDS"
fi

step "Artifacts bucket s3://$ARTIFACTS_BUCKET"
ensure_artifacts_bucket "$ARTIFACTS_BUCKET"

step "Worker wheel"
if ((DRY_RUN)); then
  log "[dry-run] pip wheel --no-deps (swescribe), upload as wheels/<sha256>/swescribe-<version>-py3-none-any.whl"
  WHEEL_KEY="wheels/<sha256>/swescribe-<version>-py3-none-any.whl"
else
  BUILD_DIR="$(mktemp -d)"
  trap 'rm -rf "$BUILD_DIR"' EXIT
  WHEEL="$(build_worker_wheel "$BUILD_DIR/wheel")"
  WHEEL_KEY="wheels/$(sha256_of "$WHEEL")/$(basename "$WHEEL")"
  upload_artifact "$WHEEL" "$ARTIFACTS_BUCKET" "$WHEEL_KEY"
fi

step "Lambda package"
if ((DRY_RUN)); then
  log "[dry-run] setup/lambda/deploy_lambda_functions.sh --package-only, upload as lambda/<sha256>.zip"
  LAMBDA_KEY="lambda/<sha256>.zip"
else
  read -r LAMBDA_SHA LAMBDA_ZIP < <("$SCRIPT_DIR/lambda/deploy_lambda_functions.sh" --package-only \
    --output-dir "$BUILD_DIR/lambda" | tail -n1)
  [[ -n "${LAMBDA_SHA:-}" && -f "${LAMBDA_ZIP:-}" ]] || die "the Lambda package build failed"
  LAMBDA_KEY="lambda/$LAMBDA_SHA.zip"
  upload_artifact "$LAMBDA_ZIP" "$ARTIFACTS_BUCKET" "$LAMBDA_KEY"
fi
PARAMS+=("ArtifactsBucket=$ARTIFACTS_BUCKET" "LambdaCodeKey=$LAMBDA_KEY" "WorkerWheelKey=$WHEEL_KEY")

step "API Gateway logging role (account-wide)"
ensure_api_logging_role
PARAMS+=("ApiLogging=$API_LOGGING")

step "CloudFormation stack $STACK ($STATUS)"
log "parameters: ${PARAMS[*]}"
if ! aws_do cloudformation deploy \
  --stack-name "$STACK" \
  --template-file "$TEMPLATE" \
  --s3-bucket "$ARTIFACTS_BUCKET" --s3-prefix cloudformation \
  --capabilities CAPABILITY_NAMED_IAM \
  --no-fail-on-empty-changeset \
  --parameter-overrides "${PARAMS[@]}" \
  --tags "swescribe:service=$STACK" "swescribe:stack=$STACK"; then
  log "the deployment failed; the latest failures:"
  aws_cli cloudformation describe-stack-events --stack-name "$STACK" --max-items 40 \
    --query "StackEvents[?contains(ResourceStatus, 'FAILED')].[LogicalResourceId,ResourceStatus,ResourceStatusReason]" \
    --output table >&2 || true
  exit 1
fi

step "Outputs"
if ((DRY_RUN)); then
  log "[dry-run] aws cloudformation describe-stacks --stack-name $STACK (the outputs)"
  KEY_ID="<ApiKeyId>"
else
  aws_cli cloudformation describe-stacks --stack-name "$STACK" \
    --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output table
  KEY_ID="$(stack_output "$STACK" ApiKeyId)"
fi
PROFILE_FLAG="${AWS_PROFILE_NAME:+ --profile $AWS_PROFILE_NAME}"
cat >&2 <<EOF

Deployed. API keys are never printed by the deployment; get one with
  setup/setup_api_gateway.sh --stack-name $STACK --region $AWS_REGION_NAME$PROFILE_FLAG create --name my-client
(the key value alone is its last line), or read the stack's own key with
  aws apigateway get-api-key --api-key $KEY_ID --include-value --query value --output text --region $AWS_REGION_NAME$PROFILE_FLAG
Then follow docs/deploy.md ("A first job").
EOF
