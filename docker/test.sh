#!/usr/bin/env bash
# The container image, built and tried as a user would (CI runs it after pytest):
#   1. a docker engine: the one running, else a dockerd of our own (no bridge, no iptables);
#   2. a Debian bookworm base image built here with debootstrap from this machine's own apt
#      sources (no registry pull);
#   3. the CPU target built from it; every build and container uses the host's network, so
#      nothing leaves loopback but the package registries' traffic;
#   4. serve in the container on a free loopback port: /healthz, then a job through the API
#      (register, upload a shared clip, wait, fetch the transcript, check its words), the
#      image's HEALTHCHECK reporting healthy, and a transcription with no network at all;
#   5. the container, its volume, the images and our dockerd removed (also on failure).
# docker/test.sh --gpu builds the GPU target instead (its CUDA libraries are gigabytes: not
# in CI) and checks that they load; on a machine with an NVIDIA GPU it runs the job there.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SHARED="$REPO/../shared"
CLIP_NAME=cv_18746434
TARGET=cpu
case "${1:-}" in
  "") ;;
  --gpu) TARGET=gpu ;;
  *) echo "usage: docker/test.sh [--gpu]" >&2; exit 2 ;;
esac

# No buildx plugin here: the classic builder, chosen outright (not a fallback with a warning).
export DOCKER_BUILDKIT=0
RUN_ID="$$"
BASE_IMAGE="swescribe-test-base:bookworm-$RUN_ID"
IMAGE="swescribe-test:$TARGET-$RUN_ID"
CONTAINER="swescribe-test-$RUN_ID"
WORK="$(mktemp -d /var/tmp/swescribe-docker-test.XXXXXX)"
DOCKERD_PID=""
STARTED=$SECONDS
STEP_STARTED=$SECONDS
STEP=""

log() { printf 'docker/test.sh: %s\n' "$*" >&2; }
step() {
  [ -z "$STEP" ] || log "$STEP: $((SECONDS - STEP_STARTED)) s"
  STEP="$1"
  STEP_STARTED=$SECONDS
  log "== $STEP"
}
die() { log "FAILED: $*"; exit 1; }

cleanup() {
  local status=$?
  trap - EXIT
  if [ "$status" -ne 0 ] && docker inspect "$CONTAINER" >/dev/null 2>&1; then
    log "the container's last log lines:"
    docker logs --tail 40 "$CONTAINER" >&2 || true
  fi
  docker rm --force --volumes "$CONTAINER" >/dev/null 2>&1 || true
  docker rmi --force "$IMAGE" "$BASE_IMAGE" >/dev/null 2>&1 || true
  if [ -n "$DOCKERD_PID" ]; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
    if [ "$status" -ne 0 ]; then
      log "dockerd's last log lines:"
      tail -n 20 "$WORK/dockerd.log" >&2 || true
    fi
  fi
  # What our dockerd leaves mounted (its network namespace) goes before its files.
  if [ -n "$DOCKERD_PID" ]; then
    awk -v work="$WORK/" 'index($2, work) == 1 { print $2 }' /proc/mounts | sort -r \
      | while read -r mount; do umount "$mount" || true; done
  fi
  rm -rf "$WORK" || log "could not remove $WORK"
  log "done in $((SECONDS - STARTED)) s (exit $status)"
  exit "$status"
}
trap cleanup EXIT

# A dockerd of our own keeps everything (socket, images, containers) under $WORK, so that
# removing $WORK leaves the machine as it was.
start_dockerd() {
  command -v dockerd >/dev/null || die "no dockerd: install Debian's docker.io"
  mkdir -p "$WORK/docker" "$WORK/exec"
  export DOCKER_HOST="unix://$WORK/docker.sock"
  dockerd --bridge=none --iptables=false --ip6tables=false \
    --host "$DOCKER_HOST" --data-root "$WORK/docker" --exec-root "$WORK/exec" \
    --pidfile "$WORK/dockerd.pid" >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 60); do
    docker version >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 1
  done
  tail -n 20 "$WORK/dockerd.log" >&2
  die "dockerd did not start"
}

# "URI SUITE COMPONENTS" for each Debian source of this machine (deb822 .sources files and
# one-line .list files), read now: the base image uses the mirror this machine uses.
apt_sources() {
  local file
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      {
        types = uris = suites = comps = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^[ \t]*#/) continue
          split($i, kv, ":[ \t]*")
          value = substr($i, length(kv[1]) + 2); sub(/^[ \t]+/, "", value)
          if (kv[1] == "Types") types = value
          else if (kv[1] == "URIs") uris = value
          else if (kv[1] == "Suites") suites = value
          else if (kv[1] == "Components") comps = value
        }
        if (types !~ /(^| )deb( |$)/) next
        nu = split(uris, u, " "); ns = split(suites, s, " ")
        for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++) print u[a], s[b], comps
      }' "$file"
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    sed -E -e 's/#.*//' -e 's/\[[^]]*\]//' "$file" \
      | awk '$1 == "deb" && NF >= 4 { $1 = ""; sub(/^ /, ""); print }'
  done
}

# This machine's own certificate authorities (an HTTPS proxy's, say) for the base image too:
# the image's ca-certificates package adds them to its bundle, and pip is told to use that
# bundle (its own certifi knows no local authority). Images from a public base need neither.
trust_local_authorities() {
  local rootfs=$1 count=0
  mkdir -p "$rootfs/usr/local/share/ca-certificates"
  for cert in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$cert" ] || continue
    cp "$cert" "$rootfs/usr/local/share/ca-certificates/"
    count=$((count + 1))
  done
  if [ "$count" -gt 0 ]; then
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$rootfs/etc/pip.conf"
    log "the base image trusts this machine's $count local certificate authorities"
  fi
}

build_base_image() {
  local sources mirror
  sources="$(apt_sources | awk '$2 ~ /^bookworm(-|$)/')"
  mirror="$(awk '$2 == "bookworm" { print $1; exit }' <<<"$sources")"
  [ -n "$mirror" ] || die "no bookworm source in /etc/apt (sources.list or sources.list.d)"
  log "debootstrap from $mirror"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  # bookworm-updates and bookworm-security too, where this machine has them.
  awk '{ $1 = "deb " $1; print }' <<<"$sources" >"$WORK/rootfs/etc/apt/sources.list"
  rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
  trust_local_authorities "$WORK/rootfs"
  tar -C "$WORK/rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null
  rm -rf "$WORK/rootfs"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Register a job, upload the clip, wait for it, fetch the transcript; check its words
# against the clip's reference loosely (whisper-base is weak on Swedish).
transcribe_through_the_api() {
  SWESCRIBE_TEST_KEY="$1" python3 - "$2" "$SHARED/audio/sv/$CLIP_NAME.wav" \
    "$SHARED/audio/sv/$CLIP_NAME.txt" <<'PY'
import json, os, re, sys, time, urllib.request

base, clip, reference = sys.argv[1:4]
key = os.environ["SWESCRIBE_TEST_KEY"]


def call(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


auth = {"X-API-Key": key}
job = json.loads(call("POST", f"{base}/v1/jobs", json.dumps(
    {"filename": os.path.basename(clip), "formats": ["txt"]}).encode(),
    {**auth, "Content-Type": "application/json"}))
upload = job["upload"]
with open(clip, "rb") as audio:
    call(upload["method"], upload["url"], audio.read(), upload.get("headers") or {})
deadline = time.monotonic() + 300
while True:
    status = json.loads(call("GET", f"{base}/v1/jobs/{job['job_id']}", headers=auth))["status"]
    if status in ("completed", "failed"):
        break
    if time.monotonic() > deadline:
        sys.exit(f"job {job['job_id']} still {status} after 300 s")
    time.sleep(1)
if status != "completed":
    sys.exit(f"job {job['job_id']} {status}")
text = call("GET", f"{base}/v1/jobs/{job['job_id']}/transcript?format=txt", headers=auth).decode()
print(f"transcript: {text.strip()}", file=sys.stderr)


def words(line):
    return set(re.findall(r"\w+", line.lower()))


expected = words(open(reference, encoding="utf-8").read())
heard = expected & words(text)
print(f"reference words heard: {len(heard)} of {len(expected)}", file=sys.stderr)
if len(heard) * 2 < len(expected):
    sys.exit("the transcript misses most of the reference's words")
PY
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what: not within $seconds s"
    docker inspect --format '{{.State.Running}}' "$CONTAINER" 2>/dev/null | grep -q true \
      || die "$what: the container stopped"
    sleep 1
  done
}

healthz() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
  "$1" 2>/dev/null; }
healthy() { [ "$(docker inspect --format '{{.State.Health.Status}}' "$CONTAINER")" = healthy ]; }

[ -f "$SHARED/audio/sv/$CLIP_NAME.wav" ] || die "no $SHARED/audio/sv/$CLIP_NAME.wav"
[ "$(id -u)" -eq 0 ] || die "run as root (dockerd, debootstrap)"

step "docker engine"
if docker version >/dev/null 2>&1; then
  log "using the running docker engine"
else
  start_dockerd
  log "started dockerd (pid $DOCKERD_PID, socket $DOCKER_HOST)"
fi

step "base image (debootstrap)"
build_base_image

step "build the $TARGET target"
docker build --network host --file docker/Dockerfile --target "$TARGET" \
  --build-arg "BASE=$BASE_IMAGE" --tag "$IMAGE" --quiet . >/dev/null
log "$IMAGE: $(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }')"
[ "$(docker run --rm --network none "$IMAGE" id -un)" = swescribe ] \
  || die "the image does not run as the swescribe user"

if [ "$TARGET" = gpu ]; then
  step "CUDA 12 and cuDNN 9 libraries load"
  docker run --rm --network none "$IMAGE" python -c "import ctypes
for name in ('libcublas.so.12', 'libcudnn.so.9', 'libnvrtc.so.12'):
    ctypes.CDLL(name)
print('loaded cuBLAS 12, cuDNN 9, NVRTC 12')"
  GPU_FLAGS=()
  if command -v nvidia-smi >/dev/null && nvidia-smi >/dev/null 2>&1; then
    GPU_FLAGS=(--gpus all)
  else
    log "no NVIDIA GPU here: the GPU target was built and its libraries load; not run"
    exit 0
  fi
fi

step "serve in the container"
PORT="$(free_port)"
BASE_URL="http://127.0.0.1:$PORT"
docker run --detach --name "$CONTAINER" --network host ${GPU_FLAGS[@]+"${GPU_FLAGS[@]}"} \
  --env SWESCRIBE_MODEL=whisper-base --env HF_HUB_OFFLINE=1 \
  --env "SWESCRIBE_HEALTHCHECK_URL=$BASE_URL/healthz" \
  "$IMAGE" swescribe serve --host 127.0.0.1 --port "$PORT" >/dev/null
wait_for 120 "/healthz on $BASE_URL" healthz "$BASE_URL/healthz"

step "a job through the API"
KEY="$(docker exec "$CONTAINER" swescribe keys create --name docker-test | tail -n 1)"
transcribe_through_the_api "$KEY" "$BASE_URL"

step "the image's HEALTHCHECK"
wait_for 60 "docker's health status healthy" healthy

step "stop"
docker stop --time 30 "$CONTAINER" >/dev/null
[ "$(docker inspect --format '{{.State.ExitCode}}' "$CONTAINER")" = 0 ] \
  || die "serve did not stop cleanly on SIGTERM"

if [ "$TARGET" = cpu ]; then
  step "transcribe with no network"
  docker run --rm --network none --volume "$SHARED/audio/sv/$CLIP_NAME.wav:/audio/clip.wav:ro" \
    "$IMAGE" sh -c 'swescribe transcribe --model whisper-base -o /tmp/out /audio/clip.wav >&2 &&
      cat /tmp/out/clip.txt' >"$WORK/offline.txt"
  log "offline transcript: $(cat "$WORK/offline.txt")"
  [ -s "$WORK/offline.txt" ] || die "no transcript with no network"
fi
step "cleanup"
log "passed"
