#!/bin/sh
# The hotkey popup and `copy --paste` under a real X server (Xvfb), with real rofi, xdotool, xclip
# and a real GTK3 text widget (tests/gtk3_entry.py) to paste into, read back from what the widget
# holds:
#   copy --paste ID types ctrl+v into the focused widget; popup picks with rofi (driven by its own
#   -filter/-auto-select, and by keys typed into it), gives the focus back to the window that had
#   it before rofi opened (the test moves the focus away while rofi is open) and pastes there;
#   Escape closes rofi and pastes nothing; the rofi script lists image rows with their thumbnail as
#   icon and ranks Shift+Enter queries like `clipseek search`; bad --keys are refused.
# Every wait polls for evidence with a bound; only processes this script started are ended, by PID.
set -u
BIN=$(readlink -f "${CLIPSEEK:-build/clipseek}")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/testlib.sh"
GTKPY=${GTK_PYTHON:-/usr/bin/python3}
for p in Xvfb xclip xdotool rofi convert; do
  command -v $p > /dev/null || { echo "[SKIP] popup: $p not installed"; echo "popup: 0 passed, 0 failed, 1 skipped"; exit 0; }
done
if ! "$GTKPY" -c 'import gi; gi.require_version("Gtk", "3.0")' 2> /dev/null; then
  echo "[SKIP] popup: python3-gi with GTK 3 not installed"; echo "popup: 0 passed, 0 failed, 1 skipped"; exit 0
fi
TMP=$(mktemp -d /tmp/clipseek-popup-XXXXXX)
export CLIPSEEK_DATA_DIR="$TMP/data" CLIPSEEK_CONFIG="$TMP/config" XDG_CACHE_HOME="$TMP/cache" XDG_RUNTIME_DIR="$TMP"
: > "$CLIPSEEK_CONFIG"
unset WAYLAND_DISPLAY SWAYSOCK CLIPSEEK_MODEL
start_xvfb
PIDS=
stop_all() {
  for _p in $PIDS; do kill "$_p" 2> /dev/null; wait "$_p" 2> /dev/null; done
  kill "$XPID" 2> /dev/null
  [ $fail -eq 0 ] && rm -rf "$TMP"
}
trap stop_all EXIT

# target NAME: a GTK3 entry writing its text to $TMP/NAME.txt; sets WID to its X window
target() {
  "$GTKPY" "$HERE/gtk3_entry.py" "$TMP/$1.txt" > "$TMP/$1.out" 2> "$TMP/$1.err" &
  PIDS="$PIDS $!"
  wait_for 100 grep -q '^ready' "$TMP/$1.out"
  WID=$(awk '/^ready/ {print $2}' "$TMP/$1.out")
}
holds() { [ -f "$TMP/$1.txt" ] && [ "$(cat "$TMP/$1.txt")" = "$2" ]; }
rofi_open() { xdotool search --class rofi > /dev/null 2>&1; }
focus_is() { [ "$(xdotool getwindowfocus -f 2> /dev/null)" = "$1" ]; }

id1=$(printf 'the quarterly invoice number 4711' | "$BIN" add - 2> /dev/null)
id2=$(printf 'meeting notes about the red dialog' | "$BIN" add - 2> /dev/null)
id3=$(printf 'https://example.org/paste-me' | "$BIN" add - 2> /dev/null)

# copy --paste into the focused widget
target a
WA=$WID
check "GTK entry is up with the focus" focus_is "$WA"
"$BIN" copy "$id1" --paste
wait_for 50 holds a 'the quarterly invoice number 4711'
check "copy --paste: the widget holds the entry" holds a 'the quarterly invoice number 4711'
check "copy --paste: the clipboard holds it too" sh -c "[ \"\$(xclip -o -selection clipboard)\" = 'the quarterly invoice number 4711' ]"

# popup, rofi selecting by itself
target b
WB=$WID
"$BIN" popup -- -filter 'red dialog' -auto-select > "$TMP/popup1.log" 2>&1
wait_for 50 holds b 'meeting notes about the red dialog'
check "popup (-filter/-auto-select): pasted into the focused widget" holds b 'meeting notes about the red dialog'

# popup with keys typed into rofi, while the focus moves to another window: it must come back
xdotool windowfocus --sync "$WA"
"$BIN" popup -- -filter 'paste-me' > "$TMP/popup2.log" 2>&1 &
PP=$!; PIDS="$PIDS $PP"
wait_for 100 rofi_open
xdotool windowfocus --sync "$WB"
xdotool key Return
wait_for 100 sh -c "! kill -0 $PP 2> /dev/null"
wait_for 50 holds a 'the quarterly invoice number 4711https://example.org/paste-me'
check "popup: pasted into the window that had the focus before it opened" holds a 'the quarterly invoice number 4711https://example.org/paste-me'
check "popup: not into the window focused meanwhile" holds b 'meeting notes about the red dialog'
check "popup: exited 0" wait "$PP"

# Escape closes it and pastes nothing
printf 'before escape' | xclip -selection clipboard
xdotool windowfocus --sync "$WB"
"$BIN" popup > "$TMP/popup3.log" 2>&1 &
PP=$!; PIDS="$PIDS $PP"
wait_for 100 rofi_open
xdotool key Escape
wait_for 100 sh -c "! kill -0 $PP 2> /dev/null"
check "Escape: popup closed" sh -c "! kill -0 $PP 2> /dev/null"
check "Escape: nothing pasted" holds b 'meeting notes about the red dialog'
check "Escape: clipboard untouched" sh -c "[ \"\$(xclip -o -selection clipboard)\" = 'before escape' ]"

# the rofi rows: an image with its thumbnail as icon, searches ranked as `clipseek search`
convert -size 40x30 xc:red "png:$TMP/red.png"
idi=$("$BIN" add "$TMP/red.png" 2> /dev/null)
ROFI_RETV=0 CLIPSEEK="$BIN" sh "$HERE/../scripts/clipseek-rofi" > "$TMP/rows" 2> "$TMP/rows.err"
icon=$(tr '\0\037' '\n\n' < "$TMP/rows" | grep -A1 '^icon$' | tail -1)
check "rofi rows: the image row has an icon file" sh -c "[ -s '$icon' ] && tr '\0\037' '\n\n' < '$TMP/rows' | grep -qx 'info' && tr '\0\037' '\n\n' < '$TMP/rows' | grep -qx '$idi'"
check "rofi rows: the icon is the decoded image" cmp -s "$icon" "$TMP/red.png"
ROFI_RETV=2 CLIPSEEK="$BIN" sh "$HERE/../scripts/clipseek-rofi" 'invoice' > "$TMP/q" 2> /dev/null
"$BIN" search 'invoice' --format tsv | cut -f1 > "$TMP/q.want"
tr '\0\037' '\n\n' < "$TMP/q" | awk 'prev == "info" {print} {prev = $0}' > "$TMP/q.got"
check "rofi query: same entries, same order as search" sh -c "[ -s '$TMP/q.want' ] && cmp -s '$TMP/q.want' '$TMP/q.got'"

# bad input: refused with a message, nothing pasted
"$BIN" copy "$id2" --paste --keys 'ctrl+v;rm' > /dev/null 2> "$TMP/badkeys"; rc=$?
check "bad --keys: refused" sh -c "[ $rc -ne 0 ] && grep -q 'not a key name' '$TMP/badkeys'"
"$BIN" copy 99999 --paste > /dev/null 2>&1; rc=$?
check "unknown id: refused" [ $rc -ne 0 ]
check "bad input: nothing pasted" holds b 'meeting notes about the red dialog'
echo "popup: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
