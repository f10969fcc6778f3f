"""The deployment scripts (setup/, run_transcription/, docker/): shellcheck-clean, strict, free of
secrets, with --help, and a --dry-run that never reaches AWS. No AWS account is needed:
a fake `aws` on PATH fails the test if any script calls an AWS API."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, speaker_model_dirs

ENTRY_SCRIPTS = (
    "setup/setup_infrastructure.sh",
    "setup/setup_api_gateway.sh",
    "setup/teardown.sh",
    "setup/lambda/deploy_lambda_functions.sh",
    "run_transcription/build_ami.sh",
    "run_transcription/start-worker.sh",
)
SHELL_FILES = (
    *ENTRY_SCRIPTS,
    "setup/lib/common.sh",
    "setup/lib/preflight.sh",
    "setup/lib/api_logging.sh",
    "run_transcription/provision_worker_ami.sh",
    "docker/test.sh",
)
SCANNED_FOR_SECRETS = (
    *SHELL_FILES,
    "setup/lambda/build_lambda_package.py",
    "setup/lambda/requirements.txt",
    "run_transcription/worker-requirements.txt",
    "run_transcription/diarize-requirements.txt",
    "docker/Dockerfile",
    "docker/compose.yaml",
    "docker/webhook_receiver.py",
)
FAKE_AWS = """#!/bin/sh
printf '%s\\n' "$*" >>"$FAKE_AWS_CALLS"
if [ "$1" = "--version" ]; then
  echo "aws-cli/2.17.0 Python/3.11.9 Linux/6.1 exe/x86_64"
  exit 0
fi
echo "fake aws: no AWS here ($*)" >&2
exit 99
"""


def _secret_patterns() -> list[re.Pattern[str]]:
    return [
        re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key id
        re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*\S+"),
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
        re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),  # GitHub token
        re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),  # Hugging Face token
        re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),  # Slack token
        # A quoted literal assigned to something named like a secret ($variables are fine).
        re.compile(
            r"(?i)\b\w*(?:secret|password|passwd|api_?key|token)\w*\s*[=:]\s*"
            r"['\"][^'\"$<{\s]{8,}['\"]"
        ),
        # 40 characters of base64 with upper, lower and digits: an AWS secret access key.
        re.compile(
            r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]*[A-Z])(?=[A-Za-z0-9/+]*[a-z])"
            r"(?=[A-Za-z0-9/+]*[0-9])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
    ]


def secret_looking(text: str) -> list[str]:
    return [match.group(0) for pattern in _secret_patterns() for match in pattern.finditer(text)]


@pytest.fixture(scope="module")
def shellcheck() -> str:
    """Debian's shellcheck; CI (CI=1) installs it, so there a missing one is a failure."""
    found = shutil.which("shellcheck")
    if found is None:
        message = "shellcheck is not installed (apt-get install -y shellcheck)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def no_aws(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose `aws` answers --version only and records every call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aws"
    fake.write_text(FAKE_AWS)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "aws-calls"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "SWESCRIBE_")) and name != "CI"
    }
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", FAKE_AWS_CALLS=str(calls))
    return env, calls


def aws_api_calls(calls: Path) -> list[str]:
    if not calls.exists():
        return []
    return [line for line in calls.read_text().splitlines() if line != "--version"]


def run_script(
    script: str, *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO_ROOT / script), *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- every script ---------------------------------------------------------------------------


@pytest.mark.parametrize("script", SHELL_FILES)
def test_script_passes_shellcheck(script: str, shellcheck: str) -> None:
    result = subprocess.run(
        [shellcheck, "--external-sources", str(REPO_ROOT / script)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SHELL_FILES)
def test_script_stops_on_errors_unset_variables_and_failed_pipes(script: str) -> None:
    text = (REPO_ROOT / script).read_text()
    assert re.search(r"^set -euo pipefail$", text, re.MULTILINE), script
    if script in ENTRY_SCRIPTS or script.endswith("provision_worker_ami.sh"):
        assert text.startswith("#!/usr/bin/env bash\n")
        assert os.access(REPO_ROOT / script, os.X_OK), f"{script} is not executable"


@pytest.mark.parametrize("path", SCANNED_FOR_SECRETS)
def test_no_secret_looking_literals(path: str) -> None:
    assert secret_looking((REPO_ROOT / path).read_text()) == []


def test_the_secret_scan_finds_what_it_looks_for() -> None:
    access_key = "AKIA" + "Q3EXAMPLE7EXAMPLE"[:16]
    secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
    samples = [
        access_key,
        f"key={secret_key}",
        'API_KEY="' + "s3cr3t-value-123" + '"',
        "-----BEGIN RSA " + "PRIVATE KEY-----",
    ]
    for sample in samples:
        assert secret_looking(sample), sample
    harmless = 'token="$(curl -fsS -X PUT "$imds/latest/api/token")"\n--hash=sha256:' + "ab" * 32
    assert secret_looking(harmless) == []


@pytest.mark.parametrize("script", ENTRY_SCRIPTS)
def test_help_explains_usage_without_aws(script: str, no_aws: tuple[dict[str, str], Path]) -> None:
    env, calls = no_aws
    result = run_script(script, "--help", env=env)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert aws_api_calls(calls) == []


@pytest.mark.parametrize("script", ENTRY_SCRIPTS)
def test_unknown_option_is_a_usage_error(script: str, no_aws: tuple[dict[str, str], Path]) -> None:
    env, calls = no_aws
    result = run_script(script, "--no-such-option", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no-such-option" in result.stderr
    assert aws_api_calls(calls) == []


# --- dry runs ------------------------------------------------------------------------------

DRY_RUNS = {
    "setup_infrastructure": (
        "setup/setup_infrastructure.sh",
        [
            "--dry-run",
            "--vpc-id",
            "vpc-0abc",
            "--subnet-ids",
            "subnet-a,subnet-b",
            "--ami-id",
            "ami-0abc",
            "--instance-per-job",
            "--alarm-email",
            "ops@example.com",
            "--profile",
            "swescribe-test",
            "--region",
            "eu-west-1",
        ],
        [
            "aws cloudformation deploy --stack-name swescribe",
            "--capabilities CAPABILITY_NAMED_IAM",
            "--no-fail-on-empty-changeset",
            "VpcId=vpc-0abc",
            "SubnetIds=subnet-a,subnet-b",
            "WorkerAmiId=ami-0abc",
            "InstancePerJob=true",
            "AlarmEmail=ops@example.com",
            "ArtifactsBucket=swescribe-artifacts-123456789012-eu-west-1",
            "LambdaCodeKey=lambda/",
            "WorkerWheelKey=wheels/",
            "ApiLogging=true",
            "apigateway get-account",
            "put-public-access-block",
            "SSEAlgorithm",
            "aws:SecureTransport",
            "--profile swescribe-test",
        ],
    ),
    "deploy_lambda_functions": (
        "setup/lambda/deploy_lambda_functions.sh",
        ["--dry-run", "--stack-name", "demo"],
        ["build_lambda_package.py", "update-function-code", "lambda wait function-updated"],
    ),
    "teardown": (
        "setup/teardown.sh",
        ["--dry-run", "--delete-data", "--delete-amis", "--stack-name", "demo"],
        ["delete-stack --stack-name demo", "delete-bucket", "deregister images", "terminate"],
    ),
    "build_ami": (
        "run_transcription/build_ami.sh",
        ["--dry-run", "--subnet-id", "subnet-0abc", "--region", "us-east-1"],
        [
            "base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id",
            "run-instances",
            "HttpTokens=required",
            '\\"Encrypted\\":true',
            "--instance-type g4dn.xlarge",
            "create-image",
            "AmazonSSMManagedInstanceCore",
        ],
    ),
    "build_ami_pyannote": (
        "run_transcription/build_ami.sh",
        [
            "--dry-run",
            "--subnet-id",
            "subnet-0abc",
            "--region",
            "eu-west-1",
            "--diarization",
            "pyannote",
            "--hf-token-parameter",
            "/swescribe/hf-token",
        ],
        [
            "diarize-requirements.txt",
            '\\"Action\\":\\"ssm:GetParameter\\"',
            "arn:aws:ssm:eu-west-1:123456789012:parameter/swescribe/hf-token",
            '\\"kms:ViaService\\":\\"ssm.eu-west-1.amazonaws.com\\"',
        ],
    ),
    "build_ami_pyannote_from_s3": (
        "run_transcription/build_ami.sh",
        [
            "--dry-run",
            "--subnet-id",
            "subnet-0abc",
            "--diarization",
            "pyannote",
            "--diarization-s3-uri",
            "s3://models-bucket/pyannote/community-1/",
        ],
        ["arn:aws:s3:::models-bucket/pyannote/community-1/\\*", "s3:prefix"],
    ),
    "api_key_create": (
        "setup/setup_api_gateway.sh",
        ["--dry-run", "create", "--name", "ci"],
        ["create-api-key --name ci", "create-usage-plan-key"],
    ),
    "api_key_revoke": (
        "setup/setup_api_gateway.sh",
        ["--dry-run", "revoke", "k3y1d"],
        ["value=false", "delete-usage-plan-key", "delete-api-key --api-key k3y1d"],
    ),
    "api_key_rotate": (
        "setup/setup_api_gateway.sh",
        ["--dry-run", "rotate", "k3y1d", "--name", "ci-2"],
        ["k3y1d stays valid", "create-api-key --name ci-2"],
    ),
}


@pytest.mark.parametrize("case", sorted(DRY_RUNS))
def test_dry_run_prints_the_plan_and_calls_no_aws(
    case: str, no_aws: tuple[dict[str, str], Path]
) -> None:
    env, calls = no_aws
    script, args, expected = DRY_RUNS[case]
    result = run_script(script, *args, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert aws_api_calls(calls) == []
    for text in expected:
        assert text in output, f"{text!r} not in the plan:\n{output}"


def test_created_api_key_is_alone_on_the_last_line(no_aws: tuple[dict[str, str], Path]) -> None:
    env, _ = no_aws
    result = run_script("setup/setup_api_gateway.sh", "--dry-run", "create", "--name", "x", env=env)
    assert result.stdout.splitlines()[-1] == "<new key value>"


def test_new_stack_needs_network_and_ami(no_aws: tuple[dict[str, str], Path]) -> None:
    env, calls = no_aws
    result = run_script("setup/setup_infrastructure.sh", "--dry-run", env=env)
    assert result.returncode == 2
    assert "--vpc-id --subnet-ids --ami-id" in result.stderr
    assert aws_api_calls(calls) == []


def test_build_ami_needs_a_subnet(no_aws: tuple[dict[str, str], Path]) -> None:
    env, _ = no_aws
    result = run_script("run_transcription/build_ami.sh", "--dry-run", env=env)
    assert result.returncode == 2
    assert "--subnet-id" in result.stderr


def test_builder_user_data_is_valid_bash_carrying_the_provision_script(
    tmp_path: Path, shellcheck: str, no_aws: tuple[dict[str, str], Path]
) -> None:
    env, calls = no_aws
    result = run_script(
        "run_transcription/build_ami.sh",
        "--print-user-data",
        "--subnet-id",
        "subnet-0abc",
        "--stack-name",
        "demo",
        "--region",
        "eu-north-1",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert aws_api_calls(calls) == []
    user_data = result.stdout
    assert len(user_data.encode()) < 16 * 1024  # EC2's UserData limit
    assert "export SWESCRIBE_BUILD_LOG_GROUP=/swescribe/demo/worker\n" in user_data
    assert "export SWESCRIBE_BUILD_BUCKET=demo-artifacts-" in user_data
    script = tmp_path / "user-data.sh"
    script.write_text(user_data)
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    checked = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout
    payload = user_data.split("<<'EOF'", 1)[1].split("\n", 1)[1].split("\nEOF\n", 1)[0]
    provision = gzip.decompress(base64.b64decode(payload)).decode()
    assert provision == (REPO_ROOT / "run_transcription/provision_worker_ami.sh").read_text()


FAKE_TOKEN = "hf_" + "FakeTokenForTheTests0123456789abcdef"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--diarization", "pyannote"], "--hf-token-parameter"),
        (
            [
                "--diarization",
                "pyannote",
                "--hf-token-parameter",
                "/t",
                "--diarization-s3-uri",
                "s3://b/p/",
            ],
            "not both",
        ),
        (["--hf-token-parameter", "/swescribe/hf-token"], "need --diarization pyannote"),
        (["--diarization-s3-uri", "s3://b/p/"], "need --diarization pyannote"),
        (["--diarization", "whisperx"], "none or pyannote"),
        (["--diarization", "pyannote", "--hf-token-parameter", "a b"], "SSM parameter name"),
        (["--diarization", "pyannote", "--diarization-s3-uri", "b/p"], "s3://BUCKET/PREFIX/"),
    ],
)
def test_build_ami_diarization_flags_are_checked(
    args: list[str], complaint: str, no_aws: tuple[dict[str, str], Path]
) -> None:
    env, calls = no_aws
    result = run_script(
        "run_transcription/build_ami.sh", "--dry-run", "--subnet-id", "subnet-0abc", *args, env=env
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert complaint in result.stderr
    assert aws_api_calls(calls) == []


def test_build_ami_refuses_a_token_given_as_the_parameter_name_without_echoing_it(
    no_aws: tuple[dict[str, str], Path],
) -> None:
    env, calls = no_aws
    args = ("--diarization", "pyannote", "--hf-token-parameter", FAKE_TOKEN)
    for mode in ("--dry-run", "--print-user-data"):
        result = run_script(
            "run_transcription/build_ami.sh", mode, "--subnet-id", "subnet-0abc", *args, env=env
        )
        assert result.returncode == 2
        assert "not the token" in result.stderr
        assert FAKE_TOKEN not in result.stdout + result.stderr
    assert aws_api_calls(calls) == []


def test_a_pyannote_build_carries_the_parameters_name_and_never_the_token(
    tmp_path: Path, shellcheck: str, no_aws: tuple[dict[str, str], Path]
) -> None:
    """The token may sit in the operator's environment (HF_TOKEN, SWESCRIBE_HF_TOKEN): it
    reaches neither the builder's UserData nor any command the build would run."""
    env, calls = no_aws
    env.update(
        HF_TOKEN=FAKE_TOKEN, SWESCRIBE_HF_TOKEN=FAKE_TOKEN, HUGGING_FACE_HUB_TOKEN=FAKE_TOKEN
    )
    args = ("--subnet-id", "subnet-0abc", "--stack-name", "demo", "--region", "eu-north-1")
    diarize = ("--diarization", "pyannote", "--hf-token-parameter", "/swescribe/hf-token")
    printed = run_script(
        "run_transcription/build_ami.sh", "--print-user-data", *args, *diarize, env=env
    )
    planned = run_script("run_transcription/build_ami.sh", "--dry-run", *args, *diarize, env=env)
    for result in (printed, planned):
        assert result.returncode == 0, result.stderr
        assert FAKE_TOKEN not in result.stdout + result.stderr
        assert secret_looking(result.stdout + result.stderr) == []
    assert aws_api_calls(calls) == []
    user_data = printed.stdout
    assert len(user_data.encode()) < 16 * 1024
    for line in (
        "export SWESCRIBE_BUILD_DIARIZATION=pyannote\n",
        "export SWESCRIBE_BUILD_HF_TOKEN_PARAMETER=/swescribe/hf-token\n",
        "export SWESCRIBE_BUILD_DIARIZATION_S3_URI=''\n",
    ):
        assert line in user_data
    script = tmp_path / "user-data.sh"
    script.write_text(user_data)
    checked = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout
    plain = run_script("run_transcription/build_ami.sh", "--print-user-data", *args, env=env)
    assert "export SWESCRIBE_BUILD_DIARIZATION=none\n" in plain.stdout


def test_no_script_handles_the_token_by_name() -> None:
    """The builder reads the token from SSM inside one Python process: no script puts it
    in a variable, an environment, a command line or a file."""
    for path in ("run_transcription/build_ami.sh", "run_transcription/provision_worker_ami.sh"):
        text = (REPO_ROOT / path).read_text()
        assert (
            re.search(r"\b(?:HF_TOKEN|HUGGING_FACE_HUB_TOKEN|SWESCRIBE_HF_TOKEN)\b", text) is None
        )
        assert "--token" not in text
        assert "huggingface-cli login" not in text
        assert "hf auth login" not in text


def _pipeline_download(provision: str) -> str:
    """The Python the builder runs to fetch the pyannote pipeline with the token."""
    step = provision.split('step "diarization pipeline"', 1)[1]
    return step.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]


FAKE_BOTO3 = f"""
class _Ssm:
    def get_parameter(self, Name, WithDecryption):
        assert WithDecryption is True
        with open(__import__("os").environ["FAKE_SSM_LOG"], "w") as log:
            log.write(Name)
        return {{"Parameter": {{"Value": "{FAKE_TOKEN}\\n"}}}}


def client(service):
    assert service == "ssm"
    return _Ssm()
"""
FAKE_HUB = """
import os
from pathlib import Path


def snapshot_download(repo_id, local_dir, token):
    assert token.startswith("hf_") and token == token.strip()
    target = Path(local_dir)
    (target / "segmentation").mkdir(parents=True)
    (target / "config.yaml").write_text("pipeline: {}\\n")
    (target / "segmentation" / "pytorch_model.bin").write_bytes(b"weights")
    (target / ".cache").mkdir()
    if os.environ.get("FAKE_HUB_LEAKS"):
        (target / "segmentation" / "leak.txt").write_text(token)
    return str(target)
"""


@pytest.mark.parametrize("leaks", [False, True])
def test_the_builder_downloads_the_pipeline_with_the_ssm_token_and_keeps_it_out_of_the_image(
    tmp_path: Path, leaks: bool
) -> None:
    provision = (REPO_ROOT / "run_transcription/provision_worker_ami.sh").read_text()
    fakes = tmp_path / "fakes"
    (fakes / "huggingface_hub").mkdir(parents=True)
    (fakes / "boto3.py").write_text(FAKE_BOTO3)
    (fakes / "huggingface_hub" / "__init__.py").write_text(FAKE_HUB)
    target = tmp_path / "models" / "pyannote" / "speaker-diarization-community-1"
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(fakes),
        "FAKE_SSM_LOG": str(tmp_path / "ssm"),
        **({"FAKE_HUB_LEAKS": "1"} if leaks else {}),
    }
    result = subprocess.run(
        [sys.executable, "-", "/swescribe/hf-token", "pyannote/x", str(target)],
        input=_pipeline_download(provision),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert FAKE_TOKEN not in result.stdout + result.stderr
    assert (tmp_path / "ssm").read_text() == "/swescribe/hf-token"
    if leaks:
        assert result.returncode != 0
        assert "holds the token" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    assert (target / "config.yaml").is_file()
    assert not (target / ".cache").exists()
    assert "pyannote/x: 2 files" in result.stdout


def test_provision_script_bakes_what_the_worker_needs() -> None:
    text = (REPO_ROOT / "run_transcription/provision_worker_ami.sh").read_text()
    for needed in (
        "python3.11 -m venv",
        "--require-hashes",
        "worker-requirements.txt",
        '--no-deps "${WHEELS[0]}"',
        "snapshot_download",
        '"$PREFIX/bin/start-worker"',
        '"$PREFIX/run_transcription/fast_transcribe.py"',
        "/var/log/swescribe-worker.log",
        "amazon-cloudwatch-agent",
        "--smoke-test",
        "shutdown -h now",
        "resemblyzer==0.1.4 --hash=sha256:",
        'LOCK="diarize-requirements.txt"',
        '-r "$BUNDLE_DIR/$LOCK"',
        "get_parameter(Name=parameter, WithDecryption=True)",
        'PIPELINE_DIR="$PREFIX/models/$PIPELINE"',
        'SWESCRIBE_SMOKE_DIARIZATION="$SMOKE_DIARIZATION"',
    ):
        assert needed in text, needed


# --- real runs against a scripted aws -------------------------------------------------------

SCRIPTED_AWS = r"""#!/usr/bin/env bash
# Answers the reads the scripts make with what AWS would say; records every call.
printf '%s\n' "$*" >>"$FAKE_AWS_CALLS"
args=" $* "
output() { case "$args" in *"OutputKey=='$1'"*) echo "$2"; exit 0 ;; esac; }
if [ -n "${FAKE_NO_STACK:-}" ]; then
  case "$args" in *" describe-stacks "*) echo "Stack demo does not exist" >&2; exit 254 ;; esac
fi
case "$args" in
  *" --version "*) echo "aws-cli/2.17.0 Python/3.11.9 Linux/6.1" ;;
  *" sts get-caller-identity "*) echo 123456789012 ;;
  *" apigateway get-account "*) echo arn:aws:iam::123456789012:role/account-logging ;;
  *" describe-stacks "*"StackStatus"*) echo CREATE_COMPLETE ;;
  *" describe-stacks "*"OutputKey"*)
    output ApiKeyId k-initial
    output UsagePlanId plan-1
    output BucketName demo-data
    output TableName demo-jobs
    output LaunchTemplateName demo-worker
    output ApiFunctionName demo-api
    output ProcessUploadFunctionName demo-process-upload
    output JanitorFunctionName demo-janitor
    echo None ;;
  *" s3api head-object "*) echo "An error occurred (404): Not Found" >&2; exit 254 ;;
  *" get-usage-plan-keys "*) echo None ;;
  *" create-api-key "*) printf 'k-new\tNewKeyValue0123456789\n' ;;
  *" describe-launch-templates "*) echo lt-0123 ;;
  *" describe-instances "*) printf 'i-0aaa\ti-0bbb\n' ;;
  *" list-object-versions "*) echo '{"Objects": [], "Quiet": true}' ;;
esac
exit 0
"""


@pytest.fixture
def scripted_aws(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aws"
    fake.write_text(SCRIPTED_AWS)
    fake.chmod(0o755)
    calls = tmp_path / "aws-calls"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "SWESCRIBE_")) and name != "CI"
    }
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", FAKE_AWS_CALLS=str(calls))
    return env, calls


def first_call(calls: list[str], text: str) -> int:
    return next(index for index, call in enumerate(calls) if text in call)


def test_api_key_create_prints_only_the_new_key_and_puts_it_on_the_plan(
    scripted_aws: tuple[dict[str, str], Path],
) -> None:
    env, calls_file = scripted_aws
    result = run_script(
        "setup/setup_api_gateway.sh",
        "--profile",
        "ops",
        "--region",
        "eu-north-1",
        "create",
        "--name",
        "acme",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "NewKeyValue0123456789\n"
    assert "NewKeyValue0123456789" not in result.stderr
    calls = aws_api_calls(calls_file)
    assert all(call.startswith("--region eu-north-1 --profile ops ") for call in calls)
    assert (
        "create-usage-plan-key --usage-plan-id plan-1 --key-id k-new --key-type API_KEY"
        in (calls[-1])
    )


def test_teardown_ends_the_workers_before_the_stack_and_the_data_after(
    scripted_aws: tuple[dict[str, str], Path],
) -> None:
    env, calls_file = scripted_aws
    result = run_script(
        "setup/teardown.sh", "--stack-name", "demo", "--delete-data", "--yes", env=env
    )
    assert result.returncode == 0, result.stderr
    calls = aws_api_calls(calls_file)
    stopped = [
        first_call(calls, f"put-function-concurrency --function-name demo-{name}")
        for name in ("api", "process-upload", "janitor")
    ]
    terminate = first_call(calls, "ec2 terminate-instances --instance-ids i-0aaa i-0bbb")
    delete_stack = first_call(calls, "cloudformation delete-stack --stack-name demo")
    waited = first_call(calls, "cloudformation wait stack-delete-complete")
    assert max(stopped) < terminate, "no Lambda can launch a worker once they are ended"
    assert "--reserved-concurrent-executions 0" in calls[stopped[0]]
    assert terminate < delete_stack < waited
    assert "Name=tag:aws:ec2launchtemplate:id,Values=lt-0123" in calls[terminate - 1]
    assert first_call(calls, "s3api delete-bucket --bucket demo-data") > waited
    assert first_call(calls, "dynamodb delete-table --table-name demo-jobs") > waited
    assert (
        first_call(calls, "delete-bucket --bucket demo-artifacts-123456789012-eu-north-1") > waited
    )


def test_teardown_deletes_the_kept_data_of_a_stack_that_is_already_gone(
    scripted_aws: tuple[dict[str, str], Path],
) -> None:
    env, calls_file = scripted_aws
    env["FAKE_NO_STACK"] = "1"
    args = ("--stack-name", "demo", "--delete-data", "--yes")
    named = ("--bucket", "old-data", "--table", "old-jobs")
    result = run_script("setup/teardown.sh", *args, *named, env=env)
    assert result.returncode == 0, result.stderr
    calls = aws_api_calls(calls_file)
    assert first_call(calls, "s3api delete-bucket --bucket old-data") >= 0
    assert first_call(calls, "dynamodb delete-table --table-name old-jobs") >= 0
    assert not any("delete-stack" in call for call in calls)


@pytest.mark.package
def test_setup_infrastructure_uploads_content_addressed_artifacts_then_deploys(
    scripted_aws: tuple[dict[str, str], Path],
) -> None:
    """The real path (not --dry-run): builds the wheel and the Lambda package (PyPI)."""
    env, calls_file = scripted_aws
    result = run_script(
        "setup/setup_infrastructure.sh",
        "--stack-name",
        "demo",
        "--region",
        "eu-west-1",
        "--max-workers",
        "2",
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    calls = aws_api_calls(calls_file)
    bucket = "demo-artifacts-123456789012-eu-west-1"
    wheel_upload = first_call(calls, f"s3://{bucket}/wheels/")
    lambda_upload = first_call(calls, f"s3://{bucket}/lambda/")
    deploy = first_call(calls, "cloudformation deploy --stack-name demo")
    assert first_call(calls, "put-bucket-encryption") < wheel_upload < lambda_upload < deploy
    assert "--sse AES256" in calls[wheel_upload]
    wheel_key = re.search(r"wheels/[0-9a-f]{64}/swescribe-[^ ]+\.whl", calls[wheel_upload])
    lambda_key = re.search(r"lambda/[0-9a-f]{64}\.zip", calls[lambda_upload])
    assert wheel_key is not None
    assert lambda_key is not None
    overrides = calls[deploy].split("--parameter-overrides ", 1)[1].split(" --tags ", 1)[0]
    assert set(overrides.split()) == {
        "MaxWorkers=2",
        "ApiLogging=true",
        f"ArtifactsBucket={bucket}",
        f"LambdaCodeKey={lambda_key.group(0)}",
        f"WorkerWheelKey={wheel_key.group(0)}",
    }
    assert "k-initial" in result.stderr  # how to read the initial key's value


# --- start-worker ---------------------------------------------------------------------------

FAKE_PYTHON = """#!/usr/bin/env bash
# Stands in for /opt/swescribe/venv/bin/python: records what start-worker asks of it.
if [[ "$1" == "-" ]]; then          # the S3 download
  cp "$FAKE_WHEEL_SOURCE" "$3"
  echo "DOWNLOAD $2" >>"$FAKE_PYTHON_LOG"
elif [[ "$1 $2" == "-m pip" ]]; then
  echo "PIP ${*:3}" >>"$FAKE_PYTHON_LOG"
elif [[ "$1" == "-c" ]]; then
  echo "swescribe 9.9.9"
else
  echo "RUN $*" >>"$FAKE_PYTHON_LOG"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >>"$FAKE_PYTHON_LOG"
  echo "PYANNOTE_METRICS_ENABLED=$PYANNOTE_METRICS_ENABLED" >>"$FAKE_PYTHON_LOG"
fi
"""


@pytest.fixture
def worker_prefix(
    tmp_path: Path, no_aws: tuple[dict[str, str], Path]
) -> tuple[Path, dict[str, str]]:
    """A fake /opt/swescribe: a venv whose python records calls, nvidia lib dirs."""
    prefix = tmp_path / "opt-swescribe"
    python = prefix / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    site = prefix / "venv" / "lib" / "python3.11" / "site-packages" / "nvidia"
    for package in ("cublas", "cudnn"):
        (site / package / "lib").mkdir(parents=True)
    (prefix / "run_transcription").mkdir()
    (prefix / "run_transcription" / "fast_transcribe.py").write_text("")
    wheel = tmp_path / "swescribe-9.9.9-py3-none-any.whl"
    wheel.write_bytes(b"not really a wheel")
    env, _ = no_aws
    env.update(
        SWESCRIBE_PREFIX=str(prefix),
        SWESCRIBE_DATA_DIR=str(tmp_path / "data"),
        AWS_REGION="eu-north-1",
        FAKE_WHEEL_SOURCE=str(wheel),
        FAKE_PYTHON_LOG=str(tmp_path / "python.log"),
    )
    return prefix, env


def python_log(env: dict[str, str]) -> list[str]:
    path = Path(env["FAKE_PYTHON_LOG"])
    return path.read_text().splitlines() if path.exists() else []


def test_start_worker_runs_the_worker_with_the_cuda_libraries(
    worker_prefix: tuple[Path, dict[str, str]],
) -> None:
    prefix, env = worker_prefix
    result = run_script("run_transcription/start-worker.sh", env=env)
    assert result.returncode == 0, result.stderr
    log = python_log(env)
    assert log[0] == f"RUN {prefix}/run_transcription/fast_transcribe.py"
    site = prefix / "venv/lib/python3.11/site-packages/nvidia"
    assert log[1] == f"LD_LIBRARY_PATH={site}/cublas/lib:{site}/cudnn/lib"
    assert log[2] == "PYANNOTE_METRICS_ENABLED=0"  # pyannote.audio sends no usage metrics


def test_start_worker_installs_the_wheel_named_by_the_stack_first(
    worker_prefix: tuple[Path, dict[str, str]],
) -> None:
    prefix, env = worker_prefix
    digest = hashlib.sha256(Path(env["FAKE_WHEEL_SOURCE"]).read_bytes()).hexdigest()
    uri = f"s3://demo-artifacts-1-eu-north-1/wheels/{digest}/swescribe-9.9.9-py3-none-any.whl"
    env["SWESCRIBE_WORKER_WHEEL"] = uri
    result = run_script("run_transcription/start-worker.sh", env=env)
    assert result.returncode == 0, result.stderr
    download, pip, run = python_log(env)[:3]
    assert download.startswith(f"DOWNLOAD {uri}")
    assert pip.startswith("PIP install ")
    for flag in ("--no-deps", "--force-reinstall", "--no-index"):
        assert flag in pip.split()
    assert pip.endswith("/swescribe-9.9.9-py3-none-any.whl")
    assert run == f"RUN {prefix}/run_transcription/fast_transcribe.py"


def test_start_worker_refuses_a_wheel_whose_hash_does_not_match_its_key(
    worker_prefix: tuple[Path, dict[str, str]],
) -> None:
    _, env = worker_prefix
    env["SWESCRIBE_WORKER_WHEEL"] = (
        f"s3://bucket-1/wheels/{'0' * 64}/swescribe-9.9.9-py3-none-any.whl"
    )
    result = run_script("run_transcription/start-worker.sh", env=env)
    assert result.returncode == 1
    assert "SHA-256" in result.stderr
    assert not any(line.startswith(("PIP", "RUN")) for line in python_log(env))


def test_start_worker_refuses_a_wheel_that_is_not_on_s3(
    worker_prefix: tuple[Path, dict[str, str]],
) -> None:
    _, env = worker_prefix
    env["SWESCRIBE_WORKER_WHEEL"] = "https://example.com/swescribe.whl"
    result = run_script("run_transcription/start-worker.sh", env=env)
    assert result.returncode == 1
    assert "s3://BUCKET/KEY.whl" in result.stderr
    assert python_log(env) == []


@pytest.mark.model
def test_start_worker_smoke_test_loads_a_model_and_transcribes_silence(
    tmp_path: Path, worker_prefix: tuple[Path, dict[str, str]]
) -> None:
    """The smoke test the AMI build runs, here with the offline model on the CPU."""
    prefix, env = worker_prefix
    # The AMI's venv python, played by the one running the tests (it has swescribe).
    (prefix / "venv" / "bin" / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    env.update(
        SWESCRIBE_MODEL="whisper-base",
        SWESCRIBE_SMOKE_DEVICE="cpu",
        SWESCRIBE_SMOKE_COMPUTE_TYPE="int8",
    )
    result = run_script("run_transcription/start-worker.sh", "--smoke-test", env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert '"smoke_test": "ok"' in last
    assert '"model": "whisper-base"' in last
    assert '"device": "cpu"' in last
    assert '"diarization": null' in last


@pytest.mark.model
def test_start_worker_smoke_test_diarizes_when_asked(
    tmp_path: Path, worker_prefix: tuple[Path, dict[str, str]]
) -> None:
    """A pyannote AMI's build runs the smoke test with SWESCRIBE_SMOKE_DIARIZATION=pyannote;
    here the same path with the offline speaker model (pyannote.audio is not installed)."""
    pytest.importorskip("swescribe.engine.diarization.ge2e").resemblyzer_weights(
        speaker_model_dirs()
    )
    prefix, env = worker_prefix
    (prefix / "venv" / "bin" / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    env.update(
        SWESCRIBE_MODEL="whisper-base",
        SWESCRIBE_SMOKE_DEVICE="cpu",
        SWESCRIBE_SMOKE_COMPUTE_TYPE="int8",
        SWESCRIBE_SMOKE_DIARIZATION="resemblyzer",
        SWESCRIBE_SPEAKER_MODEL_DIR=str(speaker_model_dirs()[0]),
    )
    result = run_script("run_transcription/start-worker.sh", "--smoke-test", env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert '"smoke_test": "ok"' in last
    assert '"diarization": {"model": "resemblyzer-ge2e"' in last
