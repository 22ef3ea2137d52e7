#!/bin/sh
# Installs clipseek for this user (`make install`: ~/.local, no sudo) and starts the daemon, the
# main job; scripts/setup.sh runs it after the build. How it starts:
# - with a systemd user manager: the session's DISPLAY / WAYLAND_DISPLAY / XAUTHORITY / SWAYSOCK
#   are imported into it and the user unit is enabled and started (README, "Start at login");
# - without one (startx without systemd): `clipseek daemon --need-capture` in the background, its
#   log in the data dir;
# - with no display at all (SSH, a container) there is nothing to capture: it says how to start
#   the daemon later and exits 0.
# Then it waits until the daemon answers (clipseek doctor --json names it), and prints doctor.
# As make does, it honours PREFIX (default ~/.local) and BUILD (the build folder, default build)
# from the environment, and the daemon's CLIPSEEK_DATA_DIR / XDG_DATA_HOME (tests/service_test.sh
# runs it so, with a HOME of its own).
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
  # a history belongs to a user: root's daemon would capture nobody's clipboard
  echo "start: run 'sh scripts/start.sh' as yourself, not as root, to install and start the daemon" >&2
  exit 0
fi
make install
BIN=${PREFIX:-$HOME/.local}/bin/clipseek
answers() { "$BIN" doctor --json 2> /dev/null | grep -q '"daemon": *{'; }
if answers; then
  echo "start: a clipseek daemon is running already"
  exit 0
fi
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "start: no display here (DISPLAY and WAYLAND_DISPLAY are unset): nothing to capture yet. From" >&2
  echo "start: your desktop session: systemctl --user import-environment DISPLAY WAYLAND_DISPLAY XAUTHORITY" >&2
  echo "start: && systemctl --user enable --now clipseek   (or: $BIN daemon &)" >&2
  exit 0
fi
if systemctl --user show-environment > /dev/null 2>&1; then
  for v in DISPLAY WAYLAND_DISPLAY XAUTHORITY SWAYSOCK; do
    eval "[ -z \"\${$v:-}\" ]" || systemctl --user import-environment "$v"
  done
  systemctl --user daemon-reload
  systemctl --user enable --now clipseek
  how="systemctl --user status clipseek"
else
  data=${CLIPSEEK_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/clipseek} # the daemon's own folder
  mkdir -p -m 0700 "$data"
  nohup "$BIN" daemon --need-capture >> "$data/daemon.log" 2>&1 < /dev/null &
  how="its log: $data/daemon.log (pid $!)"
fi
n=0
until answers; do # evidence, not hope: the daemon's STATUS through doctor
  n=$((n + 1))
  if [ $n -gt 150 ]; then
    "$BIN" doctor || true
    echo "start: the daemon did not answer within 15 s; $how" >&2
    exit 1
  fi
  sleep 0.1
done
"$BIN" doctor || true
echo "start: clipseek is running ($how). Copy something, then: clipseek search WORDS, or clipseek web --open"
