#!/usr/bin/env bash
# Build the Lambda package and put it into a deployed stack's three functions.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "$SCRIPT_DIR/../lib/common.sh"

usage() {
  cat <<'EOF'
Usage: setup/lambda/deploy_lambda_functions.sh [options]

Builds the one Lambda package (setup/lambda/build_lambda_package.py: lambda/*.py, the
swescribe package without its engine dependencies, the pinned runtime deps), uploads it
to the artifacts bucket as lambda/<sha256>.zip and, when the stack exists, points the
API, process-upload and janitor functions at it (update-function-code, then waits until
each function is updated). setup_infrastructure.sh does the same through CloudFormation;
this is the quick path for a code change to the Lambdas alone.

Options:
  --package-only          build the package and stop; prints "<sha256>  <zip path>"
  --stack-name NAME       the stack (default: swescribe)
  --artifacts-bucket B    default: <stack>-artifacts-<account>-<region>
  --output-dir DIR        where the zip is built (default: dist/lambda)
  --profile NAME          AWS named profile (default: $AWS_PROFILE)
  --region REGION         AWS region (default: $AWS_REGION, else eu-north-1)
  --dry-run               build nothing, change nothing: print what would be done
  -h, --help              this help

The last line printed on stdout is "<sha256>  <zip path>" (or the S3 key with --dry-run).
EOF
}

STACK="$SWESCRIBE_DEFAULT_STACK"
ARTIFACTS_BUCKET=""
OUTPUT_DIR="$SWESCRIBE_REPO_ROOT/dist/lambda"
PACKAGE_ONLY=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --package-only) PACKAGE_ONLY=1; shift ;;
    --stack-name) STACK="$(need_value "$@")"; shift 2 ;;
    --artifacts-bucket) ARTIFACTS_BUCKET="$(need_value "$@")"; shift 2 ;;
    --output-dir) OUTPUT_DIR="$(need_value "$@")"; shift 2 ;;
    --profile) AWS_PROFILE_NAME="$(need_value "$@")"; shift 2 ;;
    --region) AWS_REGION_NAME="$(need_value "$@")"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
done

step "Lambda package"
if ((DRY_RUN)); then
  log "[dry-run] $PYTHON setup/lambda/build_lambda_package.py --output-dir $OUTPUT_DIR"
  SHA="<sha256>"
  ZIP="$OUTPUT_DIR/swescribe-lambda-<version>.zip"
else
  read -r SHA ZIP < <("$PYTHON" "$SCRIPT_DIR/build_lambda_package.py" --output-dir "$OUTPUT_DIR" | tail -n1)
  [[ -n "${SHA:-}" && -f "${ZIP:-}" ]] || die "the Lambda package build failed"
fi
if ((PACKAGE_ONLY)); then
  printf '%s  %s\n' "$SHA" "$ZIP"
  exit 0
fi

check_prerequisites
if [[ -z "$ARTIFACTS_BUCKET" ]]; then
  ARTIFACTS_BUCKET="$(artifacts_bucket_name "$STACK" "$(account_id)")"
fi
KEY="lambda/$SHA.zip"
step "Upload to s3://$ARTIFACTS_BUCKET/$KEY"
upload_artifact "$ZIP" "$ARTIFACTS_BUCKET" "$KEY"

step "Functions of stack $STACK"
if ((DRY_RUN)); then
  FUNCTIONS=("<ApiFunctionName>" "<ProcessUploadFunctionName>" "<JanitorFunctionName>")
elif stack_exists "$STACK"; then
  FUNCTIONS=()
  for output in ApiFunctionName ProcessUploadFunctionName JanitorFunctionName; do
    name="$(stack_output "$STACK" "$output")"
    [[ -n "$name" ]] || die "stack $STACK has no output $output"
    FUNCTIONS+=("$name")
  done
else
  log "stack $STACK does not exist: the package is uploaded, no function to update"
  log "deploy the stack with setup/setup_infrastructure.sh"
  printf 's3://%s/%s\n' "$ARTIFACTS_BUCKET" "$KEY"
  exit 0
fi
for function in "${FUNCTIONS[@]}"; do
  log "updating $function"
  aws_do lambda update-function-code --function-name "$function" \
    --s3-bucket "$ARTIFACTS_BUCKET" --s3-key "$KEY" --query 'CodeSha256' --output text >&2
  aws_do lambda wait function-updated --function-name "$function"
done
log ""
log "done: the functions run s3://$ARTIFACTS_BUCKET/$KEY"
log "note: the stack's LambdaCodeKey still names the previous key until the next"
log "      setup/setup_infrastructure.sh run, which deploys this same package."
printf 's3://%s/%s\n' "$ARTIFACTS_BUCKET" "$KEY"
