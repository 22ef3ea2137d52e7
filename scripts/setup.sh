#!/bin/sh
# One command for a newcomer on Debian/Ubuntu: install the build dependencies (Debian packages
# listed in scripts/packages.txt, through sudo), build clipseek, install it for this user
# (`make install`: ~/.local, no sudo) and start the daemon, the main job (scripts/start.sh).
#   sh scripts/setup.sh               (as yourself; sudo is asked for the packages only)
#   CLIPSEEK_SETUP_NO_START=1 sh scripts/setup.sh   installs and builds, starts nothing
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
[ -z "${CLIPSEEK_SETUP_NO_START:-}" ] || exit 0
exec sh scripts/start.sh
