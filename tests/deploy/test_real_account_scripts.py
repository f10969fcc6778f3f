"""setup/lib/api_logging.sh against a scripted `aws` that plays the account: API
Gateway's CloudWatch role is one setting per account and region, and a role made a
moment ago is refused until IAM has propagated it. `pytest -k real_account`."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

ACCOUNT_AWS = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >>"$FAKE_AWS_CALLS"
args=" $* "
ROLE=arn:aws:iam::123456789012:role/swescribe-apigateway-cloudwatch
case "$args" in
  *" apigateway get-account "*) echo "${FAKE_ACCOUNT_ROLE:-None}" ;;
  *" iam get-role "*)
    [ -n "${FAKE_ROLE_EXISTS:-}" ] && { echo "$ROLE"; exit 0; }
    echo "An error occurred (NoSuchEntity) when calling the GetRole operation" >&2; exit 254 ;;
  *" iam create-role "*) echo "$ROLE" ;;
  *" iam attach-role-policy "*) ;;
  *" apigateway update-account "*)
    tries=$(( $(cat "$FAKE_STATE" 2>/dev/null || echo 0) + 1 ))
    echo "$tries" >"$FAKE_STATE"
    if [ "$tries" -le "${FAKE_PROPAGATION_TRIES:-0}" ]; then
      printf '%s %s\n' "An error occurred (BadRequestException) when calling the UpdateAccount" \
        "operation: The role ARN does not have required permissions set to API Gateway" >&2
      exit 254
    fi
    echo '{}' ;;
  *) echo "unexpected aws call: $*" >&2; exit 99 ;;
esac
exit 0
"""


@pytest.fixture
def account_aws(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aws"
    fake.write_text(ACCOUNT_AWS)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SWESCRIBE_", "FAKE_"))}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env['PATH']}",
        FAKE_AWS_CALLS=str(tmp_path / "aws-calls"),
        FAKE_STATE=str(tmp_path / "update-account-tries"),
        API_LOGGING_RETRY_SECONDS="0",
    )
    return env


def ensure_role(
    env: dict[str, str], **fake: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    script = (
        "DRY_RUN=0; source setup/lib/common.sh; source setup/lib/api_logging.sh; "
        'ensure_api_logging_role; echo "ApiLogging=$API_LOGGING"'
    )
    result = subprocess.run(
        ["bash", "-c", script],
        env={**env, **fake},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    calls = Path(env["FAKE_AWS_CALLS"])
    return result, calls.read_text().splitlines() if calls.exists() else []


def test_real_account_an_accounts_own_api_gateway_logging_role_is_left_as_it_is(
    account_aws: dict[str, str],
) -> None:
    """Another stack (or team) set the account's role: overwriting it would move their
    logs; the stack's stages log through it."""
    result, calls = ensure_role(
        account_aws, FAKE_ACCOUNT_ROLE="arn:aws:iam::123456789012:role/their-logging-role"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ApiLogging=true"
    assert [call for call in calls if "update-account" in call or "create-role" in call] == []
    assert "their-logging-role (left as it is)" in result.stderr


def test_real_account_a_new_logging_role_is_retried_while_iam_propagates(
    account_aws: dict[str, str],
) -> None:
    """API Gateway refuses a role made a moment ago ("does not have required permissions")
    until IAM has propagated it: the setting is retried, not the whole stack rolled back."""
    result, calls = ensure_role(account_aws, FAKE_PROPAGATION_TRIES="2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ApiLogging=true"
    assert sum("iam create-role" in call for call in calls) == 1
    updates = [call for call in calls if "apigateway update-account" in call]
    assert len(updates) == 3
    assert "path=/cloudwatchRoleArn,value=arn:aws:iam::123456789012:role/" in updates[-1]


def test_real_account_a_logging_role_that_never_takes_leaves_the_stage_without_logs(
    account_aws: dict[str, str],
) -> None:
    result, calls = ensure_role(
        account_aws, FAKE_ROLE_EXISTS="1", FAKE_PROPAGATION_TRIES="99", API_LOGGING_ATTEMPTS="3"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ApiLogging=false"
    assert not any("create-role" in call for call in calls)
    assert "warning: API Gateway's CloudWatch role is not set" in result.stderr
