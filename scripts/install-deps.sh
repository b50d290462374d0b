#!/bin/sh
# Installs the Debian packages scorerecon needs, and nothing when all are there (apt-get update runs only when
# something is missing). With arguments it installs those packages instead: scripts/install-docker-deps.sh uses
# that. The one place that knows how the project installs anything.
set -eu
PKGS="make gcc pkg-config libfftw3-dev libcjson-dev libpng-dev libmicrohttpd-dev libsqlite3-dev libpq-dev postgresql libopenblas-pthread-dev clang python3 python3-jsonschema python3-yaml python3-numpy python3-pip chromium bart"
[ $# -gt 0 ] && PKGS="$*"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
