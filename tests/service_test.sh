#!/bin/sh
# The daemon as a service: reload, doctor's verdicts, the systemd unit, make install/uninstall.
# Real components: Xvfb and xclip for capture, the daemon, systemd-analyze, make.
#   reload: a config written to disk takes effect (inotify), SIGHUP and `clipseek reload` reload,
#   a bad config is refused (reload exits 1, the old rules stay in force, STATUS and doctor show
#   why) until it is fixed;
#   doctor: exit 1 with no daemon, 0 with capture running (and the daemon's real web port, not the
#   config's), 1 when paused with no end (0 with a WARN for a timed pause), 1 when the daemon
#   has no display; --json is JSON;
#   daemon --need-capture without a display exits 1 naming the import-environment command;
#   the unit passes `systemd-analyze verify` without a warning, and its ExecStart run with the
#   empty environment of a user manager that was never told the display exits 1;
#   make install DESTDIR=... puts the files where they belong, runnable; make uninstall leaves none;
#   scripts/start.sh with a HOME of its own: refuses root, with no display installs and starts
#   nothing, else installs, starts the daemon with nohup (no user manager), doctor names it, and a
#   second run finds it running.
# Every wait polls for evidence with a bound; only processes this script started are ended, by PID.
set -u
BIN=$(readlink -f "${CLIPSEEK:-build/clipseek}")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
. "$HERE/testlib.sh"
for p in Xvfb xclip; do
  command -v $p > /dev/null || { echo "[SKIP] service: $p not installed"; echo "service: 0 passed, 0 failed, 1 skipped"; exit 0; }
done
TMP=$(mktemp -d /tmp/clipseek-svc-XXXXXX)
# the config's folder does not exist yet: the daemon makes it, so a config written later is seen
export CLIPSEEK_DATA_DIR="$TMP/data" CLIPSEEK_CONFIG="$TMP/cfg/config"
unset WAYLAND_DISPLAY SWAYSOCK CLIPSEEK_MODEL
start_xvfb
DPID=
stop_all() {
  [ -n "$DPID" ] && kill "$DPID" 2> /dev/null && wait "$DPID" 2> /dev/null
  [ -n "${SPID:-}" ] && kill "$SPID" 2> /dev/null # start.sh's daemon (not our child)
  kill "$XPID" 2> /dev/null
  [ $fail -eq 0 ] && rm -rf "$TMP"
}
trap stop_all EXIT
# start_daemon [env -u VAR]: the daemon, with the given prefix (to take its display away)
start_daemon() {
  _n=$(grep -c listening "$TMP/daemon.log" 2> /dev/null || echo 0)
  "$@" "$BIN" daemon --web-port 0 >> "$TMP/daemon.log" 2>&1 & DPID=$!
  wait_for 100 sh -c "[ \$(grep -c listening '$TMP/daemon.log') -gt $_n ]"
}
stop_daemon() { kill "$DPID" 2> /dev/null; wait "$DPID" 2> /dev/null; DPID=; }
log_count() { grep -c "$1" "$TMP/daemon.log"; }
# log_grows PATTERN N: the log has more than N lines matching PATTERN
log_grows() { [ "$(log_count "$1")" -gt "$2" ]; }
has_text() { "$BIN" list --json | grep -q "$1"; }
copy() { printf "%s" "$1" | xclip -selection clipboard 2> /dev/null; }
doctor_rc() { "$BIN" doctor > "$TMP/doctor.out" 2>&1; echo $?; }

# ---- doctor without a daemon
check "doctor, no daemon: exit 1" [ "$(doctor_rc)" = 1 ]
check "doctor, no daemon: says so" grep -q '^daemon *FAIL *not running' "$TMP/doctor.out"

# ---- with capture running
start_daemon
copy 'alpha first clip'
wait_for 50 has_text 'alpha first clip'
check "capture works" has_text 'alpha first clip'
port=$(grep -o 'web page on http://127.0.0.1:[0-9]*' "$TMP/daemon.log" | tail -1 | grep -o '[0-9]*$')
check "doctor, capturing: exit 0" [ "$(doctor_rc)" = 0 ]
check "doctor: aligned OK lines" grep -q '^capture   OK    x11$' "$TMP/doctor.out"
check "doctor: the daemon's real web port ($port)" grep -q "^web *OK *http://127.0.0.1:$port/" "$TMP/doctor.out"
"$BIN" doctor --json > "$TMP/doctor.json"
check "doctor --json: JSON with ok and the daemon's status" python3 -c "
import json, sys
d = json.load(open('$TMP/doctor.json'))
sys.exit(not (d['ok'] is True and d['daemon']['web_port'] == $port and any(c['check'] == 'capture' and c['level'] == 'OK' for c in d['checks'])))"

# ---- paused with no end
"$BIN" pause
check "doctor, paused for good: exit 1" [ "$(doctor_rc)" = 1 ]
check "doctor, paused: says how to resume" grep -q '^pause *FAIL *paused with no end.*clipseek resume' "$TMP/doctor.out"
"$BIN" resume
check "doctor, resumed: exit 0" [ "$(doctor_rc)" = 0 ]
# a timed pause ends by itself: a warning with its end, not a failure
"$BIN" pause 10m
check "doctor, timed pause: exit 0" [ "$(doctor_rc)" = 0 ]
check "doctor, timed pause: WARN with the end time" grep -q '^pause *WARN *paused until [0-9-]* [0-9:]* ([0-9]* min left)' "$TMP/doctor.out"
"$BIN" resume

# ---- reload when the file changes: an ignore rule written to disk applies to the next clip
n=$(log_count 'config reloaded (the config file changed)')
printf 'ignore_text = ^beta\n' > "$TMP/cfg/config.new" && mv "$TMP/cfg/config.new" "$CLIPSEEK_CONFIG"
wait_for 50 log_grows 'config reloaded (the config file changed)' "$n"
check "file change: reloaded" log_grows 'config reloaded (the config file changed)' "$n"
copy 'beta must be ignored'
wait_for 50 log_grows 'not stored (rejected)' 0
copy 'gamma after the rule'
wait_for 50 has_text 'gamma after the rule'
check "file change: the new ignore rule applies" sh -c "! '$BIN' list --json | grep -q 'beta must be ignored'"
check "file change: other clips still stored" has_text 'gamma after the rule'

# ---- SIGHUP and clipseek reload
n=$(log_count 'config reloaded (SIGHUP)')
kill -HUP "$DPID"
wait_for 50 log_grows 'config reloaded (SIGHUP)' "$n"
check "SIGHUP: reloaded" log_grows 'config reloaded (SIGHUP)' "$n"
check "SIGHUP: daemon still running" kill -0 "$DPID"
"$BIN" reload 2> "$TMP/reload.err"; rc=$?
check "clipseek reload: exit 0" [ $rc -eq 0 ]
check "clipseek reload: the daemon reloaded" grep -q 'config reloaded (clipseek reload)' "$TMP/daemon.log"
check "STATUS counts the reloads" sh -c "'$BIN' doctor --json | grep -q '\"config_reloads\":[3-9]'"

# ---- a bad config is refused; the old rules stay
n=$(log_count 'config not reloaded')
printf 'ignore_text = ^beta\nmax_entries = lots\n' > "$CLIPSEEK_CONFIG"
wait_for 50 log_grows 'config not reloaded' "$n"
check "bad config: the daemon logs why" grep -q 'config not reloaded (the config file changed), the previous settings stay: .*config:2' "$TMP/daemon.log"
"$BIN" reload 2> "$TMP/reload.err"; rc=$?
check "bad config: clipseek reload exits 1" [ $rc -eq 1 ]
check "bad config: and names the line" grep -q 'keeps its previous settings: .*config:2' "$TMP/reload.err"
check "bad config: doctor exit 1" [ "$(doctor_rc)" = 1 ]
check "bad config: doctor says the daemon kept its settings" grep -q '^reload *FAIL *the daemon kept its previous settings' "$TMP/doctor.out"
check "bad config: STATUS config_error" sh -c "'$BIN' doctor --json | grep -q '\"config_error\":\"[^\"]*config:2'"
copy 'beta still ignored'
copy 'delta while the config is bad'
wait_for 50 has_text 'delta while the config is bad'
check "bad config: the previous rules still apply" sh -c "! '$BIN' list --json | grep -q 'beta still ignored'"
check "bad config: capture goes on" has_text 'delta while the config is bad'
printf 'max_entries = 1000\n' > "$CLIPSEEK_CONFIG"
wait_for 50 sh -c "'$BIN' doctor > /dev/null 2>&1"
check "fixed config: doctor exit 0 again" [ "$(doctor_rc)" = 0 ]
copy 'beta allowed again'
wait_for 50 has_text 'beta allowed again'
check "fixed config: the ignore rule is gone" has_text 'beta allowed again'
stop_daemon

# ---- no display: running, but not capturing, must not look fine
start_daemon env -u DISPLAY
check "no display: doctor exit 1" [ "$(doctor_rc)" = 1 ]
check "no display: doctor says capture is not running, and the fix" grep -q '^capture *FAIL *not running.*import-environment DISPLAY' "$TMP/doctor.out"
stop_daemon
env -u DISPLAY "$BIN" daemon --need-capture > /dev/null 2> "$TMP/need.err"; rc=$?
check "daemon --need-capture, no display: exit 1" [ $rc -eq 1 ]
check "daemon --need-capture: names the import command" grep -q 'systemctl --user import-environment DISPLAY WAYLAND_DISPLAY' "$TMP/need.err"

# ---- make install / uninstall, the unit
DEST="$TMP/dest"
mkdir -p "$DEST/home/u/.local/bin"
echo keep > "$DEST/home/u/.local/bin/someone-else"
BUILD=$(dirname "$BIN")
make -s -C "$ROOT" install DESTDIR="$DEST" HOME=/home/u XDG_CONFIG_HOME= BUILD="$BUILD" > "$TMP/install.log" 2>&1; rc=$?
check "make install: exit 0" [ $rc -eq 0 ]
UNIT="$DEST/home/u/.config/systemd/user/clipseek.service"
check "make install: binary, rofi script, unit, desktop entry" sh -c "[ -x '$DEST/home/u/.local/bin/clipseek' ] && [ -x '$DEST/home/u/.local/bin/clipseek-rofi' ] && [ -f '$UNIT' ] && [ -f '$DEST/home/u/.local/share/applications/clipseek-popup.desktop' ]"
check "make install: the binary runs" "$DEST/home/u/.local/bin/clipseek" help > /dev/null
check "make install: the engine in ../libexec/clipseek" [ -x "$DEST/home/u/.local/libexec/clipseek/clipseek-engine" ]
check "make install: the installed front runs the installed engine" sh -c "CLIPSEEK_DATA_DIR='$TMP/data3' '$DEST/home/u/.local/bin/clipseek' doctor | grep -qx 'engine *OK *$DEST/home/u/.local/libexec/clipseek/clipseek-engine'"
check "unit: ExecStart is the installed binary" grep -qx 'ExecStart=/home/u/.local/bin/clipseek daemon --need-capture' "$UNIT"
check "unit: ExecReload sends SIGHUP" grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$UNIT"
if command -v systemd-analyze > /dev/null; then
  # verify wants the ExecStart binary where the unit says: a copy with the staged path
  sed "s|/home/u/.local/bin|$DEST/home/u/.local/bin|" "$UNIT" > "$TMP/clipseek.service"
  mkdir -p "$TMP/rt" && chmod 700 "$TMP/rt"
  XDG_RUNTIME_DIR="$TMP/rt" systemd-analyze verify --user "$TMP/clipseek.service" > "$TMP/verify.out" 2>&1; rc=$?
  check "unit: systemd-analyze verify passes without a warning" sh -c "[ $rc -eq 0 ] && [ ! -s '$TMP/verify.out' ]"
  [ -s "$TMP/verify.out" ] && cat "$TMP/verify.out"
else
  skip=$((skip + 1)); echo "[SKIP] systemd-analyze not installed"
fi
# what a user manager that was never told the display runs: nothing but HOME and the unit's line
cmd=$(sed -n "s|^ExecStart=/home/u/.local/bin/clipseek|$DEST/home/u/.local/bin/clipseek|p" "$UNIT")
env -i HOME="$TMP/home" CLIPSEEK_DATA_DIR="$TMP/data2" $cmd > /dev/null 2> "$TMP/unit.err"; rc=$?
check "unit's ExecStart without a display: exits 1 (the unit fails visibly)" [ $rc -eq 1 ]
check "unit's ExecStart without a display: says what to import" grep -q 'import-environment' "$TMP/unit.err"
make -s -C "$ROOT" uninstall DESTDIR="$DEST" HOME=/home/u XDG_CONFIG_HOME= BUILD="$BUILD" > "$TMP/uninstall.log" 2>&1; rc=$?
check "make uninstall: exit 0" [ $rc -eq 0 ]
find "$DEST" -type f -o -type l > "$TMP/left"
check "make uninstall: only the file that was there before is left" sh -c "[ \"\$(cat '$TMP/left')\" = '$DEST/home/u/.local/bin/someone-else' ]"
# ---- scripts/start.sh, setup.sh's last step, run unchanged with a HOME of its own: make install
# into ~/.local, then the daemon in the background with nohup, until doctor names it. No user
# manager: systemctl --user finds no bus in an empty XDG_RUNTIME_DIR (as under startx without
# systemd; the systemd path is not covered here). start.sh refuses root by `id -u`, and CI runs as
# root: each run gets an `id` on PATH that answers -u with the uid the case needs (0 or 1000) and
# passes anything else to the real id. That is the only override.
ST=$TMP/start
SH_BIN=$ST/home/.local/bin/clipseek
SH_DATA=$ST/home/.local/share/clipseek
mkdir -p "$ST/home/.config/clipseek" "$ST/rt" "$ST/uid0" "$ST/uid1000"
chmod 700 "$ST/rt"
# no web page (its fixed port may be taken on this machine), no OCR
printf 'web = false\nocr = false\n' > "$ST/home/.config/clipseek/config"
for u in 0 1000; do
  printf '#!/bin/sh\n[ "$*" = -u ] && echo %s && exit 0\nexec %s "$@"\n' "$u" "$(command -v id)" > "$ST/uid$u/id"
  chmod +x "$ST/uid$u/id"
done
# sh_env UID CMD...: CMD in the environment start.sh gets from a user; the tested build as BUILD
# (under `make test`/`make asan` MAKEFLAGS stays: its BUILD and OPT hold for start.sh's `make
# install` too)
sh_env() {
  _u=$1; shift
  env -u CLIPSEEK_DATA_DIR -u CLIPSEEK_CONFIG -u XDG_DATA_HOME -u XDG_CONFIG_HOME -u PREFIX \
    -u DBUS_SESSION_BUS_ADDRESS \
    HOME="$ST/home" XDG_RUNTIME_DIR="$ST/rt" BUILD="$BUILD" PATH="$ST/uid$_u:$PATH" "$@"
}
# the pid of the daemon that the installed clipseek's doctor names, or nothing
sh_pid() {
  sh_env 1000 "$SH_BIN" doctor --json 2> /dev/null |
    python3 -c 'import json, sys; print((json.load(sys.stdin)["daemon"] or {}).get("pid", ""))' 2> /dev/null
}
gone() { ! kill -0 "$1" 2> /dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2> /dev/null)" = Z ]; }

sh_env 0 env -u DISPLAY sh "$ROOT/scripts/start.sh" > "$ST/root.out" 2>&1; rc=$?
check "start.sh as root: exit 0, says to run it as yourself" sh -c "[ $rc -eq 0 ] && grep -q 'as yourself, not as root' '$ST/root.out'"
check "start.sh as root: installs nothing, starts nothing" sh -c "[ ! -e '$SH_BIN' ] && [ ! -e '$SH_DATA' ]"

sh_env 1000 env -u DISPLAY sh "$ROOT/scripts/start.sh" > "$ST/nodisp.out" 2>&1; rc=$?
check "start.sh, no display: exit 0, says how to start the daemon later" sh -c \
  "[ $rc -eq 0 ] && grep -q 'no display here' '$ST/nodisp.out' && grep -q 'enable --now clipseek' '$ST/nodisp.out'"
check "start.sh, no display: installed ~/.local/bin/clipseek and its engine" \
  sh -c "[ -x '$SH_BIN' ] && [ -x '$ST/home/.local/libexec/clipseek/clipseek-engine' ]"
check "start.sh, no display: no daemon started" sh -c "[ -z '$(sh_pid)' ] && [ ! -e '$SH_DATA/daemon.log' ]"

sh_env 1000 sh "$ROOT/scripts/start.sh" > "$ST/start.out" 2>&1; rc=$?
SPID=$(sed -n 's/^start: clipseek is running (its log: .* (pid \([0-9]*\))).*/\1/p' "$ST/start.out")
check "start.sh: exit 0, the daemon started in the background (pid ${SPID:-none})" sh -c "[ $rc -eq 0 ] && [ -n '$SPID' ]"
[ $rc -eq 0 ] || cat "$ST/start.out"
check "start.sh: doctor names that daemon" [ "$(sh_pid)" = "$SPID" ]
check "start.sh: printed doctor, daemon and capture OK" sh -c \
  "grep -q '^daemon *OK *running, pid $SPID' '$ST/start.out' && grep -q '^capture *OK *x11' '$ST/start.out'"
check "start.sh: the daemon is the installed engine" \
  [ "$(readlink "/proc/$SPID/exe")" = "$ST/home/.local/libexec/clipseek/clipseek-engine" ]
check "start.sh: its log in the data dir (0700)" sh -c "[ -s '$SH_DATA/daemon.log' ] && [ \$(stat -c %a '$SH_DATA') = 700 ]"
sh_env 1000 sh "$ROOT/scripts/start.sh" > "$ST/again.out" 2>&1; rc=$?
check "start.sh again: exit 0, running already, the same daemon" \
  sh -c "[ $rc -eq 0 ] && grep -q 'running already' '$ST/again.out' && [ '$(sh_pid)' = '$SPID' ]"
if [ -n "$SPID" ]; then
  kill "$SPID"
  check "start.sh's daemon stops on SIGTERM" wait_for 100 gone "$SPID"
  check "and its engine server with it (socket removed)" wait_for 50 test ! -e "$SH_DATA/engine.sock"
  grep -E -A5 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$SH_DATA/daemon.log"
  SPID=
fi
echo "service: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
