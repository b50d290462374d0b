#!/bin/sh
# `make docker-test`: builds docker/Dockerfile for real with rootful podman and checks the image end to end.
#
#  1. Installs podman, runc, netavark, debootstrap, curl (scripts/install-docker-deps.sh: Debian packages, only the
#     missing ones).
#  2. Points podman at a private configuration (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF)
#     with its storage, run root and networks under a temporary directory, so that nothing of the host's container
#     set-up is used or changed: runtime runc with the cgroupfs manager, default ulimits nofile and nproc (the
#     built-in ones fail here with "setrlimit: Operation not permitted"), events in a file.
#  3. No registry is reachable: the base image is a debootstrap'ed bookworm (minbase, from the mirror apt uses),
#     cached as a tarball in ${XDG_CACHE_HOME:-~/.cache}/scorerecon/ (rebuilt when older than 30 days) and imported
#     as localhost/debian:bookworm; the Dockerfile gets it through --build-arg BASE_IMAGE.
#  4. Builds the image and checks it: non-root, no compiler or -dev package, `run -` through the ENTRYPOINT.
#  5. Runs it with a published loopback port, a named data volume, the token as a podman secret and
#     SCORERECON_WORKERS=2 (checked on /readyz); the HEALTHCHECK passes and scorerecon is PID 1. Submits a small
#     job with curl, waits, fetches and checks the result; starts a long job. `podman stop` must return in under
#     5 s with exit status 0; a new container on the same volume must serve the same result byte for byte and
#     still hold the long job (back in the queue), which is then cancelled.
#     Then docker/compose.yaml as shipped (podman-compose): up, the token secret works, down; and its `scaled`
#     profile: PostgreSQL (docker/postgres.Dockerfile), an API node and two workers run a job end to end.
#  6. Removes every container (by id), volume, secret and image it made, the temporary directory and the host
#     state podman leaves behind, also on failure. Every podman, curl and debootstrap call has a time limit.
#
# Environment: SCORERECON_DEBIAN_MIRROR (default: the bookworm mirror in /etc/apt/sources.list*),
# SCORERECON_DOCKER_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/scorerecon), KEEP_DOCKER_TEST=1 keeps the
# temporary directory (the image store, stopped containers) for inspection.
set -eu
cd "$(dirname "$0")/.."

log() { printf 'docker-test: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

T_ALL=$(now)
sh scripts/install-docker-deps.sh

[ "$(id -u)" -eq 0 ] || die "rootful podman is needed: run as root"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# ------------------------------------------------------------------ private podman configuration
WORK=$(mktemp -d /tmp/scorerecon-docker-test.XXXXXX)
chmod 0755 "$WORK"
mkdir -p "$WORK/storage" "$WORK/run" "$WORK/tmp" "$WORK/networks"
cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$WORK/tmp"

[network]
network_backend = "netavark"
network_config_dir = "$WORK/networks"
EOF
cat >"$WORK/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
EOF
cat >"$WORK/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "enforcing"
EOF
export CONTAINERS_CONF="$WORK/containers.conf"
export CONTAINERS_STORAGE_CONF="$WORK/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$WORK/registries.conf"

TAG=$$
IMAGE=localhost/scorerecon:docker-test-$TAG
BASE=localhost/debian:bookworm
VOLUME=scorerecon-test-data-$TAG
SECRET=scorerecon-test-token-$TAG
CIDS=""
COMPOSE=""

pm() { timeout -k 10 "${PM_TIMEOUT:-120}" podman "$@"; }

# Rootful podman keeps some state outside its configured directories: netavark's IPAM database in
# /run/containers/networks, the blob-info cache in /var/lib/containers/cache, /run/netns, runc's /run/runc, an
# empty ~/.config/containers/podman, the libpod_parent cgroups, the NETAVARK* firewall chains and
# net.ipv4.ip_forward=1. What did not exist before the test is removed again afterwards (directories under /run,
# ~/.config and cgroups only when empty).
HAD_RUN=0; [ -e /run/containers ] && HAD_RUN=1
HAD_LIB=0; [ -e /var/lib/containers ] && HAD_LIB=1
USERCONF=${XDG_CONFIG_HOME:-$HOME/.config}/containers
HAD_DIRS=""
for d in /run/netns /run/runc "$USERCONF"; do [ -e "$d" ] && HAD_DIRS="$HAD_DIRS $d"; done
HAD_CG=0; ls -d /sys/fs/cgroup/libpod_parent /sys/fs/cgroup/*/libpod_parent >/dev/null 2>&1 && HAD_CG=1
HAD_NV=0; { iptables -S; iptables -t nat -S; } 2>/dev/null | grep -q NETAVARK && HAD_NV=1
FORWARD=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo 1)
restore_host() {
  [ "$HAD_RUN" = 1 ] || rm -rf --one-file-system /run/containers
  [ "$HAD_LIB" = 1 ] || rm -rf --one-file-system /var/lib/containers
  for d in /run/netns /run/runc; do
    case "$HAD_DIRS" in *" $d"*) continue ;; esac
    [ -d "$d" ] && [ -z "$(ls -A "$d")" ] || continue
    i=0 # podman bind-mounts /run/netns on itself
    while [ "$i" -lt 5 ] && awk -v d="$d" '$2 == d { f = 1 } END { exit !f }' /proc/mounts; do
      umount "$d" 2>/dev/null
      i=$((i + 1))
    done
    rmdir "$d" 2>/dev/null
  done
  case "$HAD_DIRS" in *" $USERCONF"*) ;; *) rmdir "$USERCONF/podman" "$USERCONF" 2>/dev/null ;; esac
  if [ "$HAD_CG" = 0 ]; then
    for d in /sys/fs/cgroup/libpod_parent /sys/fs/cgroup/*/libpod_parent; do
      [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
  fi
  if [ "$HAD_NV" = 0 ]; then
    for ipt in iptables ip6tables; do
      for t in filter nat; do
        timeout 10 "$ipt" -t "$t" -S 2>/dev/null | grep -e '^-A .*NETAVARK' | sed 's/^-A /-D /' |
          while read -r rule; do echo "$rule" | timeout 10 xargs "$ipt" -t "$t" 2>/dev/null; done
        for ch in $(timeout 10 "$ipt" -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^NETAVARK/ { print $2 }'); do
          timeout 10 "$ipt" -t "$t" -F "$ch" 2>/dev/null
        done
        for ch in $(timeout 10 "$ipt" -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^NETAVARK/ { print $2 }'); do
          timeout 10 "$ipt" -t "$t" -X "$ch" 2>/dev/null
        done
      done
    done
    [ "$FORWARD" = 0 ] && echo 0 >/proc/sys/net/ipv4/ip_forward 2>/dev/null
  fi
}

cleanup() {
  rc=$?
  trap - EXIT
  trap ':' INT TERM # the clean-up runs to its end (each step has a time limit)
  set +e
  if [ "$rc" -ne 0 ]; then
    [ -s "$WORK/podman.err" ] && { log "podman's messages:"; tail -n 20 "$WORK/podman.err" >&2; }
    for c in $CIDS; do
      log "logs of container $c:"
      pm logs "$c" 2>&1 | tail -n 40 >&2
    done
  fi
  [ -n "$COMPOSE" ] && compose down -v -t 2 >/dev/null 2>&1
  [ -n "${DB_IMAGE:-}" ] && pm rmi -f "$DB_IMAGE" >/dev/null 2>&1
  if [ "${KEEP_DOCKER_TEST:-0}" = 1 ]; then
    for c in $CIDS; do pm stop -t 2 "$c" >/dev/null 2>&1; done
    log "kept $WORK: CONTAINERS_CONF=$WORK/containers.conf CONTAINERS_STORAGE_CONF=$WORK/storage.conf podman images"
  else
    for c in $CIDS; do pm rm -f -t 2 "$c" >/dev/null 2>&1; done
    pm volume rm -f "$VOLUME" >/dev/null 2>&1
    pm secret rm "$SECRET" >/dev/null 2>&1
    pm rmi -f "$IMAGE" "$BASE" >/dev/null 2>&1
    PM_TIMEOUT=60 pm system reset --force >/dev/null 2>&1
    # Anything still mounted under $WORK (an interrupted debootstrap, a storage layer) is unmounted first.
    awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
      umount -l "$m" 2>/dev/null
    done
    rm -rf --one-file-system "$WORK"
    [ -n "${BASE_TAR:-}" ] && rm -f "$BASE_TAR.tmp.$$"
    restore_host
  fi
  if [ "$rc" -eq 0 ]; then log "PASS in $(since "$T_ALL") s"; else log "FAILED (status $rc)"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ base image: debootstrap, cached
apt_mirror() {
  # The first URI that serves bookworm, from one-line (.list) and deb822 (.sources) files.
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                       if ($(i + 1) == "bookworm") { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'function flush() { if (deb && on && suite && uri != "") print uri; deb = 0; on = 1; suite = 0; uri = "" }
         BEGIN { on = 1 }
         /^[ \t]*$/ { flush(); next }
         /^#/ { next }
         tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
         tolower($1) == "enabled:" { on = tolower($2) != "no" }
         tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
         tolower($1) == "uris:" { uri = $2 }
         END { flush() }' "$f"
  done
}
MIRROR=${SCORERECON_DEBIAN_MIRROR:-$(apt_mirror | head -n 1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CACHE=${SCORERECON_DOCKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scorerecon}
ARCH=$(dpkg --print-architecture)
BASE_TAR=$CACHE/debian-bookworm-minbase-$ARCH.tar
mkdir -p "$CACHE"
if [ -s "$BASE_TAR" ] && [ -z "$(find "$BASE_TAR" -mtime +30)" ]; then
  log "base: cached $BASE_TAR"
else
  T=$(now)
  log "base: debootstrap --variant=minbase bookworm from $MIRROR"
  timeout 900 debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  # As in the official images: no downloaded packages or package lists in the layer.
  rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/cache/apt/"*.bin \
    "$WORK/rootfs/var/lib/apt/lists/"* "$WORK/rootfs/var/log/"*.log "$WORK/rootfs/debootstrap"
  tar --numeric-owner -C "$WORK/rootfs" -cf "$BASE_TAR.tmp.$$" . && mv "$BASE_TAR.tmp.$$" "$BASE_TAR"
  rm -rf --one-file-system "$WORK/rootfs"
  log "base: debootstrap took $(since "$T") s, cached in $BASE_TAR"
fi
T=$(now)
pm import -q --change 'CMD ["/bin/bash"]' "$BASE_TAR" "$BASE" >/dev/null ||
  { rm -f "$BASE_TAR"; die "podman import of $BASE_TAR failed (removed: the next run makes it again)"; }
log "base: imported as $BASE in $(since "$T") s"

# ------------------------------------------------------------------ build
T=$(now)
PM_TIMEOUT=900 pm build --pull=never --format docker --build-arg BASE_IMAGE="$BASE" -f docker/Dockerfile \
  -t "$IMAGE" . >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; die "podman build failed"; }
T_BUILD=$(since "$T")
SIZE=$(pm image inspect --format '{{.Size}}' "$IMAGE")
log "build: $T_BUILD s; image $IMAGE is $SIZE bytes ($(awk -v s="$SIZE" 'BEGIN { printf "%.1f", s / 1e6 }') MB)"

# The runtime stage: non-root, no compiler, no -dev package, the configuration the README promises.
NODEV='^(gcc|gcc-[0-9]+|cpp|cpp-[0-9]+|clang.*|binutils|.*-dev)$'
out=$(pm run --rm --entrypoint /bin/sh "$IMAGE" -c \
  "id -u; command -v cc gcc make; dpkg-query -W -f '\${Package}\n' | grep -E '$NODEV'; true" 2>>"$WORK/podman.err")
[ "$out" = 10001 ] || die "runtime image: expected only uid 10001, got: $out"
cfg=$(pm image inspect "$IMAGE" --format \
  '{{.Config.User}} {{.Config.ExposedPorts}} {{.Config.Volumes}} {{.Config.Env}} {{.Config.Healthcheck}}')
case "$cfg" in
  "10001:10001 map[8080/tcp:{}] map[/var/lib/scorerecon:{}] "*SCORERECON_LISTEN=0.0.0.0:8080*healthcheck.sh*) ;;
  *) die "image config: $cfg" ;;
esac

# ------------------------------------------------------------------ run
TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$WORK/token"
pm secret create "$SECRET" "$WORK/token" >/dev/null
pm volume create "$VOLUME" >/dev/null

start() { # start NAME: a detached container on the volume; sets CID and URL
  CID=$(pm run -d --name "$1-$TAG" -p 127.0.0.1::8080 -v "$VOLUME:/var/lib/scorerecon" \
    --secret "$SECRET,target=scorerecon_token" -e SCORERECON_TOKEN_FILE=/run/secrets/scorerecon_token \
    -e SCORERECON_WORKERS=2 "$IMAGE" 2>>"$WORK/podman.err")
  CIDS="$CIDS $CID"
  hp=$(pm port "$CID" 8080/tcp | head -n 1)
  case "$hp" in 127.0.0.1:*) ;; *) die "port 8080 published on '$hp', not on 127.0.0.1" ;; esac
  URL=http://$hp
  i=0
  until curl -fsS -m 2 "$URL/healthz" >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || die "$1: /healthz did not answer within 20 s"
    sleep 0.2
  done
  log "$1: container ${CID%"${CID#????????????}"} answers on $URL"
}
api() { curl -sS -m 70 -H "Authorization: Bearer $TOKEN" "$@"; }
field() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d'"$1"')'; }

stop_timed() { # stop CID: `podman stop` must return within 5 s and the service must exit 0
  T=$(now)
  pm stop -t 10 "$1" >/dev/null 2>>"$WORK/podman.err"
  dt=$(since "$T")
  code=$(pm inspect --format '{{.State.ExitCode}}' "$1")
  log "stop: podman stop took $dt s, exit status $code"
  awk -v t="$dt" 'BEGIN { exit !(t < 5) }' || die "podman stop took $dt s (limit 5 s)"
  [ "$code" = 0 ] || die "the service exited with status $code on SIGTERM"
  pm logs "$1" 2>&1 | grep -q 'scorerecon: stopped' || die "no clean stop in the logs"
}

# Two jobs: a small one checked in full, and a long one that is running when the container stops.
"$PY" - "$WORK" <<'EOF'
import json, sys
d = sys.argv[1]
def job(n, steps, outputs):
    obs = [[round(0.1 * ((3 * i + 5 * j) % 7) - 0.3, 3) for j in range(n)] for i in range(n)]
    return {"shape": [n, n], "operator": {"type": "identity"}, "noise": {"sigma": 0.1}, "observation": obs,
            "prior": {"type": "gaussian", "mean": 0, "std": 1}, "sampler": {"type": "mala", "steps": steps},
            "num_samples": 2, "seed": 11, "outputs": outputs}
json.dump(job(8, 200, ["mean", "std"]), open(d + "/small.json", "w"))
json.dump(job(32, 20000000, ["mean"]), open(d + "/long.json", "w"))
EOF

# The command line through the image's ENTRYPOINT: a job on stdin, the result on stdout.
shape=$(pm run --rm -i "$IMAGE" run - --quiet <"$WORK/small.json" 2>>"$WORK/podman.err" |
  "$PY" -c 'import json, sys; print(json.load(sys.stdin)["mean"]["shape"])') || die "docker run IMAGE run - failed"
[ "$shape" = "[8, 8]" ] || die "docker run IMAGE run -: mean has shape $shape"

start first
pm healthcheck run "$CID" >/dev/null 2>>"$WORK/podman.err" || die "the image's HEALTHCHECK fails"
pid1=$(pm exec "$CID" cat /proc/1/comm)
[ "$pid1" = scorerecon ] || die "PID 1 in the container is '$pid1', not scorerecon"
ready=$(curl -fsS -m 5 "$URL/readyz")
[ "$(echo "$ready" | field '["workers"]')" = 2 ] || die "SCORERECON_WORKERS=2 not honoured: $ready"
code=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$URL/v1/jobs")
[ "$code" = 401 ] || die "GET /v1/jobs without the token answered $code, not 401"

job=$(api -H 'Content-Type: application/json' --data-binary "@$WORK/small.json" "$URL/v1/jobs")
JOB=$(echo "$job" | field '["id"]') || die "POST /v1/jobs: $job"
for _ in 1 2 3 4; do
  st=$(api "$URL/v1/jobs/$JOB?wait=30" | field '["status"]')
  case "$st" in succeeded | failed | cancelled) break ;; esac
done
[ "$st" = succeeded ] || die "job $JOB ended as '$st'"
api -f -o "$WORK/result1.json" "$URL/v1/jobs/$JOB/result"
"$PY" - "$WORK/result1.json" <<'EOF' || die "the result is wrong"
import base64, json, math, struct, sys
r = json.load(open(sys.argv[1]))
m = r["mean"]
if isinstance(m, dict):
    assert m["dtype"] == "float32" and m["shape"] == [8, 8], m
    v = struct.unpack("<64f", base64.b64decode(m["data"]))
else:
    v = [x for row in m for x in row]
assert len(v) == 64 and all(math.isfinite(x) for x in v), v
assert max(abs(x) for x in v) < 2, v
print("docker-test: result: mean has 64 finite values in [%.3f, %.3f]" % (min(v), max(v)), file=sys.stderr)
EOF

long=$(api -H 'Content-Type: application/json' --data-binary "@$WORK/long.json" "$URL/v1/jobs")
LONG=$(echo "$long" | field '["id"]') || die "POST /v1/jobs (long job): $long"
i=0
until [ "$(api "$URL/v1/jobs/$LONG" | field '["progress"]["step"] > 0')" = True ]; do
  i=$((i + 1))
  [ "$i" -lt 100 ] || die "the long job did not start within 20 s"
  sleep 0.2
done
stop_timed "$CID"

start second
st=$(api "$URL/v1/jobs/$JOB" | field '["status"]')
[ "$st" = succeeded ] || die "after the restart job $JOB is '$st'"
api -f -o "$WORK/result2.json" "$URL/v1/jobs/$JOB/result"
cmp -s "$WORK/result1.json" "$WORK/result2.json" || die "the result changed across the restart"
log "restart: the result ($(wc -c <"$WORK/result2.json") bytes) survived byte for byte"
st=$(api "$URL/v1/jobs/$LONG" | field '["status"]')
case "$st" in queued | running) ;; *) die "the job running at the stop is '$st' after the restart" ;; esac
log "restart: the job running at the stop is $st again"
st=$(api -X DELETE "$URL/v1/jobs/$LONG" | field '["status"]')
[ "$st" = cancelled ] || die "DELETE of the long job: '$st'"
stop_timed "$CID"

# ------------------------------------------------------------------ docker/compose.yaml (podman-compose)
# The shipped compose file, unchanged, on this image: its data volume, its token secret (here a file in $WORK), a
# free loopback port.
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
compose() {
  SCORERECON_BASE_IMAGE=$BASE SCORERECON_IMAGE=$IMAGE SCORERECON_PORT=$PORT SCORERECON_TOKEN_SECRET=$WORK/token \
    timeout 120 podman-compose -p "scorerecon-test-$TAG" -f docker/compose.yaml "$@"
}
COMPOSE=1
compose up -d --no-build scorerecon >"$WORK/compose.log" 2>&1 || { tail -n 20 "$WORK/compose.log" >&2; die "compose up failed"; }
URL=http://127.0.0.1:$PORT
i=0
until curl -fsS -m 2 "$URL/healthz" >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -lt 100 ] || { tail -n 20 "$WORK/compose.log" >&2; die "compose: /healthz did not answer within 20 s"; }
  sleep 0.2
done
code=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$URL/v1/jobs")
[ "$code" = 401 ] || die "compose: GET /v1/jobs without the token answered $code, not 401"
code=$(api -o /dev/null -w '%{http_code}' "$URL/v1/jobs")
[ "$code" = 200 ] || die "compose: GET /v1/jobs with the secret's token answered $code, not 200"
vol=$(pm volume ls -q | grep -c "scorerecon-test-${TAG}_scorerecon-data" || true)
[ "$vol" = 1 ] || die "compose: no volume scorerecon-test-${TAG}_scorerecon-data"
T=$(now)
compose down -v -t 10 >>"$WORK/compose.log" 2>&1 || { tail -n 20 "$WORK/compose.log" >&2; die "compose down failed"; }
COMPOSE=""
log "compose: up on $URL with the token secret and the data volume; down took $(since "$T") s"
# ------------------------------------------------------------------ profile `scaled` of docker/compose.yaml
# PostgreSQL (docker/postgres.Dockerfile, built here on the same base), one API node and two worker nodes: a job
# submitted to the API node is run by a worker and its result served by the API node (from the database); the
# workers' /readyz from inside their containers say role worker and store postgresql.
DB_IMAGE=localhost/scorerecon-postgres:docker-test-$TAG
T=$(now)
PM_TIMEOUT=900 pm build --pull=never --format docker --build-arg BASE_IMAGE="$BASE" -f docker/postgres.Dockerfile \
  -t "$DB_IMAGE" . >"$WORK/build-db.log" 2>&1 || { tail -n 30 "$WORK/build-db.log" >&2; die "build of the database image failed"; }
log "scaled: database image built in $(since "$T") s"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
compose() {
  SCORERECON_BASE_IMAGE=$BASE SCORERECON_IMAGE=$IMAGE SCORERECON_DB_IMAGE=$DB_IMAGE SCORERECON_API_PORT=$PORT \
    SCORERECON_TOKEN_SECRET=$WORK/token SCORERECON_DB_PASSWORD=test-$TAG-pw \
    timeout 120 podman-compose -p "scorerecon-test-$TAG" -f docker/compose.yaml "$@"
}
COMPOSE=1
T=$(now)
compose up -d --no-build db api worker1 worker2 >"$WORK/compose-scaled.log" 2>&1 ||
  { tail -n 20 "$WORK/compose-scaled.log" >&2; die "compose (scaled) up failed"; }
URL=http://127.0.0.1:$PORT
i=0
until [ "$(curl -sS -m 2 -o /dev/null -w '%{http_code}' "$URL/readyz" 2>/dev/null)" = 200 ]; do
  i=$((i + 1)) # the nodes restart until the database accepts connections
  [ "$i" -lt 300 ] || { tail -n 20 "$WORK/compose-scaled.log" >&2; pm logs "scorerecon-test-${TAG}_api_1" 2>&1 | tail -n 20 >&2
                        die "compose (scaled): the API node was not ready within 60 s"; }
  sleep 0.2
done
log "scaled: the API node is ready after $(since "$T") s"
role=$(curl -sS -m 5 "$URL/readyz" | field '["role"]')
[ "$role" = api ] || die "compose (scaled): the API node's role is '$role'"
for w in worker1 worker2; do
  i=0
  until pm exec "scorerecon-test-${TAG}_${w}_1" /bin/bash /usr/local/lib/scorerecon/healthcheck.sh >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -lt 60 ] || { pm logs "scorerecon-test-${TAG}_${w}_1" 2>&1 | tail -n 20 >&2; die "compose (scaled): $w is not healthy"; }
    sleep 0.5
  done
done
JOB=$(api -X POST -H 'Content-Type: application/json' --data-binary @examples/denoise.json "$URL/v1/jobs" | field '["id"]')
[ -n "$JOB" ] || die "compose (scaled): POST /v1/jobs gave no id"
i=0
st=queued
while [ "$st" != succeeded ]; do
  st=$(api "$URL/v1/jobs/$JOB?wait=5" | field '["status"]')
  case "$st" in failed | cancelled) die "compose (scaled): job $JOB $st" ;; esac
  i=$((i + 1))
  [ "$i" -lt 24 ] || die "compose (scaled): job $JOB still '$st' after 2 minutes"
done
api -f -o "$WORK/scaled.json" "$URL/v1/jobs/$JOB/result"
grep -q '"mean"' "$WORK/scaled.json" || die "compose (scaled): the result has no mean"
ran=0
for w in worker1 worker2; do
  n=$(pm exec "scorerecon-test-${TAG}_${w}_1" sh -c 'ls /var/lib/scorerecon/results 2>/dev/null' | grep -c "$JOB" || true)
  ran=$((ran + n))
done
[ "$ran" = 1 ] || die "compose (scaled): job $JOB ran on $ran workers, not 1"
T=$(now)
compose down -v -t 10 >>"$WORK/compose-scaled.log" 2>&1 || { tail -n 20 "$WORK/compose-scaled.log" >&2; die "compose (scaled) down failed"; }
COMPOSE=""
log "scaled: postgres + api + 2 workers: job $JOB run by a worker, its result ($(wc -c <"$WORK/scaled.json") bytes) served by the API node; down took $(since "$T") s"
log "build $T_BUILD s, image $SIZE bytes"
