#!/bin/sh
# Installs the Debian packages `make docker-test` needs, and nothing when all are there: rootful podman with runc and
# netavark, podman-compose, debootstrap (the local base image), curl and python3 (the checks).
set -eu
PKGS="podman podman-compose runc conmon netavark iptables debootstrap curl python3"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-docker-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
