#!/bin/sh
# The Debian packages `make docker-test` needs: rootful podman with runc and netavark, podman-compose, debootstrap
# (the local base image), curl and python3 (the checks). Installed by install-deps.sh, only when missing.
set -eu
exec sh "$(dirname "$0")/install-deps.sh" podman podman-compose runc conmon netavark aardvark-dns iptables debootstrap curl python3
