"""setup_infrastructure.sh's checks before it creates anything (setup/lib/preflight.sh),
against a scripted `aws` that plays one network layout per test: the names a new stack
takes must be free, and the workers' subnets must reach S3, SQS, DynamoDB, EC2 and
CloudWatch Logs (a public IP, a NAT route, or VPC endpoints)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

NETWORK_AWS = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >>"$FAKE_AWS_CALLS"
args=" $* "
case "$args" in
  *" --version "*) echo "aws-cli/2.17.0 Python/3.11.9 Linux/6.1" ;;
  *" sts get-caller-identity "*) echo 123456789012 ;;
  *" describe-stacks "*) echo "Stack does not exist" >&2; exit 254 ;;
  *" s3api head-bucket "*)
    [ -n "${FAKE_BUCKET_EXISTS:-}" ] && exit 0
    echo "An error occurred (404) when calling the HeadBucket operation: Not Found" >&2; exit 254 ;;
  *" dynamodb describe-table "*)
    [ -n "${FAKE_TABLE_EXISTS:-}" ] && { echo '{}'; exit 0; }
    echo "ResourceNotFoundException" >&2; exit 254 ;;
  *" describe-subnets "*)
    printf '%s\t%s\n' "${FAKE_SUBNET_VPC:-vpc-0abc}" "${FAKE_PUBLIC_IP:-False}" ;;
  *" describe-route-tables "*"association.subnet-id"*) echo "${FAKE_OWN_TABLE:-None}" ;;
  *" describe-route-tables "*"association.main"*) echo rtb-main ;;
  *" describe-route-tables "*) printf '%s\n' "${FAKE_DEFAULT_ROUTE:-}" ;;
  *" describe-vpc-endpoints "*"vpc-endpoint-type"*) printf '%s\n' "${FAKE_S3_GATEWAY_TABLES:-}" ;;
  *" describe-vpc-endpoints "*) printf '%s\n' "${FAKE_ENDPOINTS:-}" ;;
  *) echo "unexpected aws call: $*" >&2; exit 99 ;;
esac
exit 0
"""


@pytest.fixture
def network_aws(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aws"
    fake.write_text(NETWORK_AWS)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "aws-calls"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SWESCRIBE_", "FAKE_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", FAKE_AWS_CALLS=str(calls))
    return env, calls


def setup_new_stack(env: dict[str, str], **fake: str) -> subprocess.CompletedProcess[str]:
    """setup_infrastructure.sh for a new stack; it must stop in its preflight."""
    return subprocess.run(
        [
            "bash",
            str(REPO_ROOT / "setup" / "setup_infrastructure.sh"),
            *("--stack-name", "demo", "--region", "eu-west-1"),
            *("--vpc-id", "vpc-0abc", "--subnet-ids", "subnet-a", "--ami-id", "ami-0abc"),
        ],
        env={**env, **fake},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def check_subnets(env: dict[str, str], **fake: str) -> subprocess.CompletedProcess[str]:
    script = (
        'DRY_RUN=0; AWS_PROFILE_NAME=""; AWS_REGION_NAME=eu-west-1; '
        "source setup/lib/common.sh; source setup/lib/preflight.sh; "
        "check_worker_subnets vpc-0abc subnet-a,subnet-b"
    )
    return subprocess.run(
        ["bash", "-c", script],
        env={**env, **fake},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def created_anything(calls: Path) -> list[str]:
    verbs = ("create", "put-", "deploy", " cp ", "mb ")
    return [line for line in calls.read_text().splitlines() if any(v in line for v in verbs)]


def test_a_private_subnet_without_nat_or_endpoints_stops_the_deploy_before_anything(
    network_aws: tuple[dict[str, str], Path],
) -> None:
    env, calls = network_aws
    result = setup_new_stack(env, FAKE_ENDPOINTS="com.amazonaws.eu-west-1.s3")
    assert result.returncode == 1, result.stderr
    assert "subnet-a: no default route to a NAT gateway" in result.stderr
    assert "no VPC endpoint for sqs dynamodb ec2 logs" in result.stderr
    assert created_anything(calls) == []


def test_a_new_stack_gets_its_own_bucket_name_and_stops_if_it_is_taken(
    network_aws: tuple[dict[str, str], Path],
) -> None:
    env, calls = network_aws
    result = setup_new_stack(env, FAKE_BUCKET_EXISTS="1", FAKE_TABLE_EXISTS="1")
    assert result.returncode == 1, result.stderr
    assert "bucket demo-data-123456789012-eu-west-1 already exists" in result.stderr
    assert "aws s3 rb s3://demo-data-123456789012-eu-west-1 --force" in result.stderr
    assert "aws dynamodb delete-table --table-name transcription-jobs" in result.stderr
    assert "transcription-curevo" not in calls.read_text()
    assert created_anything(calls) == []


def test_a_public_subnet_must_give_workers_a_public_ip(
    network_aws: tuple[dict[str, str], Path],
) -> None:
    env, _ = network_aws
    public = {"FAKE_DEFAULT_ROUTE": "None\tigw-0abc"}
    refused = check_subnets(env, **public)
    assert refused.returncode == 1
    assert "subnet-a: public (default route to an internet gateway)" in refused.stderr
    assert "--map-public-ip-on-launch" in refused.stderr
    assert check_subnets(env, **public, FAKE_PUBLIC_IP="True").returncode == 0


@pytest.mark.parametrize(
    "layout",
    [
        {"FAKE_DEFAULT_ROUTE": "nat-0abc\tNone"},
        {"FAKE_OWN_TABLE": "rtb-own", "FAKE_DEFAULT_ROUTE": "nat-0abc\tNone"},
        {
            "FAKE_ENDPOINTS": "\t".join(
                f"com.amazonaws.eu-west-1.{service}"
                for service in ("s3", "dynamodb", "sqs", "ec2", "logs")
            )
        },
    ],
    ids=["nat-in-main-table", "nat-in-own-table", "vpc-endpoints"],
)
def test_subnets_with_a_nat_route_or_every_endpoint_pass(
    network_aws: tuple[dict[str, str], Path], layout: dict[str, str]
) -> None:
    env, _ = network_aws
    result = check_subnets(env, **layout)
    assert result.returncode == 0, result.stderr
    assert "workers reach S3, SQS, DynamoDB, EC2 and CloudWatch Logs" in result.stderr


def test_a_subnet_of_another_vpc_is_refused(network_aws: tuple[dict[str, str], Path]) -> None:
    env, _ = network_aws
    result = check_subnets(env, FAKE_SUBNET_VPC="vpc-0other", FAKE_DEFAULT_ROUTE="nat-1\tNone")
    assert result.returncode == 1
    assert "subnet-a: in vpc-0other, not in --vpc-id vpc-0abc" in result.stderr


def test_real_account_a_nat_route_without_an_s3_gateway_endpoint_is_warned_about(
    network_aws: tuple[dict[str, str], Path],
) -> None:
    """Through a NAT gateway every byte of audio and results is billed as NAT data
    processing; an S3 gateway endpoint on the subnet's route table costs nothing. The
    deploy goes on (workers do reach S3), with a warning that says how to add one."""
    env, _ = network_aws
    nat = {"FAKE_OWN_TABLE": "rtb-own", "FAKE_DEFAULT_ROUTE": "nat-0abc\tNone"}
    warned = check_subnets(env, **nat)
    assert warned.returncode == 0, warned.stderr
    assert "warning: subnet-a: S3 traffic goes through the NAT gateway" in warned.stderr
    assert "create-vpc-endpoint --vpc-id vpc-0abc --vpc-endpoint-type Gateway" in warned.stderr
    assert ".s3 --route-table-ids rtb-own" in warned.stderr
    quiet = check_subnets(env, **nat, FAKE_S3_GATEWAY_TABLES="rtb-other\trtb-own")
    assert quiet.returncode == 0, quiet.stderr
    assert "warning" not in quiet.stderr
