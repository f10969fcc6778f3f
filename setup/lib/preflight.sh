# shellcheck shell=bash
# Checks setup_infrastructure.sh makes before it creates anything: the names a new stack
# takes must be free, and the workers' subnets must reach the AWS APIs they call.
# Sourced after common.sh (aws_cli, die, log).
set -euo pipefail

# data_bucket_name STACK ACCOUNT: the data bucket of a new stack when --bucket is left out
# (bucket names are global: the template's transcription-curevo is almost surely taken).
data_bucket_name() {
  local name="$1-data-$2-$AWS_REGION_NAME"
  if ((${#name} > 63)) || [[ ! "$name" =~ ^[a-z0-9][a-z0-9.-]*$ ]]; then
    die "data bucket name '$name' is not a valid S3 bucket name; pass --bucket"
  fi
  printf '%s' "$name"
}

# check_names_free BUCKET TABLE: a new stack creates both, so neither may exist yet.
check_names_free() {
  local bucket="$1" table="$2" answer problems=()
  if answer="$(aws_cli s3api head-bucket --bucket "$bucket" 2>&1)"; then
    problems+=("bucket $bucket already exists in this account (a leftover of an earlier stack?). If its data is not needed: aws s3 rb s3://$bucket --force; or choose another name with --bucket")
  elif [[ "$answer" == *403* || "$answer" == *Forbidden* ]]; then
    problems+=("bucket $bucket belongs to another account; choose another name with --bucket")
  fi
  if aws_cli dynamodb describe-table --table-name "$table" >/dev/null 2>&1; then
    problems+=("table $table already exists (a leftover of an earlier stack?). If its jobs are not needed: aws dynamodb delete-table --table-name $table; or choose another name with --table")
  fi
  if ((${#problems[@]})); then
    log "a new stack cannot be created:"
    printf '  - %s\n' "${problems[@]}" >&2
    exit 1
  fi
}

# _route_table SUBNET VPC: the subnet's route table (its own, else the VPC's main one).
_route_table() {
  local table
  table="$(aws_cli ec2 describe-route-tables --filters "Name=association.subnet-id,Values=$1" \
    --query 'RouteTables[0].RouteTableId' --output text)"
  if [[ -z "$table" || "$table" == None ]]; then
    table="$(aws_cli ec2 describe-route-tables \
      --filters "Name=vpc-id,Values=$2" "Name=association.main,Values=true" \
      --query 'RouteTables[0].RouteTableId' --output text)"
  fi
  printf '%s' "$table"
}

# _warn_s3_through_nat SUBNET VPC TABLE: a NAT route carries S3 too, billed per GB of NAT
# data processing (every upload and result), unless an S3 gateway endpoint (free) is on
# the subnet's route table. Only a warning: the workers do reach S3.
_warn_s3_through_nat() {
  local tables
  tables=" $(aws_cli ec2 describe-vpc-endpoints \
    --filters "Name=vpc-id,Values=$2" "Name=vpc-endpoint-type,Values=Gateway" \
    "Name=service-name,Values=com.amazonaws.$AWS_REGION_NAME.s3" \
    "Name=vpc-endpoint-state,Values=available" \
    --query 'VpcEndpoints[].RouteTableIds[]' --output text | tr '\t' ' ') "
  [[ "$tables" == *" $3 "* ]] && return 0
  log "warning: $1: S3 traffic goes through the NAT gateway (NAT data processing is billed per GB of audio and results); a gateway endpoint is free: aws ec2 create-vpc-endpoint --vpc-id $2 --vpc-endpoint-type Gateway --service-name com.amazonaws.$AWS_REGION_NAME.s3 --route-table-ids $3"
}

# check_worker_subnets VPC SUBNETS: every subnet (comma-separated) is in VPC (when given)
# and a worker launched there reaches S3, SQS, DynamoDB, EC2 and CloudWatch Logs over
# HTTPS: a public subnet that gives instances a public IP, a default route to a NAT
# gateway, or VPC endpoints for all five services. Says what is missing, per subnet.
check_worker_subnets() {
  local vpc="$1" subnet subnet_vpc public_ip table target endpoints service
  local subnets=() problems=() missing=()
  IFS=',' read -r -a subnets <<<"$2"
  for subnet in "${subnets[@]}"; do
    if ! read -r subnet_vpc public_ip < <(aws_cli ec2 describe-subnets --subnet-ids "$subnet" \
      --query 'Subnets[0].[VpcId,MapPublicIpOnLaunch]' --output text 2>/dev/null); then
      problems+=("$subnet: no such subnet in $AWS_REGION_NAME")
      continue
    fi
    if [[ -n "$vpc" && "$subnet_vpc" != "$vpc" ]]; then
      problems+=("$subnet: in $subnet_vpc, not in --vpc-id $vpc")
      continue
    fi
    table="$(_route_table "$subnet" "$subnet_vpc")"
    target="$(aws_cli ec2 describe-route-tables --route-table-ids "$table" \
      --query "RouteTables[0].Routes[?DestinationCidrBlock=='0.0.0.0/0'].[NatGatewayId,GatewayId]" \
      --output text)"
    case "$target" in
      *nat-*)
        _warn_s3_through_nat "$subnet" "$subnet_vpc" "$table"
        continue
        ;;
      *igw-*)
        [[ "$public_ip" == True ]] && continue
        problems+=("$subnet: public (default route to an internet gateway) but it gives instances no public IP, so workers cannot reach AWS; turn on aws ec2 modify-subnet-attribute --subnet-id $subnet --map-public-ip-on-launch, or use a private subnet with a NAT gateway")
        continue
        ;;
    esac
    endpoints=" $(aws_cli ec2 describe-vpc-endpoints \
      --filters "Name=vpc-id,Values=$subnet_vpc" "Name=vpc-endpoint-state,Values=available" \
      --query 'VpcEndpoints[].ServiceName' --output text | tr '\t' ' ') "
    missing=()
    for service in s3 sqs dynamodb ec2 logs; do
      [[ "$endpoints" == *".$service "* ]] || missing+=("$service")
    done
    if ((${#missing[@]})); then
      problems+=("$subnet: no default route to a NAT gateway or an internet gateway, and no VPC endpoint for ${missing[*]} (com.amazonaws.$AWS_REGION_NAME.<service>)")
    fi
  done
  if ((${#problems[@]})); then
    log "the worker subnets cannot reach the AWS APIs the workers call (nothing was created):"
    printf '  - %s\n' "${problems[@]}" >&2
    exit 1
  fi
  log "subnets $2: workers reach S3, SQS, DynamoDB, EC2 and CloudWatch Logs"
}
