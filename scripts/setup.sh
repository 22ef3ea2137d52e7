#!/bin/sh
# One command for a newcomer on Debian/Ubuntu: install the build dependencies (Debian packages
# listed in scripts/packages.txt), build clipseek, and run it once to show it works.
#   sudo sh scripts/setup.sh          (as root: no sudo needed)
set -eu
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -q
# shellcheck disable=SC2046
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(grep -v '^#' scripts/packages.txt)
make -j"$(nproc)"
echo
build/clipseek help
