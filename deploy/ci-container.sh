#!/usr/bin/env bash
# Build the container image and run it, alone and in the compose stack, on a machine that
# reaches Debian's mirror and PyPI but no image registry (CI; ../shared/notes/containers.md).
#
#   1. podman, runc and mmdebstrap from Debian; podman-compose from PyPI.
#   2. A base image from Debian packages (mmdebstrap), trusting the host's certificate
#      authorities and pip configuration; deploy/Dockerfile built on it.
#   3. One container (SQLite) against the seeds' site on the host: the alerts arrive at a
#      webhook receiver on the host, /metrics counts them, `podman healthcheck run` is
#      healthy, `podman stop` ends it within 10 s.
#   4. deploy/compose.yaml with PostgreSQL 15 from Debian and two workers: the seeds' poll
#      end to end, each alert once.
#
# Containers use the host's network: everything they reach is on 127.0.0.1. Image storage
# lives under a temporary folder, removed at the end. Exits non-zero when anything is
# wrong; skips (exit 0, one line) only where podman cannot be installed at all.
# Needs the project's .venv (created by .ci/run) for the host-side servers.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
MAX_IMAGE_MB=350
STOP_SECONDS=10
SEED_ALERTS=7  # ByteDance AI: 3 stories, Doubao: 2, TikTok ban: 2

say() { printf '[container] %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
now() { date +%s; }

# --- 1. tools ---------------------------------------------------------------------------
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v mmdebstrap >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq podman runc mmdebstrap >/dev/null; }; then
    echo "SKIP: container checks: podman cannot be installed on this machine (apt-get install podman runc mmdebstrap failed)"
    exit 0
  fi
fi

WORK=$(mktemp -d /tmp/monitor-container.XXXXXX)
SERVERS=()
CONTAINERS=()
COMPOSE_UP=
CREATED_ENV=
cleanup() {
  set +e
  for id in "${CONTAINERS[@]}"; do podman rm -f -t 0 "$id" >/dev/null 2>&1; done
  if [ -n "$COMPOSE_UP" ]; then
    for id in $(podman ps -aq --filter label=io.podman.compose.project=monitorci); do podman rm -f -t 0 "$id" >/dev/null 2>&1; done
    podman volume rm -f $(podman volume ls -q --filter label=io.podman.compose.project=monitorci) >/dev/null 2>&1
  fi
  for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  [ -n "$CREATED_ENV" ] && rm -f deploy/.env
  podman rmi -a -f >/dev/null 2>&1  # only this run's storage (CONTAINERS_STORAGE_CONF)
  rm -rf "$WORK"
}
trap cleanup EXIT

python3 -m venv "$WORK/compose-venv"
"$WORK/compose-venv/bin/pip" install -q podman-compose 2>&1 | grep -v '^WARNING: Location' >&2 || true
COMPOSE="$WORK/compose-venv/bin/podman-compose"
[ -x "$COMPOSE" ] || fail "pip could not install podman-compose"

# What these machines need (../shared/notes/containers.md): runc (crun fails on hybrid
# cgroups), lower ulimits (no CAP_SYS_RESOURCE), docker image format (OCI drops
# HEALTHCHECK), storage in a temporary folder.
cat > "$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF
cat > "$WORK/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
EOF
export CONTAINERS_CONF=$WORK/containers.conf CONTAINERS_STORAGE_CONF=$WORK/storage.conf BUILDAH_FORMAT=docker

# --- 2. images --------------------------------------------------------------------------
# The host's Debian mirrors, for the image's own apt sources.
mirror_lines() {
  local uri suites file
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -e "$file" ] || continue
    awk '/^URIs:/{u=$2} /^Suites:/{$1=""; s=$0} /^$/{if(u&&s)print u"|"s; u=s=""} END{if(u&&s)print u"|"s}' "$file"
  done
  [ -e /etc/apt/sources.list ] && awk '$1=="deb"{s=""; for(i=4;i<=NF;i++)s=s" "$i; print $2"|"$3}' /etc/apt/sources.list
}
SOURCES=()
while IFS='|' read -r uri suites; do
  for suite in $suites; do SOURCES+=("deb $uri $suite main"); done
done < <(mirror_lines | sort -u)
[ ${#SOURCES[@]} -gt 0 ] || SOURCES=("deb http://deb.debian.org/debian bookworm main")

started=$(now)
say "base image: Debian bookworm with python3, venv, tini (mmdebstrap)"
mmdebstrap --variant=minbase --include=python3,python3-venv,ca-certificates,tini \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/info/*' \
  --aptopt='Acquire::Languages "none"' \
  bookworm "$WORK/rootfs.tar" "${SOURCES[@]}" > "$WORK/mmdebstrap.log" 2>&1 \
  || { tail -30 "$WORK/mmdebstrap.log" >&2; fail "mmdebstrap could not build the base file system"; }
podman import -q "$WORK/rootfs.tar" localhost/debian:bookworm >/dev/null
rm -f "$WORK/rootfs.tar"
# pip inside the build uses the host's index and trusts the host's certificate authorities.
mkdir -p "$WORK/base/ca"
cp /usr/local/share/ca-certificates/*.crt "$WORK/base/ca/" 2>/dev/null || true
{
  echo "[global]"
  echo "cert = /etc/ssl/certs/ca-certificates.crt"
  index=$(pip3 config get global.index-url 2>/dev/null || true)
  case "$index" in http*) echo "index-url = $index" ;; esac
} > "$WORK/base/pip.conf"
cat > "$WORK/base/Containerfile" <<'EOF'
FROM localhost/debian:bookworm
COPY ca/ /usr/local/share/ca-certificates/
COPY pip.conf /etc/pip.conf
RUN update-ca-certificates > /dev/null 2>&1
EOF
podman build -q --network host -t localhost/monitor-base:ci "$WORK/base" >/dev/null
base_seconds=$(( $(now) - started ))

started=$(now)
say "monitor image: deploy/Dockerfile on the Debian base"
podman build --network host --format docker --build-arg BASE_IMAGE=localhost/monitor-base:ci \
  -f deploy/Dockerfile -t localhost/monitor:ci . > "$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log" >&2; fail "deploy/Dockerfile did not build"; }
image_seconds=$(( $(now) - started ))
image_mb=$(( $(podman image inspect --format '{{.Size}}' localhost/monitor:ci) / 1000000 ))

started=$(now)
say "PostgreSQL 15 image: deploy/postgres/Containerfile on the Debian base"
podman build --network host --format docker --build-arg BASE_IMAGE=localhost/monitor-base:ci \
  -f deploy/postgres/Containerfile -t localhost/monitor-postgres:15 deploy/postgres > "$WORK/pg-build.log" 2>&1 \
  || { tail -40 "$WORK/pg-build.log" >&2; fail "deploy/postgres/Containerfile did not build"; }
postgres_seconds=$(( $(now) - started ))
say "built: base ${base_seconds} s, monitor ${image_seconds} s (${image_mb} MB), PostgreSQL ${postgres_seconds} s"
[ "$image_mb" -le "$MAX_IMAGE_MB" ] || fail "the monitor image is ${image_mb} MB, over the ${MAX_IMAGE_MB} MB target"
[ "$(podman image inspect --format '{{.Config.User}}' localhost/monitor:ci)" = "monitor:monitor" ] \
  || fail "the image does not run as the user monitor"
[ -n "$(podman image inspect --format '{{.Config.Healthcheck}}' localhost/monitor:ci)" ] \
  || fail "the image lost its HEALTHCHECK"
compilers=$(podman run --rm --network none --entrypoint sh localhost/monitor:ci -c 'command -v gcc cc c++ ld strip || true')
[ -z "$compilers" ] || fail "build tools left in the runtime image: $compilers"

# --- host-side servers --------------------------------------------------------------------
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_site() {  # $1: state folder; the seeds' site and a webhook receiver until cleanup
  mkdir -p "$1"
  "$PY" tests/container_site.py "$1" & SERVERS+=($!)
  for _ in $(seq 100); do [ -s "$1/monitor.yaml" ] && return; sleep 0.1; done
  fail "the seeds' site did not start"
}

wait_for_alerts() {  # $1: state folder, $2: seconds
  local deadline=$(( $(now) + $2 ))
  while [ "$(find "$1/hooks" -name '*.json' | wc -l)" -lt "$SEED_ALERTS" ]; do
    [ "$(now)" -lt "$deadline" ] || return 1
    sleep 1
  done
}

each_alert_once() {  # $1: state folder, after a few more seconds
  sleep 3
  "$PY" - "$1/hooks" "$SEED_ALERTS" <<'EOF'
import json, sys
from collections import Counter
from pathlib import Path
bodies = [json.loads(p.read_bytes()) for p in Path(sys.argv[1]).glob("*.json")]
keys = Counter((b["topic"], b["story"]["id"]) for b in bodies)
topics = Counter(b["topic"] for b in bodies)
assert len(bodies) == int(sys.argv[2]) and max(keys.values()) == 1, f"alerts: {len(bodies)}, {keys}"
assert topics == {"ByteDance AI": 3, "Doubao": 2, "TikTok ban": 2}, topics
EOF
}

metric() {  # $1: port, $2: sample name with labels; prints its value
  "$PY" - "$1" "$2" <<'EOF'
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10).read().decode()
print(next((line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(sys.argv[2] + " ")), "absent"))
EOF
}

healthy() {  # $1: container id; the image's HEALTHCHECK, run now (podman 4.3 cannot schedule it without systemd)
  for _ in $(seq 30); do
    podman healthcheck run "$1" >/dev/null 2>&1 && return 0
    sleep 2
  done
  return 1
}

# --- 3. one container, SQLite ------------------------------------------------------------
say "one container: seeds' poll, alerts, metrics, health, stop"
start_site "$WORK/one"
api=$(free_port); metrics_port=$(free_port)
started=$(now)
id=$(podman run -d --network host \
  -v "$WORK/one/monitor.yaml:/etc/monitor/monitor.yaml:ro,Z" -v monitor-ci-data:/data \
  -e MONITOR_API_LISTEN="127.0.0.1:$api" -e MONITOR_METRICS_LISTEN="127.0.0.1:$metrics_port" \
  -e MONITOR_HEALTH_URL="http://127.0.0.1:$api/healthz" \
  localhost/monitor:ci)
CONTAINERS+=("$id")
wait_for_alerts "$WORK/one" 240 || { podman logs "$id" >&2; fail "the container's alerts did not arrive"; }
alerts_seconds=$(( $(now) - started ))
each_alert_once "$WORK/one" || { podman logs "$id" >&2; fail "alerts missing or sent twice"; }
delivered=$(metric "$metrics_port" 'monitor_alerts_total{channel="webhook:host",status="delivered"}')
[ "$delivered" = "7.0" ] || fail "/metrics counts $delivered delivered alerts, not 7"
healthy "$id" || { podman logs "$id" >&2; fail "podman healthcheck run: not healthy"; }
[ "$(podman exec "$id" id -u)" = 10001 ] || fail "the monitor does not run as uid 10001"
started_stop=$(date +%s.%N)
podman stop -t "$STOP_SECONDS" "$id" >/dev/null
stop_seconds=$("$PY" -c "print(f'{$(date +%s.%N) - $started_stop:.1f}')")
code=$(podman inspect --format '{{.State.ExitCode}}' "$id")
[ "$code" = 0 ] || { podman logs "$id" >&2; fail "the container exited $code after SIGTERM"; }
"$PY" -c "import sys; sys.exit(float('$stop_seconds') >= $STOP_SECONDS)" \
  || fail "podman stop took ${stop_seconds} s (SIGKILL after $STOP_SECONDS s)"
podman logs "$id" 2>&1 | tail -1 | grep -qx stopped || { podman logs "$id" >&2; fail "no clean stop in the logs"; }
say "one container: ${SEED_ALERTS} alerts ${alerts_seconds} s after start, healthy, stopped in ${stop_seconds} s"

# --- 4. compose: PostgreSQL 15 and two workers --------------------------------------------
say "compose: PostgreSQL 15 from Debian, two workers"
start_site "$WORK/compose"
if [ ! -e deploy/.env ]; then
  printf 'POSTGRES_PASSWORD=%s\n' "$("$PY" -c 'import secrets; print(secrets.token_hex(16))')" > deploy/.env
  CREATED_ENV=1
fi
set -a; . deploy/.env; set +a
pg=$(free_port); api1=$(free_port); api2=$(free_port); m1=$(free_port); m2=$(free_port)
worker_env() {  # $1 api port, $2 metrics port
  cat <<EOF
      MONITOR_DATABASE_URL: postgresql+psycopg://monitor:\${POSTGRES_PASSWORD}@127.0.0.1:$pg/monitor
      MONITOR_API_LISTEN: 127.0.0.1:$1
      MONITOR_METRICS_LISTEN: 127.0.0.1:$2
      MONITOR_HEALTH_URL: http://127.0.0.1:$1/healthz
EOF
}
cat > "$WORK/compose.ci.yaml" <<EOF
# This machine: the host's network (every address on 127.0.0.1), the images just built.
services:
  db:
    network_mode: host
    environment:
      PGPORT: "$pg"
  monitor:
    image: localhost/monitor:ci
    network_mode: host
    environment:
$(worker_env "$api1" "$m1")
  worker:
    image: localhost/monitor:ci
    network_mode: host
    environment:
$(worker_env "$api2" "$m2")
EOF
export MONITOR_CONFIG_FILE=$WORK/compose/monitor.yaml
compose() {
  "$COMPOSE" --in-pod false -p monitorci -f deploy/compose.yaml -f deploy/compose.debian.yaml \
    -f "$WORK/compose.ci.yaml" --profile workers "$@"
}
started=$(now)
COMPOSE_UP=1
compose up -d --no-build > "$WORK/compose-up.log" 2>&1 || { cat "$WORK/compose-up.log" >&2; fail "compose up failed"; }
up_seconds=$(( $(now) - started ))
container_of() { podman ps -aq --filter label=io.podman.compose.project=monitorci --filter "label=io.podman.compose.service=$1"; }
wait_for_alerts "$WORK/compose" 240 || { compose logs >&2; fail "the compose stack's alerts did not arrive"; }
compose_alert_seconds=$(( $(now) - started ))
each_alert_once "$WORK/compose" || { compose logs >&2; fail "compose: alerts missing or sent twice"; }
for service in monitor worker; do
  healthy "$(container_of "$service")" || { compose logs >&2; fail "compose: $service not healthy"; }
done
polls=$(( $(metric "$m1" 'monitor_feed_polls_total{outcome="ok"}' | cut -d. -f1) \
        + $(metric "$m2" 'monitor_feed_polls_total{outcome="ok"}' | cut -d. -f1) ))
[ "$polls" = 1 ] || fail "compose: the seeds' feed was parsed $polls times by the two workers, not once"
waited=$(podman logs "$(container_of monitor)" 2>&1 | grep -c "waiting for the database" || true)
compose down -v > "$WORK/compose-down.log" 2>&1 || { cat "$WORK/compose-down.log" >&2; fail "compose down failed"; }
COMPOSE_UP=
say "compose: up in ${up_seconds} s, ${SEED_ALERTS} alerts ${compose_alert_seconds} s after start (the monitor waited for the database $waited times), both workers healthy"
say "passed: image ${image_mb} MB; builds: base ${base_seconds} s, monitor ${image_seconds} s, PostgreSQL ${postgres_seconds} s"
