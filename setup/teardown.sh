#!/usr/bin/env bash
# Remove a swescribe deployment: its workers, its stack and, when asked, its data and AMIs.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: setup/teardown.sh [options]

Terminates the stack's GPU worker instances (they are launched by the Lambdas, not by
CloudFormation), deletes the CloudFormation stack and waits until it is gone.

Options:
  --stack-name NAME   the stack (default: swescribe)
  --delete-data       also delete every object in the data bucket and the artifacts
                      bucket, then the buckets, and the job table if the stack kept it.
                      Asks for the stack name first, unless --yes. Cannot be undone.
  --delete-amis       also deregister the worker AMIs built for this stack (tag
                      swescribe:stack) and delete their snapshots, and remove the AMI
                      builder's role and security group
  --artifacts-bucket B    default: <stack>-artifacts-<account>-<region>
  --bucket B, --table T   with --delete-data: the data bucket and job table to delete when
                      the stack is already gone (a plain teardown kept them)
  --yes               do not ask
  --profile NAME      AWS named profile (default: $AWS_PROFILE)
  --region REGION     AWS region (default: $AWS_REGION, else eu-north-1)
  --dry-run           change nothing: print what would be done
  -h, --help          this help

The template retains the data bucket and the job table once created (a failed first
create removes them: DeletionPolicy RetainExceptOnCreate), so
without --delete-data they outlive the stack, with their audio, transcripts and jobs. A new
stack with the same BucketName and TableName cannot be created while they exist: delete
them later with --delete-data --bucket B --table T, or deploy with other names.
EOF
}

STACK="$SWESCRIBE_DEFAULT_STACK"
ARTIFACTS_BUCKET=""
GIVEN_BUCKET=""
GIVEN_TABLE=""
DELETE_DATA=0
DELETE_AMIS=0
ASSUME_YES=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stack-name) STACK="$(need_value "$@")"; shift 2 ;;
    --artifacts-bucket) ARTIFACTS_BUCKET="$(need_value "$@")"; shift 2 ;;
    --bucket) GIVEN_BUCKET="$(need_value "$@")"; shift 2 ;;
    --table) GIVEN_TABLE="$(need_value "$@")"; shift 2 ;;
    --delete-data) DELETE_DATA=1; shift ;;
    --delete-amis) DELETE_AMIS=1; shift ;;
    --yes) ASSUME_YES=1; shift ;;
    --profile) AWS_PROFILE_NAME="$(need_value "$@")"; shift 2 ;;
    --region) AWS_REGION_NAME="$(need_value "$@")"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
done

check_prerequisites
ACCOUNT="$(account_id)"
[[ -n "$ARTIFACTS_BUCKET" ]] || ARTIFACTS_BUCKET="$(artifacts_bucket_name "$STACK" "$ACCOUNT")"

EXISTS=1
if ((DRY_RUN)); then
  DATA_BUCKET="<BucketName of $STACK>"
  TABLE="<TableName of $STACK>"
  TEMPLATE_NAME="<LaunchTemplateName of $STACK>"
elif stack_exists "$STACK"; then
  DATA_BUCKET="$(stack_output "$STACK" BucketName)"
  TABLE="$(stack_output "$STACK" TableName)"
  TEMPLATE_NAME="$(stack_output "$STACK" LaunchTemplateName)"
else
  EXISTS=0
  DATA_BUCKET=""
  TABLE=""
  TEMPLATE_NAME=""
  log "stack $STACK does not exist in $AWS_REGION_NAME (account $ACCOUNT)"
fi
[[ -z "$GIVEN_BUCKET" ]] || DATA_BUCKET="$GIVEN_BUCKET"
[[ -z "$GIVEN_TABLE" ]] || TABLE="$GIVEN_TABLE"

if ((DELETE_DATA && !ASSUME_YES && !DRY_RUN)); then
  log "This deletes every object in s3://${DATA_BUCKET:-<no data bucket>} and s3://$ARTIFACTS_BUCKET,"
  log "the buckets, and the job table ${TABLE:-<none>}. Audio, transcripts and job records are lost."
  read -r -p "Type the stack name ($STACK) to go on: " answer
  [[ "$answer" == "$STACK" ]] || die "not confirmed; nothing was deleted"
fi

# empty_bucket BUCKET: every object version and delete marker, at most 1000 a request.
empty_bucket() {
  local bucket="$1" batch
  if ((DRY_RUN)); then
    log "[dry-run] delete every object version in s3://$bucket"
    return 0
  fi
  if ! aws_cli s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
    log "s3://$bucket does not exist"
    return 0
  fi
  log "emptying s3://$bucket"
  while :; do
    # shellcheck disable=SC2016 # `true` is a JMESPath literal, not a command
    batch="$(aws_cli s3api list-object-versions --bucket "$bucket" --max-items 500 --output json \
      --query '{Objects: [Versions[].{Key: Key, VersionId: VersionId}, DeleteMarkers[].{Key: Key, VersionId: VersionId}][], Quiet: `true`}')"
    [[ "$batch" == *'"Key"'* ]] || break
    aws_cli s3api delete-objects --bucket "$bucket" --delete "$batch" >/dev/null
  done
}

delete_bucket() {
  empty_bucket "$1"
  if ((DRY_RUN)) || aws_cli s3api head-bucket --bucket "$1" >/dev/null 2>&1; then
    aws_do s3api delete-bucket --bucket "$1"
  fi
}

# The workers of this stack: launched from its launch template (EC2 tags each instance
# with the template's id) and tagged swescribe:service.
terminate_workers() {
  local template_id ids
  if ((DRY_RUN)); then
    log "[dry-run] terminate running instances launched from $TEMPLATE_NAME, and wait"
    return 0
  fi
  [[ -n "$TEMPLATE_NAME" ]] || return 0
  template_id="$(aws_cli ec2 describe-launch-templates --launch-template-names "$TEMPLATE_NAME" \
    --query 'LaunchTemplates[0].LaunchTemplateId' --output text 2>/dev/null || true)"
  [[ -n "$template_id" && "$template_id" != "None" ]] || return 0
  ids="$(aws_cli ec2 describe-instances \
    --filters "Name=tag:aws:ec2launchtemplate:id,Values=$template_id" "Name=tag-key,Values=swescribe:service" \
    "Name=instance-state-name,Values=pending,running,stopping,stopped" \
    --query 'Reservations[].Instances[].InstanceId' --output text)"
  if [[ -z "$ids" || "$ids" == "None" ]]; then
    log "no worker instances"
    return 0
  fi
  log "terminating workers: ${ids//$'\t'/ }"
  # shellcheck disable=SC2086 # one instance id per word
  aws_cli ec2 terminate-instances --instance-ids $ids >/dev/null
  # shellcheck disable=SC2086 # one instance id per word
  aws_cli ec2 wait instance-terminated --instance-ids $ids
}

# stop_functions: no Lambda of the stack runs again, so none launches a worker between the
# workers' termination and the stack's deletion (which removes the functions).
stop_functions() {
  local output name
  for output in ApiFunctionName ProcessUploadFunctionName JanitorFunctionName; do
    if ((DRY_RUN)); then
      log "[dry-run] set the reserved concurrency of $output to 0"
      continue
    fi
    name="$(stack_output "$STACK" "$output")"
    [[ -n "$name" && "$name" != "None" ]] || continue
    aws_cli lambda put-function-concurrency --function-name "$name" \
      --reserved-concurrent-executions 0 >/dev/null
    log "stopped $name"
  done
}

if ((EXISTS)); then
  step "Functions of $STACK"
  stop_functions
  step "Workers of $STACK"
  terminate_workers
  if ((DELETE_DATA)) && [[ -n "$DATA_BUCKET" ]]; then
    step "Data bucket"
    empty_bucket "$DATA_BUCKET"
  fi
  step "Deleting stack $STACK"
  aws_do cloudformation delete-stack --stack-name "$STACK"
  if ((!DRY_RUN)) && ! aws_cli cloudformation wait stack-delete-complete --stack-name "$STACK"; then
    log "the stack's deletion failed; the latest failures:"
    aws_cli cloudformation describe-stack-events --stack-name "$STACK" --max-items 40 \
      --query "StackEvents[?contains(ResourceStatus, 'FAILED')].[LogicalResourceId,ResourceStatusReason]" \
      --output table >&2 || true
    die "see the reasons above; fix them and run this again"
  fi
  ((DRY_RUN)) || log "stack $STACK deleted"
fi

if ((DELETE_DATA)); then
  step "Data"
  if [[ -n "$DATA_BUCKET" ]]; then
    delete_bucket "$DATA_BUCKET" # a retained bucket outlives the stack
  fi
  if [[ -n "$TABLE" ]]; then
    if ((DRY_RUN)) || aws_cli dynamodb describe-table --table-name "$TABLE" >/dev/null 2>&1; then
      aws_do dynamodb delete-table --table-name "$TABLE" >/dev/null
    fi
  fi
  delete_bucket "$ARTIFACTS_BUCKET"
fi

if ((DELETE_AMIS)); then
  step "Worker AMIs of $STACK"
  if ((DRY_RUN)); then
    log "[dry-run] deregister images tagged swescribe:stack=$STACK and delete their snapshots"
  else
    images="$(aws_cli ec2 describe-images --owners self --filters "Name=tag:swescribe:stack,Values=$STACK" \
      --query 'Images[].ImageId' --output text)"
    for image in $images; do
      [[ "$image" == "None" ]] && continue
      snapshots="$(aws_cli ec2 describe-images --image-ids "$image" \
        --query 'Images[0].BlockDeviceMappings[].Ebs.SnapshotId' --output text)"
      aws_cli ec2 deregister-image --image-id "$image"
      log "deregistered $image"
      for snapshot in $snapshots; do
        [[ "$snapshot" == "None" ]] && continue
        aws_cli ec2 delete-snapshot --snapshot-id "$snapshot"
        log "deleted $snapshot"
      done
    done
  fi
  # The AMI builder's own resources (run_transcription/build_ami.sh creates them).
  BUILDER="$STACK-ami-builder"
  if ((DRY_RUN)) || aws_cli iam get-instance-profile --instance-profile-name "$BUILDER" >/dev/null 2>&1; then
    aws_do iam remove-role-from-instance-profile --instance-profile-name "$BUILDER" --role-name "$BUILDER" || true
    aws_do iam delete-instance-profile --instance-profile-name "$BUILDER"
  fi
  if ((DRY_RUN)) || aws_cli iam get-role --role-name "$BUILDER" >/dev/null 2>&1; then
    aws_do iam delete-role-policy --role-name "$BUILDER" --policy-name "$BUILDER" || true
    aws_do iam detach-role-policy --role-name "$BUILDER" \
      --policy-arn arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore || true
    aws_do iam delete-role --role-name "$BUILDER"
  fi
  if ((DRY_RUN)); then
    log "[dry-run] delete security groups named $BUILDER"
  else
    for group in $(aws_cli ec2 describe-security-groups --filters "Name=group-name,Values=$BUILDER" \
      --query 'SecurityGroups[].GroupId' --output text); do
      [[ "$group" == "None" ]] && continue
      if aws_cli ec2 delete-security-group --group-id "$group"; then
        log "deleted security group $group"
      else
        log "warning: could not delete security group $group (still in use?)"
      fi
    done
  fi
fi
log ""
if ((!DELETE_DATA)) && [[ -n "$DATA_BUCKET$TABLE" ]]; then
  log "kept (retained by the template): bucket ${DATA_BUCKET:-?} and table ${TABLE:-?},"
  log "and the artifacts bucket $ARTIFACTS_BUCKET. Remove them later with:"
  log "  setup/teardown.sh --stack-name $STACK --delete-data --bucket ${DATA_BUCKET:-B} --table ${TABLE:-T}"
  log "A new stack with the same bucket and table names cannot be created until then."
fi
log "teardown of $STACK done"
