#!/bin/sh
# Installs the Debian packages scorerecon needs, and nothing when all are there.
# The one place that names the project's build and test dependencies.
set -eu
PKGS="make gcc pkg-config libfftw3-dev libcjson-dev libpng-dev libmicrohttpd-dev libsqlite3-dev libopenblas-serial-dev clang python3 python3-jsonschema python3-yaml"
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
