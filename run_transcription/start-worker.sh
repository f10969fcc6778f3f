#!/usr/bin/env bash
# /opt/swescribe/bin/start-worker on the GPU worker AMI (run_transcription/build_ami.sh
# installs it). The instance's UserData exports the worker's SWESCRIBE_* environment and
# runs this; see swescribe.adapters.aws.userdata.
set -euo pipefail

PREFIX="${SWESCRIBE_PREFIX:-/opt/swescribe}"
VENV="$PREFIX/venv"
PYTHON_BIN="$VENV/bin/python"
WORKER="$PREFIX/run_transcription/fast_transcribe.py"

usage() {
  cat <<'EOF'
Usage: start-worker [--smoke-test]

Starts the swescribe GPU worker (run_transcription/fast_transcribe.py) in the AMI's
virtual environment:

  1. when SWESCRIBE_WORKER_WHEEL is set (s3://BUCKET/KEY.whl), downloads that wheel with
     the instance role and installs it over the AMI's swescribe (pip --no-deps
     --force-reinstall): a code change needs no new AMI. A key of the form
     wheels/<sha256>/<file>.whl is checked against its hash;
  2. puts the CUDA 12 / cuDNN 9 libraries of the venv's nvidia-* packages on
     LD_LIBRARY_PATH (CTranslate2 loads them from there);
  3. execs the worker, which reads the rest of its configuration from SWESCRIBE_*.

--smoke-test  loads the model (SWESCRIBE_MODEL, default kb-whisper-small) from the baked
              directory on the GPU (float16) and transcribes a generated second of
              silence; with SWESCRIBE_SMOKE_DIARIZATION=pyannote (the AMI build sets it
              when it baked the pipeline) it also loads that diarizer from the baked
              files, offline and without a token, and diarizes ten generated seconds;
              prints one JSON line. The AMI build runs it; so can an operator.

Environment: SWESCRIBE_PREFIX (default /opt/swescribe), SWESCRIBE_WORKER_WHEEL,
SWESCRIBE_DATA_DIR (default /var/lib/swescribe), AWS_REGION, PYANNOTE_METRICS_ENABLED
(default 0: pyannote.audio sends no usage metrics).
EOF
}

log() { printf '%s start-worker: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

MODE="worker"
case "${1:-}" in
  "") ;;
  --smoke-test) MODE="smoke-test" ;;
  -h | --help) usage; exit 0 ;;
  *) log "unknown option: $1 (--help shows the options)"; exit 2 ;;
esac

# The region for the wheel download when the UserData did not export one: IMDSv2.
ensure_region() {
  if [[ -n "${AWS_REGION:-}" || -n "${AWS_DEFAULT_REGION:-}" ]]; then
    return 0
  fi
  local imds="${SWESCRIBE_IMDS_URL:-http://169.254.169.254}" token region
  token="$(curl -fsS -m 2 -X PUT "$imds/latest/api/token" \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' 2>/dev/null || true)"
  if [[ -n "$token" ]]; then
    region="$(curl -fsS -m 2 -H "X-aws-ec2-metadata-token: $token" \
      "$imds/latest/meta-data/placement/region" 2>/dev/null || true)"
    if [[ -n "$region" ]]; then
      export AWS_REGION="$region"
    fi
  fi
}

install_worker_wheel() {
  local uri="$1" scratch wheel expected actual
  if [[ ! "$uri" =~ ^s3://[a-z0-9][a-z0-9.-]+/.+\.whl$ ]]; then
    die "SWESCRIBE_WORKER_WHEEL must be s3://BUCKET/KEY.whl, not '$uri'"
  fi
  ensure_region
  scratch="$(mktemp -d)"
  wheel="$scratch/${uri##*/}"
  log "installing the worker wheel $uri"
  "$PYTHON_BIN" - "$uri" "$wheel" <<'PY' || die "could not download $uri"
import sys

import boto3

bucket, _, key = sys.argv[1].removeprefix("s3://").partition("/")
boto3.client("s3").download_file(bucket, key, sys.argv[2])
PY
  if [[ "$uri" =~ /wheels/([0-9a-f]{64})/[^/]+$ ]]; then
    expected="${BASH_REMATCH[1]}"
    actual="$(sha256sum "$wheel" | cut -d' ' -f1)"
    [[ "$actual" == "$expected" ]] || die "the wheel's SHA-256 is $actual, its key says $expected"
  fi
  "$PYTHON_BIN" -m pip install --quiet --disable-pip-version-check --no-index --no-deps \
    --force-reinstall "$wheel" || die "pip could not install $wheel"
  rm -rf "$scratch"
  log "installed $("$PYTHON_BIN" -c 'import swescribe; print("swescribe", swescribe.__version__)')"
}

# The lib directories of the venv's nvidia-* wheels (nvidia/cublas/lib, nvidia/cudnn/lib).
nvidia_library_path() {
  local dir dirs=()
  for dir in "$VENV"/lib/python3*/site-packages/nvidia/*/lib; do
    if [[ -d "$dir" ]]; then
      dirs+=("$dir")
    fi
  done
  local IFS=:
  printf '%s' "${dirs[*]}"
}

[[ -x "$PYTHON_BIN" ]] || die "no python at $PYTHON_BIN (is this the swescribe worker AMI?)"

if [[ "$MODE" == "worker" && -n "${SWESCRIBE_WORKER_WHEEL:-}" ]]; then
  install_worker_wheel "$SWESCRIBE_WORKER_WHEEL"
fi

NVIDIA_LIBS="$(nvidia_library_path)"
if [[ -n "$NVIDIA_LIBS" ]]; then
  export LD_LIBRARY_PATH="$NVIDIA_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  log "warning: no nvidia-* libraries in $VENV; CTranslate2 will look for CUDA elsewhere"
fi
export HOME="${HOME:-/root}"
export SWESCRIBE_DATA_DIR="${SWESCRIBE_DATA_DIR:-/var/lib/swescribe}"
export PYTHONUNBUFFERED=1
export HF_HUB_DISABLE_TELEMETRY=1
export PYANNOTE_METRICS_ENABLED="${PYANNOTE_METRICS_ENABLED:-0}"
mkdir -p "$SWESCRIBE_DATA_DIR"

if [[ "$MODE" == "smoke-test" ]]; then
  # Offline, as a worker without a hub would be: everything comes from the AMI.
  HF_HUB_OFFLINE=1 exec "$PYTHON_BIN" -c '
import json
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from swescribe.config import Settings
from swescribe.engine import Engine, ModelLocator, TranscribeOptions
from swescribe.engine.diarization import DiarizerSpec, load_diarizer


def diarize(name, device, settings):
    """Loads the diarizer from the baked files (no token) and runs it on noise."""
    started = time.perf_counter()
    spec = DiarizerSpec(
        name, "", device, allow_download=False, model_dirs=settings.model_dirs,
        speaker_model_dirs=settings.speaker_model_dirs,
    )
    diarizer = load_diarizer(spec)
    loaded = time.perf_counter()
    session = diarizer.session()
    noise = np.random.default_rng(0).standard_normal(16000 * 10).astype(np.float32)
    session.add(0.0, 0.05 * noise)
    turns = session.finish()
    return {
        "model": diarizer.name,
        "load_seconds": round(loaded - started, 2),
        "diarize_seconds": round(time.perf_counter() - loaded, 2),
        "turns": len(turns),
    }


model, device, compute_type, diarization_model = sys.argv[1:5]
settings = Settings.from_env()
with tempfile.TemporaryDirectory() as scratch:
    clip = Path(scratch) / "silence.wav"
    with wave.open(str(clip), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(bytes(2 * 16000))
    locator = ModelLocator(Path(scratch) / "cache", settings.model_dirs, allow_download=False)
    engine = Engine.load(model, locator, device=device, compute_type=compute_type)
    # VAD off: on silence VAD would skip the model, and the GPU must really run.
    transcript = engine.transcribe(clip, TranscribeOptions(vad=False))
print(json.dumps({
    "smoke_test": "ok",
    "model": engine.model.name,
    "model_path": str(engine.model.path),
    "device": engine.plan.device,
    "compute_type": engine.plan.compute_type,
    "load_seconds": round(engine.load_seconds, 2),
    "transcribe_seconds": round(transcript.timings.total, 2),
    "text_chars": len(transcript.text),
    "diarization": (
        diarize(diarization_model, device, settings) if diarization_model else None
    ),
}))
' "${SWESCRIBE_MODEL:-kb-whisper-small}" "${SWESCRIBE_SMOKE_DEVICE:-cuda}" \
    "${SWESCRIBE_SMOKE_COMPUTE_TYPE:-float16}" "${SWESCRIBE_SMOKE_DIARIZATION:-}"
fi

[[ -f "$WORKER" ]] || die "no worker at $WORKER"
log "starting the worker (LD_LIBRARY_PATH has ${NVIDIA_LIBS:-no nvidia libraries})"
exec "$PYTHON_BIN" "$WORKER"
