#!/bin/sh
# Wayland capture under real compositors: a headless sway 1.7 (wlroots, data-control protocol) with
# Debian 12's wl-clipboard 2.1.0, real application owners (Qt 5 as KeePassXC is, GTK 4 through
# python3-gi; tests/wl_owner.py) and a headless weston (no data-control protocol, as GNOME).
# Covers: text; an image; text/html + image/png (the image is kept); a password offered with
# x-kde-passwordManagerHint (neither read nor stored); a GTK 4 hint that cannot be handed over
# (treated as secret); the popup through fuzzel (Enter copies the newest entry); `copy --paste`
# into a real GTK3 entry (wtype's ctrl+v, GTK's own paste); the popup giving the focus back to
# the window it was opened from (swaymsg), and its clear error when that window is gone; pause
# and an unreadable pause flag (nothing stored); the wl-paste watcher killed (restarted, reported
# in status); a bad config line under the watcher (logged, counted);
# weston (`doctor` fails and says what to do, the daemon reports capture "failed"), and weston with
# DISPLAY set (capture falls back to X11, as through XWayland on GNOME; Xvfb is the X server).
# Compositors refuse to run as root: as root (CI) the test runs them, the daemon and the owners as
# the dedicated user clipseek-wl (created here if missing), with its own XDG_RUNTIME_DIR (0700).
# Every wait polls for evidence with a bound; only processes started here are ended, by PID.
set -u
BIN=${CLIPSEEK:-build/clipseek}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/testlib.sh"

for p in sway weston wl-paste wl-copy wtype python3 setpriv; do
  if ! command -v $p > /dev/null; then
    echo "[SKIP] wayland: $p not installed (scripts/packages.txt)"; echo "wayland: 0 passed, 0 failed, 1 skipped"; exit 0
  fi
done

TMP=$(mktemp -d /tmp/clipseek-wl-XXXXXX)
PIDS=""
D2=0
cleanup() {
  for p in $PIDS; do kill "$p" 2> /dev/null; done
  for p in $PIDS; do for _ in $(seq 50); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done; done
  rm -rf "$TMP"
}
trap cleanup EXIT

if [ "$(id -u)" -eq 0 ]; then
  id clipseek-wl > /dev/null 2>&1 || useradd --system --create-home --shell /usr/sbin/nologin clipseek-wl
  chown clipseek-wl "$TMP"
  AS="setpriv --reuid=$(id -u clipseek-wl) --regid=$(id -g clipseek-wl) --clear-groups"
else
  AS=""
fi
chmod 0711 "$TMP"
RT="$TMP/rt"
mkdir -m 0700 "$RT"
[ -z "$AS" ] || chown clipseek-wl "$RT"
# the binary and the owner where that user can read them (a checkout under /root is not)
cp "$BIN" "$TMP/clipseek"
cp "$(dirname "$BIN")/clipseek-engine" "$TMP/clipseek-engine" # the front runs the engine beside it
cp "$HERE/wl_owner.py" "$TMP/wl_owner.py"
cp "$HERE/gtk3_entry.py" "$TMP/gtk3_entry.py"
chmod 0755 "$TMP/clipseek" "$TMP/clipseek-engine" "$TMP/wl_owner.py" "$TMP/gtk3_entry.py"
DATA="$TMP/data"
CS="$TMP/clipseek"

# the test user's whole environment (no value holds a space)
envs() {
  echo "HOME=$TMP PATH=/usr/bin:/bin:/usr/sbin XDG_RUNTIME_DIR=$RT CLIPSEEK_DATA_DIR=$DATA CLIPSEEK_CONFIG=$TMP/config" \
    "QT_QPA_PLATFORM=wayland GDK_BACKEND=wayland NO_AT_BRIDGE=1"
  # set only when known: sway binds its IPC socket to $SWAYSOCK when that is set, even empty
  [ -z "${WLD:-}" ] || echo "WAYLAND_DISPLAY=$WLD"
  [ -z "${SWAYSOCK:-}" ] || echo "SWAYSOCK=$SWAYSOCK"
  [ -z "${XDISP:-}" ] || echo "DISPLAY=$XDISP"
}
# u CMD...: runs CMD as the test user; ubg CMD...: in the background, BG its PID (exec all the
# way down, so BG is the program itself and it can be ended by that PID)
# shellcheck disable=SC2046
u() { $AS env -i $(envs) "$@"; }
# shellcheck disable=SC2046
ubg() { (exec $AS env -i $(envs) "$@") & BG=$!; PIDS="$BG $PIDS"; }
# wait_for SECONDS CMD...: polls CMD every 0.1 s
wait_for() {
  n=$(($1 * 10)); shift
  while [ "$n" -gt 0 ]; do "$@" > /dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
  return 1
}
status_has() { u "$CS" doctor --json 2> /dev/null | grep -q "$1"; }
listed() { u "$CS" list --limit 50 --reveal 2> /dev/null | grep -q -- "$1"; }
not_listed() { ! listed "$1"; }
image_listed() { u "$CS" list --kind image --json 2> /dev/null | grep -q -- "$1"; }
in_db() { cat "$DATA"/clipseek.db* | grep -a -q -e "$1"; }
not_in_db() { ! in_db "$1"; }
touch "$TMP/config"
[ -z "$AS" ] || chown clipseek-wl "$TMP/config"

# ---- sway, headless ----
cat > "$TMP/sway.conf" << 'EOF'
# nothing: the defaults, one headless output
EOF
ubg env WLR_BACKENDS=headless WLR_LIBINPUT_NO_DEVICES=1 WLR_RENDERER=pixman sway -c "$TMP/sway.conf" > "$TMP/sway.log" 2>&1
if ! wait_for 20 sh -c "ls '$RT' | grep -q '^wayland-[0-9]*\$' && ls '$RT' | grep -q '^sway-ipc'"; then
  bad "sway starts headless"; ls -la "$RT"; tail -5 "$TMP/sway.log"; echo "wayland: $pass passed, $fail failed, $skip skipped"; exit 1
fi
WLD=$(ls "$RT" | grep '^wayland-[0-9]*$' | head -1)
SWAYSOCK=$(ls "$RT"/sway-ipc* | head -1)
ok "sway starts headless ($WLD)"

ubg "$CS" daemon --no-web > "$TMP/daemon.log" 2>&1
DPID=$BG
check "daemon captures through wl-paste" wait_for 20 status_has '"capture":"wayland"'
u "$CS" doctor > "$TMP/doctor" 2>&1
check "doctor names the data-control protocol" grep -q 'zwlr_data_control_manager_v1' "$TMP/doctor"

# ---- text ----
printf 'plain wayland text' | u wl-copy
check "text stored" wait_for 10 listed 'plain wayland text'
u "$CS" list --json --limit 1 > "$TMP/l.json" 2>&1
check "offered types stored with the text" grep -q 'text/plain;charset=utf-8' "$TMP/l.json"

# a session has a keyboard: a virtual one that stays (wtype waiting to type), so fuzzel keeps the
# keyboard focus while other wtype keyboards come and go (it exits when it loses it), and a GTK
# window keeps its wl_keyboard (without any keyboard the seat drops the capability each time a
# wtype exits, and the next wtype's first keys race the client binding a new one)
ubg wtype -s 600000 -k F24
KPID=$BG

# ---- the popup on Wayland: fuzzel lists the entries, Enter copies the first (the newest) ----
# picker_up PID: the popup PID still runs fuzzel (its child sh's child)
picker_up() {
  for c in $(pgrep -P "$1"); do pgrep -x -P "$c" fuzzel > /dev/null && return 0; done
  return 1
}
# fuzzel_enter LOG PID: waits for fuzzel's surface, then presses Return until fuzzel exits
fuzzel_enter() {
  # fuzzel logs its icon theme once it has its outputs and fonts; then Return until it has the
  # keyboard and takes it (a key before its surface is up reaches no one). Not one more: after
  # the pick the window that gets the focus back would take it
  wait_for 20 grep -q 'theme:' "$1"
  for _r in $(seq 50); do picker_up "$2" || break; u wtype -k Return; sleep 0.1; done
}
if command -v fuzzel > /dev/null; then
  printf 'picked in fuzzel' | u "$CS" add - > /dev/null 2>&1
  ubg "$CS" popup --no-paste > "$TMP/fuzzel.log" 2>&1
  PP=$BG
  fuzzel_enter "$TMP/fuzzel.log" "$PP"
  check "popup (fuzzel): closed on Enter" wait_for 10 sh -c "! kill -0 $PP 2> /dev/null"
  u wl-paste --no-newline > "$TMP/picked" 2> /dev/null
  check "popup (fuzzel): the newest entry is on the clipboard" [ "$(cat "$TMP/picked")" = 'picked in fuzzel' ]
  [ "$(cat "$TMP/picked")" = 'picked in fuzzel' ] || { echo "# clipboard: $(cat "$TMP/picked")"; grep -v '^info' "$TMP/fuzzel.log"; }
  kill "$PP" 2> /dev/null
else
  skip=$((skip + 1)); echo "[SKIP] popup on Wayland: fuzzel not installed"
fi

# ---- the paste itself: wtype's ctrl+v into a real GTK3 entry, read back from the widget ----
# GTK's own paste: the entry asks the clipboard owner (wl-copy) through the seat's data device
# gtk NAME: starts a GTK3 entry that writes its text to $TMP/NAME.txt; GPID its PID
gtk() {
  ubg python3 "$TMP/gtk3_entry.py" "$TMP/$1.txt" > "$TMP/$1.out" 2> "$TMP/$1.err"
  GPID=$BG
  wait_for 20 grep -q '^ready' "$TMP/$1.out"
}
# sway's focused window, the PID of its client: the head of each node's focus list, from the
# root down (while a layer surface such as fuzzel has the keyboard no node is marked "focused",
# but the list still says which window has sway's focus)
focused_pid() {
  u swaymsg -r -t get_tree | u python3 -c "
import json, sys
n = json.load(sys.stdin)
while n.get('focus'):
    n = next(c for c in n.get('nodes', []) + n.get('floating_nodes', []) if c['id'] == n['focus'][0])
print(n.get('pid', ''))"
}
focused_is() { [ "$(focused_pid)" = "$1" ]; }
# hotkey: what the key press that opens a popup does in a session: the seat's active keyboard is
# one with a keymap again. After a wtype exits the seat has none, and fuzzel 1.8.2 then gets the
# keyboard focus without a keymap and crashes in libxkbcommon. A new keyboard taps F24 into A
# (seen there) and stays; the previous one is ended.
hotkey() {
  old=$KPID
  n0=$(grep -c '^key F24' "$TMP/a.out")
  ubg wtype -k F24 -s 600000
  KPID=$BG
  wait_for 10 sh -c "[ \$(grep -c '^key F24' '$TMP/a.out') -gt $n0 ]"
  kill "$old" 2> /dev/null
}
# ended PID: waits (bounded) until the popup PID exits and returns its exit status
ended() {
  wait_for 20 sh -c "! kill -0 $1 2> /dev/null" || kill "$1" 2> /dev/null
  wait "$1"
}
has_text() { [ "$(cat "$TMP/$1.txt" 2> /dev/null)" = "$2" ]; }
newest_id() { u "$CS" list --json --limit 1 2> /dev/null | sed -n 's/.*"id":\([0-9]*\).*/\1/p' | head -1; }
if u python3 -c 'import gi; gi.require_version("Gtk", "3.0")' 2> /dev/null; then
  if gtk a; then
    APID=$GPID
    printf 'pasted by copy --paste' | u "$CS" add - > /dev/null 2>&1
    u "$CS" copy "$(newest_id)" --paste 2> "$TMP/paste.err"
    check "copy --paste (sway): exits 0" [ $? -eq 0 ]
    check "copy --paste (sway): GTK3 entry pasted the entry" wait_for 10 has_text a 'pasted by copy --paste'
    has_text a 'pasted by copy --paste' || { echo "# entry: $(cat "$TMP/a.txt" 2> /dev/null)"; cat "$TMP/paste.err"; }
    # focus restore: A has the focus when the popup starts; while fuzzel is open another window
    # (B) takes it, as a window that opens meanwhile would; after the pick the popup gives it
    # back to A and the paste lands there, not in B. sway moves the keyboard to B and back to
    # the picker's layer surface, and fuzzel exits on that focus loss unless told not to
    # (exit-on-keyboard-focus-loss=no in fuzzel.ini does the same); without the restore the
    # keys would go to B, the window sway has focused when the picker closes
    if command -v fuzzel > /dev/null && gtk b; then
      BPID=$GPID
      a0=$(cat "$TMP/a.txt")
      u swaymsg "[pid=$APID] focus" > /dev/null
      check "focus restore: A focused before the popup" wait_for 5 focused_is "$APID"
      printf 'popup pasted into A' | u "$CS" add - > /dev/null 2>&1
      hotkey
      ubg "$CS" popup -- --no-exit-on-keyboard-focus-loss > "$TMP/popup.log" 2>&1
      PP=$BG
      wait_for 20 grep -q 'theme:' "$TMP/popup.log"
      u swaymsg "[pid=$BPID] focus" > /dev/null
      check "focus restore: B took the focus while fuzzel was open" focused_is "$BPID"
      fuzzel_enter "$TMP/popup.log" "$PP"
      ended "$PP"
      check "focus restore: popup exits 0" [ $? -eq 0 ]
      check "focus restore: the paste landed in A" wait_for 10 has_text a "${a0}popup pasted into A"
      check "focus restore: not in B" [ ! -s "$TMP/b.txt" ]
      check "focus restore: A has the focus again" focused_is "$APID"
      grep -v '^info' "$TMP/popup.log" | grep . | sed 's/^/# popup: /'
      # the window is gone by the time the pick is made: a clear error, the entry stays on the
      # clipboard, nothing typed anywhere
      printf 'kept on the clipboard' | u "$CS" add - > /dev/null 2>&1
      : > "$TMP/b.txt"
      hotkey
      ubg "$CS" popup -- --no-exit-on-keyboard-focus-loss > "$TMP/popup2.log" 2>&1
      PP=$BG
      wait_for 20 grep -q 'theme:' "$TMP/popup2.log"
      kill "$APID"
      wait "$APID" 2> /dev/null
      fuzzel_enter "$TMP/popup2.log" "$PP"
      ended "$PP"
      check "window gone: popup exits non-zero" [ $? -ne 0 ]
      check "window gone: the error names the window" grep -q 'could not give the focus back' "$TMP/popup2.log"
      grep -v '^info' "$TMP/popup2.log" | grep . | sed 's/^/# popup: /'
      check "window gone: the entry is on the clipboard" [ "$(u wl-paste --no-newline 2> /dev/null)" = 'kept on the clipboard' ]
      check "window gone: nothing pasted into B" [ ! -s "$TMP/b.txt" ]
      check "window gone: no keys typed into B" sh -c "! grep -q '^key v' '$TMP/b.out'"
      kill "$BPID" 2> /dev/null
    elif command -v fuzzel > /dev/null; then
      bad "focus restore: a second GTK3 entry starts"; tail -3 "$TMP/b.err"
    else
      skip=$((skip + 1)); echo "[SKIP] focus restore under sway: fuzzel not installed"
    fi
    kill "$APID" 2> /dev/null
  else
    bad "copy --paste (sway): a GTK3 entry starts"; tail -3 "$TMP/a.err"
  fi
else
  skip=$((skip + 1)); echo "[SKIP] paste under sway: python3-gi with GTK 3 not installed"
fi
kill "$KPID" 2> /dev/null

# ---- a files entry copied back: offered as text/uri-list, so a file manager pastes files ----
printf 'copy\nfile:///tmp/one%%20file.txt\nfile:///tmp/two.txt' | u "$CS" store --type x-special/gnome-copied-files
FID=$(u "$CS" list --kind files --json --limit 1 2> /dev/null | sed -n 's/.*"id":\([0-9]*\).*/\1/p' | head -1)
if [ -n "$FID" ] && u "$CS" copy "$FID" 2> "$TMP/copy.err"; then
  u wl-paste --list-types > "$TMP/types" 2>&1
  check "files copy back: text/uri-list offered" grep -qx 'text/uri-list' "$TMP/types"
  u wl-paste --no-newline --type text/uri-list > "$TMP/uris" 2> /dev/null
  check "files copy back: the URIs, one CRLF line each" sh -c "printf 'file:///tmp/one%%20file.txt\r\nfile:///tmp/two.txt\r\n' | cmp -s - '$TMP/uris'"
else
  bad "files copy back: a files entry stored and copied"; cat "$TMP/copy.err"
fi

# ---- image ----
# two small PNGs of different sizes (zlib and struct: no imaging library needed)
python3 -c "
import struct, zlib
def png(path, w, h, rgb):
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    raw = b''.join(b'\\0' + bytes(rgb) * w for _ in range(h))
    open(path, 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
                           + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
png('$TMP/red.png', 37, 23, (200, 30, 90))
png('$TMP/green.png', 41, 29, (20, 160, 90))"
chmod 0644 "$TMP/red.png" "$TMP/green.png"
u wl-copy --type image/png < "$TMP/red.png"
check "image stored (37x23)" wait_for 10 image_listed '"width":37,"height":23'

# the owners take the clipboard on a key press: wtype is a virtual keyboard
owner() { # owner NAME MODE ARG: starts it, presses a key until it says SET
  ubg python3 "$TMP/wl_owner.py" "$2" "$3" > "$TMP/$1.out" 2> "$TMP/$1.err"
  OPID=$BG
  wait_for 20 grep -q READY "$TMP/$1.out" || return 1
  n=0
  while [ $n -lt 10 ] && ! grep -q SET "$TMP/$1.out"; do u wtype -s 300 -k k -s 100; n=$((n + 1)); done
  grep -q SET "$TMP/$1.out" && return 0
  bad "$1: the owner ($2) took the clipboard"; tail -3 "$TMP/$1.err"
  return 1
}
stop_owner() { kill "$OPID" 2> /dev/null; wait "$OPID" 2> /dev/null; }

# ---- html + image: the image is kept ----
if owner html gtk-html-image "$TMP/green.png"; then
  check "html+image: the image is stored" wait_for 10 image_listed '"width":41,"height":29'
  check "html+image: the markup is not" not_in_db 'example.org/cat.png'
  # sway's IPC names the focused window's app as the source
  check "html+image: source app from sway" grep -q 'stored entry [0-9]* (image, [0-9]* bytes, from [^)]' "$TMP/daemon.log"
  stop_owner
fi

# ---- a password manager's copy (Qt, as KeePassXC): neither read nor stored ----
if owner qt qt-secret 'pw-Qt-S3cretValue'; then
  check "password: decided" wait_for 10 grep -q 'marks it as a password (x-kde-passwordManagerHint)' "$TMP/daemon.log"
  check "password: not stored" not_listed 'S3cretValue'
  check "password: not in the database files" not_in_db 'pw-Qt-S3cretValue'
  # after SET the owner logs every request: wl-paste --watch's own one (2.1.0 always receives a
  # type for its command, whose stdin clipseek never reads) and clipseek's hint read; a second
  # text request would be clipseek reading the password
  check "password: the hint was read" sh -c "sed -n '/^SET/,\$p' '$TMP/qt.out' | grep -q 'REQUEST x-kde-passwordManagerHint'"
  check "password: its text was asked for once only (wl-paste's own pipe)" \
    [ "$(sed -n '/^SET/,$p' "$TMP/qt.out" | grep -c 'REQUEST text/')" -le 1 ]
  stop_owner
fi

# ---- GTK 4 offers the hint but cannot hand it over: treated as secret ----
if owner gtkhint gtk-hint 'pw-Gtk-S3cretValue'; then
  check "hint not handed over: treated as secret" wait_for 10 grep -q 'value not handed over' "$TMP/daemon.log"
  check "hint not handed over: not stored" not_in_db 'pw-Gtk-S3cretValue'
  stop_owner
fi

# ---- pause, and a pause flag that cannot be read ----
u "$CS" pause
printf 'copied while paused' | u wl-copy
printf 'marker after pause' | u wl-copy
u "$CS" resume
printf 'marker after resume' | u wl-copy
check "resume: stored again" wait_for 10 listed 'marker after resume'
check "pause: nothing stored" not_in_db 'while paused'
# the flag read fails (a meta table whose reads raise an error): fail closed on every path
python3 -c "
import sqlite3; db = sqlite3.connect('$DATA/clipseek.db')
db.executescript(\"ALTER TABLE meta RENAME TO meta_kept; CREATE VIEW meta(key, value) AS SELECT key, value FROM meta_kept UNION ALL SELECT 'paused', json('x');\")"
printf 'copied with an unreadable flag' | u wl-copy
check "unreadable pause flag: the watcher reports it" wait_for 10 grep -q 'fail closed' "$TMP/daemon.log"
check "unreadable pause flag: counted in status" wait_for 5 status_has '"not_stored":[1-9]'
printf 'stored with store' | u "$CS" store 2> "$TMP/store.err"
check "unreadable pause flag: clipseek store refuses" grep -q 'fail closed' "$TMP/store.err"
printf 'added with add' | u "$CS" add - > /dev/null 2> "$TMP/add.err"
check "unreadable pause flag: clipseek add refuses" grep -q 'fail closed' "$TMP/add.err"
check "unreadable pause flag: nothing stored" not_in_db 'unreadable flag\|stored with store\|added with add'
python3 -c "
import sqlite3; db = sqlite3.connect('$DATA/clipseek.db')
db.executescript('DROP VIEW meta; ALTER TABLE meta_kept RENAME TO meta;')"

# ---- a store that fails under the watcher (one bad config line): logged and counted ----
errs() { u "$CS" doctor --json 2> /dev/null | sed 's/.*"not_stored":\([0-9]*\).*/\1/'; }
e0=$(errs)
echo 'no_such_key = 1' > "$TMP/config"
printf 'copied with a bad config' | u wl-copy
check "bad config under the watcher: logged" wait_for 10 grep -q "clip not stored: $TMP/config:1" "$TMP/daemon.log"
errs_above() { [ "$(errs)" -gt "$1" ]; }
check "bad config under the watcher: counted in status" wait_for 5 errs_above "$e0"
: > "$TMP/config"

# ---- the watcher killed: reaped, reported, restarted ----
WPID=$(ps -o pid=,comm= --ppid "$DPID" | awk '$2 == "wl-paste" {print $1}' | head -1) # (not the engine server)
if [ -n "$WPID" ] && [ "$(cat /proc/"$WPID"/comm 2> /dev/null)" = "wl-paste" ]; then
  kill -9 "$WPID"
  check "watcher killed: reported" wait_for 10 grep -q 'wl-paste --watch was killed by signal 9' "$TMP/daemon.log"
  check "watcher killed: restart counted in status" wait_for 10 status_has '"capture_restarts":[1-9]'
  check "watcher killed: running again" wait_for 15 status_has '"capture":"wayland"'
  printf 'after the restart' | u wl-copy
  check "watcher killed: capture resumes" wait_for 10 listed 'after the restart'
else
  bad "watcher killed: wl-paste child of the daemon found"
fi
kill "$DPID"
check "daemon stops" wait_for 10 sh -c "! kill -0 $DPID"
check "daemon ended its wl-paste" sh -c "! kill -0 '$WPID' 2> /dev/null || [ \"\$(cat /proc/'$WPID'/comm)\" != wl-paste ]"

# ---- weston: no data-control protocol ----
WLD=wayland-nodc
SWAYSOCK=
ubg weston --backend=headless-backend.so --socket=wayland-nodc > "$TMP/weston.log" 2>&1
if wait_for 20 test -S "$RT/wayland-nodc"; then
  u "$CS" doctor > "$TMP/doctor2" 2>&1
  check "weston: doctor exits non-zero" [ $? -ne 0 ]
  check "weston: doctor says what to do" grep -q 'no data-control protocol.*Use XWayland capture' "$TMP/doctor2"
  DATA="$TMP/data2"
  ubg "$CS" daemon --no-web > "$TMP/daemon2.log" 2>&1
  D2=$BG
  check "weston: daemon reports capture failed" wait_for 20 status_has '"capture":"failed".*no data-control'
  kill "$D2"
  wait_for 10 sh -c "! kill -0 $D2"
  D2=0
  # with DISPLAY too (the X server XWayland would be; Xvfb here), capture falls back to X11
  if command -v Xvfb > /dev/null && command -v xclip > /dev/null; then
    ubg Xvfb -displayfd 1 -nolisten tcp > "$TMP/xdisplay" 2> "$TMP/xvfb.log"
    if wait_for 20 test -s "$TMP/xdisplay"; then
      XDISP=:$(head -1 "$TMP/xdisplay")
      DATA="$TMP/data3"
      ubg "$CS" daemon --no-web > "$TMP/daemon3.log" 2>&1
      D2=$BG
      check "weston + DISPLAY: falls back to X11" wait_for 20 status_has '"capture":"x11"'
      check "weston + DISPLAY: X11 capture running" wait_for 10 grep -q 'capturing the X11 clipboard' "$TMP/daemon3.log"
      # doctor fails with no daemon capturing: it is asked once the daemon captures through X11
      u "$CS" doctor > "$TMP/doctor3" 2>&1
      check "weston + DISPLAY: doctor passes" [ $? -eq 0 ]
      check "weston + DISPLAY: doctor says XWayland" grep -q 'capturing through XWayland' "$TMP/doctor3"
      printf 'copied through xwayland' | u xclip -selection clipboard
      check "weston + DISPLAY: clip stored" wait_for 10 listed 'copied through xwayland'
    else
      bad "Xvfb starts"; tail -3 "$TMP/xvfb.log"
    fi
  else
    skip=$((skip + 1)); echo "[SKIP] XWayland fallback: Xvfb or xclip not installed"
  fi
else
  bad "weston starts headless"; tail -3 "$TMP/weston.log"
fi

# the daemons' logs go away with $TMP: show sanitizer reports from them (make asan scans this output)
if [ "$D2" -gt 0 ]; then
  kill "$D2" 2> /dev/null
  wait_for 10 sh -c "! kill -0 $D2" 2> /dev/null
fi
grep -h -A5 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP"/*.log 2> /dev/null
echo "wayland: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
