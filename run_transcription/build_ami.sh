#!/usr/bin/env bash
# Build the swescribe GPU worker AMI: CUDA libraries, the worker, the baked model.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../setup/lib/common.sh
source "$SCRIPT_DIR/../setup/lib/common.sh"

BASE_AMI_PARAMETER="/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
# What the stack's launch template (setup/cloudformation/swescribe.yaml) gives a worker.
WORKER_ROOT_DEVICE="/dev/sda1"
WORKER_ROOT_GIB=100

usage() {
  cat <<'EOF'
Usage: run_transcription/build_ami.sh --subnet-id SUBNET [options]

Builds the worker AMI that setup_infrastructure.sh --ami-id takes. From the latest
"Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04)" (its public SSM
parameter), it launches a builder instance (g4dn.xlarge on-demand, IMDSv2 required,
encrypted root volume) whose UserData (run_transcription/provision_worker_ami.sh):

  - installs Python 3.11 and a venv at /opt/swescribe/venv with the swescribe wheel
    (built from this checkout) and the CUDA 12 / cuDNN 9 libraries CTranslate2 needs
    (nvidia-cublas-cu12, nvidia-cudnn-cu12==9.*);
  - bakes the model into /opt/swescribe/models/<model> (the CTranslate2 files of
    KBLab/<model> from the Hugging Face hub, or --model-s3-uri);
  - with --diarization pyannote: installs pyannote.audio and torch (CUDA 12.8) from
    run_transcription/diarize-requirements.txt instead of worker-requirements.txt, and
    bakes pyannote/speaker-diarization-community-1 into /opt/swescribe/models/pyannote/,
    from the hub with the Hugging Face token kept in an SSM SecureString parameter
    (--hf-token-parameter) or from an S3 copy (--diarization-s3-uri); the workers then
    load it offline, with no token. Without it the workers diarize with the offline
    model (Resemblyzer's GE2E encoder, on every AMI);
  - installs run_transcription/fast_transcribe.py to /opt/swescribe/run_transcription/
    and run_transcription/start-worker.sh as /opt/swescribe/bin/start-worker;
  - installs the CloudWatch agent, shipping /var/log/swescribe-worker.log to the log
    group /swescribe/<stack>/worker;
  - runs a smoke test: the model loads on the GPU (float16) and transcribes a second
    of silence (and, with --diarization pyannote, the baked pipeline loads offline
    and diarizes ten seconds on the GPU);
  - writes its result to the artifacts bucket and powers off.

Then this script images the stopped builder, waits until the AMI is available,
terminates the builder and prints the AMI id (the last line of stdout). A build takes
about 20 to 40 minutes and costs well under a dollar of g4dn.xlarge time.

The builder needs the internet (apt, PyPI, the hub): use a subnet with a NAT gateway,
or a public subnet with --associate-public-ip. It gets an instance profile
(<stack>-ami-builder) that can read and write only ami/builds/ in the artifacts bucket
(and read --model-s3-uri, --diarization-s3-uri, or the one SSM parameter named by
--hf-token-parameter), plus SSM Session Manager for debugging, and a security group
with no inbound rules. The token itself never leaves SSM but for the builder's download:
it is not in the UserData, a command line, the build log or the image.

Options:
  --subnet-id SUBNET      where the builder runs (required)
  --stack-name NAME       the stack the AMI is for: names the log group, the builder
                          role and the AMI's swescribe:stack tag (default: swescribe)
  --base-ami AMI          start from this AMI instead of the SSM parameter's
  --instance-type TYPE    builder type; it needs an NVIDIA GPU (default: g4dn.xlarge)
  --model NAME            the model to bake (default: kb-whisper-small)
  --model-s3-uri URI      copy the model's CT2 files from s3://... instead of the hub
  --diarization NAME      none (default: the offline speaker model only) or pyannote
  --hf-token-parameter P  with pyannote: the name of the SSM SecureString parameter that
                          holds a Hugging Face read token whose account accepted the
                          pipeline's conditions (never the token itself)
  --diarization-s3-uri U  with pyannote, instead of the token: copy the pipeline's files
                          (a download of the hub repository) from s3://...
  --volume-size GIB       root volume size, at most 100 (the workers' launch template
                          size; default: the base AMI's)
  --associate-public-ip   give the builder a public IP (a public subnet, no NAT)
  --timeout SECONDS       give up on the builder after this long (default: 5400)
  --keep-builder          on failure, leave the builder stopped for inspection
  --artifacts-bucket B    default: <stack>-artifacts-<account>-<region> (created if missing)
  --profile NAME          AWS named profile (default: $AWS_PROFILE)
  --region REGION         AWS region (default: $AWS_REGION, else eu-north-1)
  --dry-run               call no AWS API: print the plan
  --print-user-data       print the builder's UserData and stop (no AWS)
  -h, --help              this help
EOF
}

STACK="$SWESCRIBE_DEFAULT_STACK"
SUBNET_ID=""
BASE_AMI=""
INSTANCE_TYPE="g4dn.xlarge"
MODEL="kb-whisper-small"
MODEL_S3_URI=""
DIARIZATION="none"
HF_TOKEN_PARAMETER=""
DIARIZATION_S3_URI=""
VOLUME_SIZE=""
PUBLIC_IP=0
TIMEOUT=5400
KEEP_BUILDER=0
ARTIFACTS_BUCKET=""
PRINT_USER_DATA=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --subnet-id) SUBNET_ID="$(need_value "$@")"; shift 2 ;;
    --stack-name) STACK="$(need_value "$@")"; shift 2 ;;
    --base-ami) BASE_AMI="$(need_value "$@")"; shift 2 ;;
    --instance-type) INSTANCE_TYPE="$(need_value "$@")"; shift 2 ;;
    --model) MODEL="$(need_value "$@")"; shift 2 ;;
    --model-s3-uri) MODEL_S3_URI="$(need_value "$@")"; shift 2 ;;
    --diarization) DIARIZATION="$(need_value "$@")"; shift 2 ;;
    --hf-token-parameter) HF_TOKEN_PARAMETER="$(need_value "$@")"; shift 2 ;;
    --diarization-s3-uri) DIARIZATION_S3_URI="$(need_value "$@")"; shift 2 ;;
    --volume-size) VOLUME_SIZE="$(need_value "$@")"; shift 2 ;;
    --associate-public-ip) PUBLIC_IP=1; shift ;;
    --timeout) TIMEOUT="$(need_value "$@")"; shift 2 ;;
    --keep-builder) KEEP_BUILDER=1; shift ;;
    --artifacts-bucket) ARTIFACTS_BUCKET="$(need_value "$@")"; shift 2 ;;
    --profile) AWS_PROFILE_NAME="$(need_value "$@")"; shift 2 ;;
    --region) AWS_REGION_NAME="$(need_value "$@")"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --print-user-data) PRINT_USER_DATA=1; DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
done
[[ -n "$SUBNET_ID" ]] || usage_error "--subnet-id is required"
[[ "$MODEL" =~ ^[A-Za-z0-9._-]+$ ]] || usage_error "--model must be a model name"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || usage_error "--timeout must be a number of seconds"
[[ -z "$VOLUME_SIZE" || "$VOLUME_SIZE" =~ ^[0-9]+$ ]] || usage_error "--volume-size must be GiB"
if [[ -n "$VOLUME_SIZE" ]] && ((VOLUME_SIZE > WORKER_ROOT_GIB)); then
  usage_error "--volume-size can be at most $WORKER_ROOT_GIB: the workers' launch template gives the root volume $WORKER_ROOT_GIB GiB"
fi
[[ -z "$MODEL_S3_URI" || "$MODEL_S3_URI" =~ ^s3://[^/]+/ ]] || usage_error "--model-s3-uri must be s3://BUCKET/PREFIX/"
case "$DIARIZATION" in
  none)
    [[ -z "$HF_TOKEN_PARAMETER$DIARIZATION_S3_URI" ]] ||
      usage_error "--hf-token-parameter and --diarization-s3-uri need --diarization pyannote"
    ;;
  pyannote)
    [[ -n "$HF_TOKEN_PARAMETER" || -n "$DIARIZATION_S3_URI" ]] ||
      usage_error "--diarization pyannote needs --hf-token-parameter (an SSM parameter's name) or --diarization-s3-uri"
    [[ -z "$HF_TOKEN_PARAMETER" || -z "$DIARIZATION_S3_URI" ]] ||
      usage_error "give --hf-token-parameter or --diarization-s3-uri, not both"
    ;;
  *) usage_error "--diarization must be none or pyannote" ;;
esac
# A token given where its parameter's name belongs would land in the UserData: refuse it,
# without echoing it.
if [[ "$HF_TOKEN_PARAMETER" =~ ^hf_ ]]; then
  usage_error "--hf-token-parameter takes the name of an SSM SecureString parameter, not the token (aws ssm put-parameter --type SecureString --name /swescribe/hf-token ...)"
fi
[[ -z "$HF_TOKEN_PARAMETER" || "$HF_TOKEN_PARAMETER" =~ ^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$ ]] ||
  usage_error "--hf-token-parameter must be an SSM parameter name such as /swescribe/hf-token"
[[ -z "$DIARIZATION_S3_URI" || "$DIARIZATION_S3_URI" =~ ^s3://[^/]+/ ]] || usage_error "--diarization-s3-uri must be s3://BUCKET/PREFIX/"
check_prerequisites

VERSION="$("$PYTHON" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
  "$SWESCRIBE_REPO_ROOT/pyproject.toml")"
BUILD_ID="swescribe-worker-$VERSION-$(date -u +%Y%m%d-%H%M%S)"
BUILD_PREFIX="ami/builds/$BUILD_ID"
BUILDER_NAME="$STACK-ami-builder"
LOG_GROUP="/swescribe/$STACK/worker"

# The builder's UserData: the build settings, then provision_worker_ami.sh (compressed).
render_user_data() {
  printf '#!/bin/bash\n# swescribe AMI builder (run_transcription/build_ami.sh)\nset -euo pipefail\n'
  printf 'export SWESCRIBE_BUILD_%s=%q\n' \
    ID "$BUILD_ID" BUCKET "$ARTIFACTS_BUCKET" PREFIX "$BUILD_PREFIX" REGION "$AWS_REGION_NAME" \
    MODEL "$MODEL" MODEL_S3_URI "$MODEL_S3_URI" LOG_GROUP "$LOG_GROUP" \
    DIARIZATION "$DIARIZATION" HF_TOKEN_PARAMETER "$HF_TOKEN_PARAMETER" \
    DIARIZATION_S3_URI "$DIARIZATION_S3_URI"
  printf 'mkdir -p /opt/swescribe-build\n'
  printf "base64 -d <<'EOF' | gunzip >/opt/swescribe-build/provision.sh\n"
  gzip -9n <"$SCRIPT_DIR/provision_worker_ami.sh" | base64
  printf 'EOF\nchmod 0755 /opt/swescribe-build/provision.sh\nexec /opt/swescribe-build/provision.sh\n'
}

if ((PRINT_USER_DATA)); then
  ARTIFACTS_BUCKET="${ARTIFACTS_BUCKET:-$STACK-artifacts-123456789012-$AWS_REGION_NAME}"
  render_user_data
  exit 0
fi

ACCOUNT="$(account_id)"
[[ -n "$ARTIFACTS_BUCKET" ]] || ARTIFACTS_BUCKET="$(artifacts_bucket_name "$STACK" "$ACCOUNT")"
log "account $ACCOUNT, region $AWS_REGION_NAME, build $BUILD_ID"

step "Base AMI"
if [[ -z "$BASE_AMI" ]]; then
  if ((DRY_RUN)); then
    log "[dry-run] aws ssm get-parameter --name $BASE_AMI_PARAMETER"
    BASE_AMI="<latest Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04)>"
  else
    BASE_AMI="$(aws_cli ssm get-parameter --name "$BASE_AMI_PARAMETER" --query Parameter.Value --output text)"
  fi
fi
if ((DRY_RUN)); then
  ROOT_DEVICE="/dev/sda1"
else
  read -r ROOT_DEVICE BASE_NAME < <(aws_cli ec2 describe-images --image-ids "$BASE_AMI" \
    --query 'Images[0].[RootDeviceName, Name]' --output text)
  [[ -n "$ROOT_DEVICE" && "$ROOT_DEVICE" != "None" ]] || die "base AMI $BASE_AMI not found"
  BASE_SIZE="$(aws_cli ec2 describe-images --image-ids "$BASE_AMI" --output text \
    --query "Images[0].BlockDeviceMappings[?DeviceName=='$ROOT_DEVICE'].Ebs.VolumeSize | [0]")"
  log "base: $BASE_AMI ($BASE_NAME), root $ROOT_DEVICE of $BASE_SIZE GiB"
  if [[ "$ROOT_DEVICE" != "$WORKER_ROOT_DEVICE" ]]; then
    log "warning: the stack's launch template sizes $WORKER_ROOT_DEVICE, not $ROOT_DEVICE"
  fi
  if [[ "$BASE_SIZE" =~ ^[0-9]+$ ]] && ((BASE_SIZE > WORKER_ROOT_GIB)); then
    die "the base AMI's root volume ($BASE_SIZE GiB) is larger than the workers' ($WORKER_ROOT_GIB GiB)"
  fi
fi

step "Artifacts: s3://$ARTIFACTS_BUCKET/$BUILD_PREFIX/"
ensure_artifacts_bucket "$ARTIFACTS_BUCKET"
if ((DRY_RUN)); then
  log "[dry-run] bundle.tar.gz: the swescribe wheel, fast_transcribe.py, start-worker.sh, worker-requirements.txt, diarize-requirements.txt"
else
  WORK="$(mktemp -d)"
  WHEEL="$(build_worker_wheel "$WORK/bundle")"
  cp "$SCRIPT_DIR/fast_transcribe.py" "$SCRIPT_DIR/start-worker.sh" \
    "$SCRIPT_DIR/worker-requirements.txt" "$SCRIPT_DIR/diarize-requirements.txt" "$WORK/bundle/"
  tar -czf "$WORK/bundle.tar.gz" -C "$WORK/bundle" .
  upload_artifact "$WORK/bundle.tar.gz" "$ARTIFACTS_BUCKET" "$BUILD_PREFIX/bundle.tar.gz"
  log "bundled $(basename "$WHEEL")"
fi

step "Builder role and security group ($BUILDER_NAME)"
TRUST='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
STATEMENTS="{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:PutObject\"],\"Resource\":\"arn:aws:s3:::$ARTIFACTS_BUCKET/ami/builds/*\"}"
if [[ -n "$MODEL_S3_URI" ]]; then
  MODEL_PATH="${MODEL_S3_URI#s3://}"
  MODEL_BUCKET="${MODEL_PATH%%/*}"
  MODEL_PREFIX="${MODEL_PATH#*/}"
  STATEMENTS+=",{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::$MODEL_BUCKET/${MODEL_PREFIX}*\"}"
  STATEMENTS+=",{\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\"Resource\":\"arn:aws:s3:::$MODEL_BUCKET\",\"Condition\":{\"StringLike\":{\"s3:prefix\":\"${MODEL_PREFIX}*\"}}}"
fi
if [[ -n "$DIARIZATION_S3_URI" ]]; then
  PIPELINE_PATH="${DIARIZATION_S3_URI#s3://}"
  PIPELINE_BUCKET="${PIPELINE_PATH%%/*}"
  PIPELINE_PREFIX="${PIPELINE_PATH#*/}"
  STATEMENTS+=",{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::$PIPELINE_BUCKET/${PIPELINE_PREFIX}*\"}"
  STATEMENTS+=",{\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\"Resource\":\"arn:aws:s3:::$PIPELINE_BUCKET\",\"Condition\":{\"StringLike\":{\"s3:prefix\":\"${PIPELINE_PREFIX}*\"}}}"
fi
if [[ -n "$HF_TOKEN_PARAMETER" ]]; then
  # That one parameter; and its decryption through SSM (a customer-managed key's policy
  # must also allow this role; the AWS-managed aws/ssm key needs nothing more).
  STATEMENTS+=",{\"Effect\":\"Allow\",\"Action\":\"ssm:GetParameter\",\"Resource\":\"arn:aws:ssm:$AWS_REGION_NAME:$ACCOUNT:parameter/${HF_TOKEN_PARAMETER#/}\"}"
  STATEMENTS+=",{\"Effect\":\"Allow\",\"Action\":\"kms:Decrypt\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"kms:ViaService\":\"ssm.$AWS_REGION_NAME.amazonaws.com\"}}}"
fi
POLICY="{\"Version\":\"2012-10-17\",\"Statement\":[$STATEMENTS]}"
if ((DRY_RUN)) || ! aws_cli iam get-role --role-name "$BUILDER_NAME" >/dev/null 2>&1; then
  aws_do iam create-role --role-name "$BUILDER_NAME" --assume-role-policy-document "$TRUST" \
    --description "swescribe AMI builder ($STACK)" --tags "Key=swescribe:stack,Value=$STACK" >/dev/null
fi
aws_do iam put-role-policy --role-name "$BUILDER_NAME" --policy-name "$BUILDER_NAME" --policy-document "$POLICY"
aws_do iam attach-role-policy --role-name "$BUILDER_NAME" \
  --policy-arn arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore
if ((DRY_RUN)) || ! aws_cli iam get-instance-profile --instance-profile-name "$BUILDER_NAME" >/dev/null 2>&1; then
  aws_do iam create-instance-profile --instance-profile-name "$BUILDER_NAME" >/dev/null
  aws_do iam add-role-to-instance-profile --instance-profile-name "$BUILDER_NAME" --role-name "$BUILDER_NAME"
  aws_do iam wait instance-profile-exists --instance-profile-name "$BUILDER_NAME"
fi
if ((DRY_RUN)); then
  VPC_ID="<vpc of $SUBNET_ID>"
  GROUP_ID="<security group $BUILDER_NAME>"
  log "[dry-run] create security group $BUILDER_NAME in $VPC_ID (no inbound rules) unless it exists"
else
  VPC_ID="$(aws_cli ec2 describe-subnets --subnet-ids "$SUBNET_ID" --query 'Subnets[0].VpcId' --output text)"
  GROUP_ID="$(aws_cli ec2 describe-security-groups \
    --filters "Name=group-name,Values=$BUILDER_NAME" "Name=vpc-id,Values=$VPC_ID" \
    --query 'SecurityGroups[0].GroupId' --output text)"
  if [[ -z "$GROUP_ID" || "$GROUP_ID" == "None" ]]; then
    GROUP_ID="$(aws_cli ec2 create-security-group --group-name "$BUILDER_NAME" --vpc-id "$VPC_ID" \
      --description "swescribe AMI builder: outbound only" \
      --tag-specifications "ResourceType=security-group,Tags=[{Key=swescribe:stack,Value=$STACK}]" \
      --query GroupId --output text)"
  fi
fi

step "Builder instance ($INSTANCE_TYPE in $SUBNET_ID)"
NETWORK="{\"DeviceIndex\":0,\"SubnetId\":\"$SUBNET_ID\",\"Groups\":[\"$GROUP_ID\"]"
if ((PUBLIC_IP)); then
  NETWORK+=",\"AssociatePublicIpAddress\":true"
fi
NETWORK="[$NETWORK,\"DeleteOnTermination\":true}]"
ROOT_EBS="{\"Encrypted\":true,\"VolumeType\":\"gp3\",\"DeleteOnTermination\":true${VOLUME_SIZE:+,\"VolumeSize\":$VOLUME_SIZE}}"
DISKS="[{\"DeviceName\":\"$ROOT_DEVICE\",\"Ebs\":$ROOT_EBS}]"
TAGS="{Key=Name,Value=$BUILDER_NAME},{Key=swescribe:stack,Value=$STACK},{Key=swescribe:build,Value=$BUILD_ID}"
USER_DATA_FILE="$(mktemp)"
render_user_data >"$USER_DATA_FILE"
RUN_ARGS=(ec2 run-instances --image-id "$BASE_AMI" --instance-type "$INSTANCE_TYPE"
  --iam-instance-profile "Name=$BUILDER_NAME" --network-interfaces "$NETWORK"
  --metadata-options "HttpTokens=required,HttpEndpoint=enabled,HttpPutResponseHopLimit=1"
  --block-device-mappings "$DISKS" --instance-initiated-shutdown-behavior stop
  --user-data "file://$USER_DATA_FILE"
  --tag-specifications "ResourceType=instance,Tags=[$TAGS]" "ResourceType=volume,Tags=[$TAGS]"
  --query 'Instances[0].InstanceId' --output text)

INSTANCE_ID=""
DONE=0
cleanup() {
  rm -f "$USER_DATA_FILE"
  if [[ -n "${WORK:-}" ]]; then
    rm -rf "$WORK"
  fi
  if [[ -n "$INSTANCE_ID" ]] && ((!DONE)); then
    if ((KEEP_BUILDER)); then
      log "the builder $INSTANCE_ID is kept (--keep-builder); terminate it when done:"
      log "  aws ec2 terminate-instances --instance-ids $INSTANCE_ID --region $AWS_REGION_NAME"
    else
      log "terminating the builder $INSTANCE_ID"
      aws_cli ec2 terminate-instances --instance-ids "$INSTANCE_ID" >/dev/null || true
    fi
  fi
}
trap cleanup EXIT

if ((DRY_RUN)); then
  log "[dry-run] aws $(quoted "${RUN_ARGS[@]}")"
  log "[dry-run] wait for s3://$ARTIFACTS_BUCKET/$BUILD_PREFIX/result.json and the builder to stop"
  log "[dry-run] aws ec2 create-image --instance-id <builder> --name $BUILD_ID, wait until available"
  log "[dry-run] aws ec2 modify-image-attribute --imds-support v2.0; terminate the builder"
  printf '%s\n' "<ami id>"
  exit 0
fi

# A new instance profile takes a few seconds to become usable by EC2.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if INSTANCE_ID="$(aws_cli "${RUN_ARGS[@]}" 2>"$USER_DATA_FILE.err")"; then
    break
  fi
  INSTANCE_ID=""
  if grep -q "Invalid IAM Instance Profile" "$USER_DATA_FILE.err" && ((attempt < 10)); then
    sleep 10
    continue
  fi
  cat "$USER_DATA_FILE.err" >&2
  rm -f "$USER_DATA_FILE.err"
  die "could not launch the builder"
done
rm -f "$USER_DATA_FILE.err"
log "builder $INSTANCE_ID launched; the build takes 20-40 minutes"

step "Waiting for the build"
RESULT_URI="s3://$ARTIFACTS_BUCKET/$BUILD_PREFIX/result.json"
deadline=$((SECONDS + TIMEOUT))
RESULT=""
while ((SECONDS < deadline)); do
  sleep 30
  if RESULT="$(aws_cli s3 cp "$RESULT_URI" - 2>/dev/null)"; then
    break
  fi
  RESULT=""
  state="$(aws_cli ec2 describe-instances --instance-ids "$INSTANCE_ID" \
    --query 'Reservations[0].Instances[0].State.Name' --output text)"
  case "$state" in
    pending | running) log "$(date -u +%H:%M:%S) builder $state" ;;
    stopping | stopped) sleep 30; RESULT="$(aws_cli s3 cp "$RESULT_URI" - 2>/dev/null || true)"; break ;;
    *) break ;;
  esac
done
if [[ "$RESULT" != *'"status": "ok"'* ]]; then
  log "the build failed: ${RESULT:-no result (timed out, or the builder stopped without one)}"
  log "its log: aws s3 cp s3://$ARTIFACTS_BUCKET/$BUILD_PREFIX/build.log -"
  aws_cli s3 cp "s3://$ARTIFACTS_BUCKET/$BUILD_PREFIX/build.log" - 2>/dev/null | tail -n 40 >&2 ||
    aws_cli ec2 get-console-output --instance-id "$INSTANCE_ID" --latest --output text 2>/dev/null |
    tail -n 40 >&2 || true
  exit 1
fi
log "build ok: $RESULT"
aws_cli ec2 wait instance-stopped --instance-ids "$INSTANCE_ID"

step "Image"
AMI_TAGS="{Key=Name,Value=$BUILD_ID},{Key=swescribe:service,Value=swescribe},{Key=swescribe:stack,Value=$STACK},{Key=swescribe:ami,Value=$VERSION},{Key=swescribe:model,Value=$MODEL},{Key=swescribe:diarization,Value=$DIARIZATION},{Key=swescribe:base-ami,Value=$BASE_AMI}"
AMI_ID="$(aws_cli ec2 create-image --instance-id "$INSTANCE_ID" --name "$BUILD_ID" \
  --description "swescribe GPU worker $VERSION, $MODEL baked (diarization: $DIARIZATION), from $BASE_AMI" \
  --tag-specifications "ResourceType=image,Tags=[$AMI_TAGS]" "ResourceType=snapshot,Tags=[$AMI_TAGS]" \
  --query ImageId --output text)"
log "creating $AMI_ID"
deadline=$((SECONDS + 3600))
while :; do
  image_state="$(aws_cli ec2 describe-images --image-ids "$AMI_ID" --query 'Images[0].State' --output text)"
  case "$image_state" in
    available) break ;;
    pending) ((SECONDS < deadline)) || die "$AMI_ID is still pending after an hour" ;;
    *) die "$AMI_ID is $image_state" ;;
  esac
  sleep 20
done
# Instances from this image require IMDSv2 even without a launch template saying so.
aws_cli ec2 modify-image-attribute --image-id "$AMI_ID" --imds-support v2.0 ||
  log "warning: could not set IMDSv2 support on $AMI_ID (the launch template requires it anyway)"
DONE=1
aws_cli ec2 terminate-instances --instance-ids "$INSTANCE_ID" >/dev/null
log "builder $INSTANCE_ID terminated"
log ""
log "AMI $AMI_ID is ready. Next:"
log "  setup/setup_infrastructure.sh --stack-name $STACK --ami-id $AMI_ID --vpc-id VPC --subnet-ids SUBNETS"
printf '%s\n' "$AMI_ID"
