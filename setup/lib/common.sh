# shellcheck shell=bash
# Shared by the swescribe deployment scripts: sourced, never run.
#
# Every AWS call goes through aws_cli (reads) or aws_do (changes), which add the named
# profile (--profile, else AWS_PROFILE) and the region (--region, else AWS_REGION /
# AWS_DEFAULT_REGION, else eu-north-1). With DRY_RUN=1, aws_do prints the command
# instead of running it, and the scripts skip reads, using placeholders.
set -euo pipefail

SWESCRIBE_DEFAULT_REGION="eu-north-1"
# shellcheck disable=SC2034 # the scripts that source this file use it
SWESCRIBE_DEFAULT_STACK="swescribe"
SWESCRIBE_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
AWS_PROFILE_NAME="${AWS_PROFILE:-}"
AWS_REGION_NAME="${AWS_REGION:-${AWS_DEFAULT_REGION:-$SWESCRIBE_DEFAULT_REGION}}"
PYTHON="${PYTHON:-python3}"
DRY_RUN=0

log() { printf '%s\n' "$*" >&2; }
step() { printf '\n== %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
usage_error() {
  log "error: $*"
  log "(--help shows the options)"
  exit 2
}

# need_value OPTION VALUE: VALUE, or a usage error when the option has none.
need_value() {
  if [[ $# -lt 2 || -z "$2" || "$2" == --* ]]; then
    usage_error "$1 needs a value"
  fi
  printf '%s' "$2"
}

quoted() {
  local out
  printf -v out '%q ' "$@"
  printf '%s' "${out% }"
}

aws_cli() {
  local args=(--region "$AWS_REGION_NAME")
  if [[ -n "$AWS_PROFILE_NAME" ]]; then
    args+=(--profile "$AWS_PROFILE_NAME")
  fi
  aws "${args[@]}" "$@"
}

# aws_do ARGS...: an AWS call that changes something; only printed in dry-run mode.
aws_do() {
  if ((DRY_RUN)); then
    log "[dry-run] aws $(quoted "$@")"
    return 0
  fi
  aws_cli "$@"
}

# run ARGS...: a local command; only printed in dry-run mode.
run() {
  if ((DRY_RUN)); then
    log "[dry-run] $(quoted "$@")"
    return 0
  fi
  "$@"
}

require_command() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed; $2"
}

# Prerequisites: AWS CLI v2 and Python >= 3.11. In dry-run mode a gap is only a warning.
check_prerequisites() {
  local problems=() version
  if ! command -v aws >/dev/null 2>&1; then
    problems+=("the AWS CLI v2 is not installed (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)")
  else
    version="$(aws --version 2>&1 || true)"
    if [[ "$version" != aws-cli/2.* ]]; then
      problems+=("the AWS CLI is not version 2 (aws --version: ${version%%$'\n'*})")
    fi
  fi
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    problems+=("$PYTHON is not installed (Python 3.11 or newer is needed)")
  elif ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    problems+=("$PYTHON is older than 3.11 ($("$PYTHON" --version 2>&1)); set PYTHON=python3.11")
  fi
  local problem
  for problem in "${problems[@]}"; do
    if ((DRY_RUN)); then
      log "warning: $problem"
    else
      log "error: $problem"
    fi
  done
  if ((${#problems[@]} > 0 && !DRY_RUN)); then
    exit 1
  fi
}

account_id() {
  if ((DRY_RUN)); then
    printf '%s' "123456789012"
    return 0
  fi
  aws_cli sts get-caller-identity --query Account --output text
}

# artifacts_bucket_name STACK ACCOUNT: where code (wheels, the Lambda zip, AMI bundles) goes.
artifacts_bucket_name() {
  local name="$1-artifacts-$2-$AWS_REGION_NAME"
  if ((${#name} > 63)) || [[ ! "$name" =~ ^[a-z0-9][a-z0-9.-]*$ ]]; then
    die "artifacts bucket name '$name' is not a valid S3 bucket name; pass --artifacts-bucket"
  fi
  printf '%s' "$name"
}

# ensure_artifacts_bucket BUCKET: create it if missing; always (re)apply SSE-AES256, the
# public access block, bucket-owner-enforced ownership and a TLS-only policy.
ensure_artifacts_bucket() {
  local bucket="$1" probe
  if ((DRY_RUN)); then
    log "[dry-run] create s3://$bucket unless it exists"
  elif probe="$(aws_cli s3api head-bucket --bucket "$bucket" 2>&1)"; then
    log "artifacts bucket s3://$bucket exists"
  elif [[ "$probe" == *"403"* || "$probe" == *Forbidden* ]]; then
    die "bucket $bucket exists but belongs to another account or denies access"
  else
    log "creating artifacts bucket s3://$bucket"
    if [[ "$AWS_REGION_NAME" == "us-east-1" ]]; then
      aws_cli s3api create-bucket --bucket "$bucket" >/dev/null
    else
      aws_cli s3api create-bucket --bucket "$bucket" \
        --create-bucket-configuration "LocationConstraint=$AWS_REGION_NAME" >/dev/null
    fi
    aws_cli s3api wait bucket-exists --bucket "$bucket"
  fi
  aws_do s3api put-public-access-block --bucket "$bucket" --public-access-block-configuration \
    BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
  aws_do s3api put-bucket-ownership-controls --bucket "$bucket" \
    --ownership-controls 'Rules=[{ObjectOwnership=BucketOwnerEnforced}]'
  aws_do s3api put-bucket-encryption --bucket "$bucket" --server-side-encryption-configuration \
    '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
  aws_do s3api put-bucket-policy --bucket "$bucket" --policy "$(tls_only_policy "$bucket")"
}

tls_only_policy() {
  cat <<EOF
{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::$1","arn:aws:s3:::$1/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}
EOF
}

sha256_of() {
  "$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
}

# upload_artifact FILE BUCKET KEY: content-addressed keys never change, so an object
# already there is left alone (re-running is cheap and safe).
upload_artifact() {
  local file="$1" bucket="$2" key="$3"
  if ((DRY_RUN)); then
    log "[dry-run] upload $file to s3://$bucket/$key unless it is there"
    return 0
  fi
  if aws_cli s3api head-object --bucket "$bucket" --key "$key" >/dev/null 2>&1; then
    log "s3://$bucket/$key is already uploaded"
    return 0
  fi
  aws_cli s3 cp "$file" "s3://$bucket/$key" --sse AES256 --only-show-errors
  log "uploaded s3://$bucket/$key"
}

# build_worker_wheel OUTDIR: the swescribe wheel (no dependencies) built from a clean copy
# of the sources, so build/ and *.egg-info stay out of the working tree. Prints its path.
# Uploaded as wheels/<sha256>/<wheel name>: workers install it at boot (start-worker).
build_worker_wheel() {
  local outdir="$1" source
  source="$(mktemp -d)"
  cp "$SWESCRIBE_REPO_ROOT/pyproject.toml" "$SWESCRIBE_REPO_ROOT/README.md" "$source/"
  cp -R "$SWESCRIBE_REPO_ROOT/src" "$source/src"
  find "$source/src" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
  mkdir -p "$outdir"
  # A fixed timestamp makes the wheel reproducible: unchanged code, unchanged key.
  SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-315532800}" \
    "$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$outdir" "$source" >&2
  rm -rf "$source"
  local wheels=("$outdir"/swescribe-*.whl)
  [[ -f "${wheels[0]}" ]] || die "no swescribe wheel was built in $outdir"
  printf '%s' "${wheels[0]}"
}

stack_exists() {
  aws_cli cloudformation describe-stacks --stack-name "$1" >/dev/null 2>&1
}

# stack_output STACK KEY: one output of the stack ("" when it has none by that name).
stack_output() {
  local value
  value="$(aws_cli cloudformation describe-stacks --stack-name "$1" \
    --query "Stacks[0].Outputs[?OutputKey=='$2'].OutputValue | [0]" --output text)"
  [[ "$value" == "None" ]] && value=""
  printf '%s' "$value"
}
