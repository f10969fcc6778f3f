#!/usr/bin/env bash
# Runs once, as root, on the AMI builder instance that run_transcription/build_ami.sh
# launches (its UserData carries this script and exports the SWESCRIBE_BUILD_* values).
# It turns a Deep Learning Base GPU AMI into the swescribe worker image, proves that the
# model runs on the GPU, reports to S3 and powers the instance off for imaging. With
# SWESCRIBE_BUILD_DIARIZATION=pyannote it also installs pyannote.audio (diarize-
# requirements.txt) and bakes its pipeline, from the Hugging Face hub with the token in
# the SSM parameter SWESCRIBE_BUILD_HF_TOKEN_PARAMETER, or from an S3 copy.
set -euo pipefail

: "${SWESCRIBE_BUILD_BUCKET:?}" "${SWESCRIBE_BUILD_PREFIX:?}" "${SWESCRIBE_BUILD_REGION:?}"
: "${SWESCRIBE_BUILD_MODEL:?}" "${SWESCRIBE_BUILD_LOG_GROUP:?}" "${SWESCRIBE_BUILD_ID:?}"
MODEL_S3_URI="${SWESCRIBE_BUILD_MODEL_S3_URI:-}"
DIARIZATION="${SWESCRIBE_BUILD_DIARIZATION:-none}"
HF_TOKEN_PARAMETER="${SWESCRIBE_BUILD_HF_TOKEN_PARAMETER:-}"
DIARIZATION_S3_URI="${SWESCRIBE_BUILD_DIARIZATION_S3_URI:-}"
S3_BASE="s3://$SWESCRIBE_BUILD_BUCKET/$SWESCRIBE_BUILD_PREFIX"
PREFIX="/opt/swescribe"
VENV="$PREFIX/venv"
MODEL_DIR="$PREFIX/models/$SWESCRIBE_BUILD_MODEL"
BUNDLE_DIR="/tmp/swescribe-bundle"
BUILD_LOG="/var/log/swescribe-ami-build.log"
CW_CONFIG="/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
export DEBIAN_FRONTEND=noninteractive
export AWS_DEFAULT_REGION="$SWESCRIBE_BUILD_REGION"
export HOME="${HOME:-/root}"

exec > >(tee -a "$BUILD_LOG") 2>&1
STEP="start"
STATUS="failed"
SMOKE_TEST="null"

step() {
  STEP="$1"
  printf '\n== %s %s\n' "$(date -u +%H:%M:%S)" "$1"
}

# On exit, success or not: the log and a result.json go to S3 (build_ami.sh waits for
# them), then the instance powers off (it was launched to stop, not terminate).
finish() {
  local code=$?
  if ((code != 0)); then
    STATUS="failed"
    echo "swescribe AMI build failed in step '$STEP' (exit status $code)"
  fi
  sleep 2 # let tee write the last lines
  printf '{"status": "%s", "build_id": "%s", "step": "%s", "exit_code": %d, "model": "%s", "diarization": "%s", "smoke_test": %s}\n' \
    "$STATUS" "$SWESCRIBE_BUILD_ID" "$STEP" "$code" "$SWESCRIBE_BUILD_MODEL" "$DIARIZATION" \
    "$SMOKE_TEST" >/tmp/result.json
  aws s3 cp "$BUILD_LOG" "$S3_BASE/build.log" --only-show-errors || true
  if [[ "$STATUS" == "ok" ]]; then
    # Nothing of the build stays in the image: its logs, cloud-init's state, this script.
    rm -f "$BUILD_LOG"
    cloud-init clean --logs || true
    rm -rf /opt/swescribe-build
  fi
  aws s3 cp /tmp/result.json "$S3_BASE/result.json" --only-show-errors || true
  rm -f /tmp/result.json
  sync
  shutdown -h now
}
trap finish EXIT

apt_get() { apt-get -o DPkg::Lock::Timeout=900 -y -q "$@"; }

case "$DIARIZATION" in
  none) LOCK="worker-requirements.txt" ;;
  # The worker's closure plus pyannote.audio and torch 2.10 (CUDA 12.8), compiled in one
  # pass: one consistent set, whose CUDA 12 cuBLAS and cuDNN 9 CTranslate2 shares.
  pyannote) LOCK="diarize-requirements.txt" ;;
  *) echo "unknown diarization '$DIARIZATION' (none or pyannote)"; exit 1 ;;
esac

step "system packages"
apt_get update
apt_get install python3.11 python3.11-venv curl unzip ca-certificates

step "aws cli"
if ! command -v aws >/dev/null 2>&1; then
  curl -fsSL https://awscli.amazonaws.com/awscli-exe-linux-x86_64.zip -o /tmp/awscliv2.zip
  unzip -q /tmp/awscliv2.zip -d /tmp/awscliv2
  /tmp/awscliv2/aws/install
  rm -rf /tmp/awscliv2 /tmp/awscliv2.zip
fi
aws --version

step "bundle"
mkdir -p "$BUNDLE_DIR"
aws s3 cp "$S3_BASE/bundle.tar.gz" /tmp/swescribe-bundle.tar.gz --only-show-errors
tar -xzf /tmp/swescribe-bundle.tar.gz -C "$BUNDLE_DIR"
WHEELS=("$BUNDLE_DIR"/swescribe-*.whl)
[[ -f "${WHEELS[0]}" ]] || { echo "no swescribe wheel in the bundle"; exit 1; }

step "python venv"
python3.11 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# The locked closure (worker-requirements.txt, or diarize-requirements.txt with pyannote:
# exact versions and hashes, compiled from pyproject.toml and the .in files), then
# swescribe itself without dependencies.
# CTranslate2 4.x (<5) needs CUDA 12 cuBLAS and cuDNN 9: the locked nvidia-cublas-cu12 and
# nvidia-cudnn-cu12 wheels carry them, and start-worker puts their lib directories on
# LD_LIBRARY_PATH.
"$VENV/bin/python" -m pip install --quiet --no-cache-dir --require-hashes \
  -r "$BUNDLE_DIR/$LOCK"
"$VENV/bin/python" -m pip install --quiet --no-deps "${WHEELS[0]}"
# The offline speaker model for diarization (issue 18): Resemblyzer's pretrained.pt, which
# swescribe runs in numpy. --no-deps: not its torch, librosa or webrtcvad. Pinned by hash.
printf 'resemblyzer==0.1.4 --hash=sha256:%s\n' \
  8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f >/tmp/speaker-model.txt
"$VENV/bin/python" -m pip install --quiet --no-deps --require-hashes -r /tmp/speaker-model.txt
rm -f /tmp/speaker-model.txt
"$VENV/bin/python" -m pip list --format=freeze | grep -iE '^(swescribe|faster-whisper|ctranslate2|nvidia-|torch|pyannote)' || true

step "worker files"
install -d -m 0755 "$PREFIX/bin" "$PREFIX/run_transcription" "$PREFIX/models" /var/lib/swescribe
install -m 0755 "$BUNDLE_DIR/start-worker.sh" "$PREFIX/bin/start-worker"
install -m 0644 "$BUNDLE_DIR/fast_transcribe.py" "$PREFIX/run_transcription/fast_transcribe.py"

step "model $SWESCRIBE_BUILD_MODEL"
rm -rf "$MODEL_DIR"
if [[ -n "$MODEL_S3_URI" ]]; then
  aws s3 cp "${MODEL_S3_URI%/}/" "$MODEL_DIR/" --recursive --only-show-errors
else
  "$VENV/bin/python" - "$SWESCRIBE_BUILD_MODEL" "$MODEL_DIR" <<'PY'
import shutil
import sys
from pathlib import Path

from huggingface_hub import snapshot_download

from swescribe.engine.models import KB_WHISPER_REPOS

name, target = sys.argv[1], Path(sys.argv[2])
if name not in KB_WHISPER_REPOS:
    sys.exit(f"{name} is not a KB-Whisper model; bake it from S3 with --model-s3-uri")
# The CTranslate2 files only (the repositories also hold PyTorch and other weights).
snapshot_download(
    repo_id=KB_WHISPER_REPOS[name],
    local_dir=target,
    allow_patterns=[
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.*",
        "preprocessor_config.json",
    ],
)
shutil.rmtree(target / ".cache", ignore_errors=True)
PY
fi
[[ -f "$MODEL_DIR/model.bin" && -f "$MODEL_DIR/config.json" ]] || {
  echo "$MODEL_DIR is not a CTranslate2 model (model.bin and config.json are needed)"
  exit 1
}
chmod -R a+rX "$PREFIX"
du -sh "$MODEL_DIR"

if [[ "$DIARIZATION" == "pyannote" ]]; then
  step "diarization pipeline"
  # Where the worker looks first (engine/diarization/pyannote.py, baked_pipeline):
  # <model dir>/pyannote/speaker-diarization-community-1, loaded with no token or hub.
  PIPELINE="$("$VENV/bin/python" -c 'from swescribe.engine.diarization import PYANNOTE_PIPELINE; print(PYANNOTE_PIPELINE)')"
  PIPELINE_DIR="$PREFIX/models/$PIPELINE"
  rm -rf "$PIPELINE_DIR"
  if [[ -n "$DIARIZATION_S3_URI" ]]; then
    aws s3 cp "${DIARIZATION_S3_URI%/}/" "$PIPELINE_DIR/" --recursive --only-show-errors
  else
    [[ -n "$HF_TOKEN_PARAMETER" ]] || { echo "no SSM parameter names the Hugging Face token"; exit 1; }
    # The token is read by this Python process and stays in it: never in the UserData,
    # an environment variable, a command line, the log or the image.
    "$VENV/bin/python" - "$HF_TOKEN_PARAMETER" "$PIPELINE" "$PIPELINE_DIR" <<'PY'
import shutil
import sys
from pathlib import Path

import boto3
from huggingface_hub import snapshot_download

parameter, repo_id, target = sys.argv[1], sys.argv[2], Path(sys.argv[3])
answer = boto3.client("ssm").get_parameter(Name=parameter, WithDecryption=True)
token = answer["Parameter"]["Value"].strip()
if not token:
    sys.exit(f"the SSM parameter {parameter} is empty")
# The gated repository holds the whole pipeline: config.yaml and the segmentation,
# embedding and PLDA models it names as $model/<subfolder>.
snapshot_download(repo_id=repo_id, local_dir=target, token=token)
shutil.rmtree(target / ".cache", ignore_errors=True)
secret = token.encode()
if any(secret in path.read_bytes() for path in target.rglob("*") if path.is_file()):
    sys.exit(f"a file under {target} holds the token")
print(f"{repo_id}: {sum(1 for path in target.rglob('*') if path.is_file())} files")
PY
  fi
  [[ -f "$PIPELINE_DIR/config.yaml" ]] || {
    echo "$PIPELINE_DIR is not a pyannote pipeline (config.yaml is needed)"
    exit 1
  }
  chmod -R a+rX "$PREFIX"
  du -sh "$PIPELINE_DIR"
fi

step "cloudwatch agent"
CW_DEB="/tmp/amazon-cloudwatch-agent.deb"
curl -fsSL "https://amazoncloudwatch-agent-$SWESCRIBE_BUILD_REGION.s3.$SWESCRIBE_BUILD_REGION.amazonaws.com/ubuntu/amd64/latest/amazon-cloudwatch-agent.deb" -o "$CW_DEB" ||
  curl -fsSL "https://amazoncloudwatch-agent.s3.amazonaws.com/ubuntu/amd64/latest/amazon-cloudwatch-agent.deb" -o "$CW_DEB"
dpkg -i -E "$CW_DEB"
rm -f "$CW_DEB"
cat >"$CW_CONFIG" <<EOF
{
  "agent": {"run_as_user": "root"},
  "logs": {
    "logs_collected": {
      "files": {
        "collect_list": [
          {
            "file_path": "/var/log/swescribe-worker.log",
            "log_group_name": "$SWESCRIBE_BUILD_LOG_GROUP",
            "log_stream_name": "{instance_id}",
            "timezone": "UTC"
          },
          {
            "file_path": "/var/log/cloud-init-output.log",
            "log_group_name": "$SWESCRIBE_BUILD_LOG_GROUP",
            "log_stream_name": "{instance_id}/cloud-init",
            "timezone": "UTC"
          }
        ]
      }
    }
  }
}
EOF
# Configured and enabled for the workers' boots, not started here: the builder has no
# permission to write to the log group.
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -c "file:$CW_CONFIG"
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a stop || true
systemctl enable amazon-cloudwatch-agent

step "smoke test on the GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
SMOKE_DIARIZATION=""
if [[ "$DIARIZATION" == "pyannote" ]]; then
  SMOKE_DIARIZATION="pyannote" # loaded from the baked files, offline, with no token
fi
SMOKE_OUTPUT="$(SWESCRIBE_MODEL="$SWESCRIBE_BUILD_MODEL" SWESCRIBE_SMOKE_DIARIZATION="$SMOKE_DIARIZATION" \
  "$PREFIX/bin/start-worker" --smoke-test)"
echo "$SMOKE_OUTPUT"
SMOKE_TEST="$(printf '%s\n' "$SMOKE_OUTPUT" | tail -n1)"
[[ "$SMOKE_TEST" == *'"smoke_test": "ok"'* ]] || { echo "the smoke test printed no result"; exit 1; }
if [[ -n "$SMOKE_DIARIZATION" && "$SMOKE_TEST" != *'"diarization": {"model": "pyannote:'* ]]; then
  echo "the smoke test did not diarize with pyannote"
  exit 1
fi

step "cleanup"
rm -rf "$BUNDLE_DIR" /tmp/swescribe-bundle.tar.gz "$HOME/.cache/pip" "$HOME/.cache/huggingface" \
  "$HOME/.cache/torch"
rm -rf /var/lib/swescribe/* /var/log/swescribe-worker.log
apt-get clean
STATUS="ok"
step "done"
