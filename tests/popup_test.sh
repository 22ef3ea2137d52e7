#!/bin/sh
# The hotkey popup and `copy --paste` under a real X server (Xvfb), with real rofi, xdotool, xclip
# and a real GTK3 text widget (tests/gtk3_entry.py) to paste into, read back from what the widget
# holds:
#   copy --paste ID types ctrl+v into the focused widget; popup picks with rofi (driven by its own
#   -filter/-auto-select, and by keys typed into it), gives the focus back to the window that had
#   it before rofi opened (the test moves the focus away while rofi is open) and pastes there;
#   Escape closes rofi and pastes nothing; the rofi script lists image rows with their thumbnail as
#   icon and ranks Shift+Enter queries like `clipseek search`; in an out-of-tree build folder the
#   popup finds the rofi script beside itself; bad --keys are refused. On the same
#   X server a real CopyQ writes a tab file that `import --from copyq` reads (order, duplicates, a
#   cut file refused).
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

# an out-of-tree build (make BUILD=DIR): the front, the engine and the rofi script side by side in
# a folder with no ../scripts, and no clipseek-rofi on PATH: the popup finds the script beside it.
# The rofi script's commands go through the front beside it (which a daemon's engine server would
# answer): CLIPSEEK_ENGINE names a spy that logs each command the front execs, then runs the engine.
B=$(dirname "$BIN")
check "the build folder holds the rofi script beside the binaries" [ -x "$B/clipseek-rofi" ]
mkdir -p "$TMP/oot/b"
cp "$BIN" "$B/clipseek-engine" "$B/clipseek-rofi" "$TMP/oot/b/" 2> /dev/null
printf '#!/bin/sh\necho "$*" >> "%s/execd"\nexec "%s" "$@"\n' "$TMP" "$TMP/oot/b/clipseek-engine" > "$TMP/spy"
chmod +x "$TMP/spy"
NOROFI=$(echo "$PATH" | tr ':' '\n' | while read -r d; do [ -e "$d/clipseek-rofi" ] || printf '%s:' "$d"; done)
target c
PATH=${NOROFI%:} CLIPSEEK_ENGINE="$TMP/spy" "$TMP/oot/b/clipseek" popup -- -filter 'invoice' -auto-select \
  > "$TMP/popup4.log" 2>&1
wait_for 50 holds c 'the quarterly invoice number 4711'
check "out-of-tree build: the popup finds clipseek-rofi beside it and pastes" holds c 'the quarterly invoice number 4711'
[ -s "$TMP/popup4.log" ] && cat "$TMP/popup4.log"
check "the rofi script's search went through the front" grep -q '^search .*--format tsv' "$TMP/execd"

# bad input: refused with a message, nothing pasted
"$BIN" copy "$id2" --paste --keys 'ctrl+v;rm' > /dev/null 2> "$TMP/badkeys"; rc=$?
check "bad --keys: refused" sh -c "[ $rc -ne 0 ] && grep -q 'not a key name' '$TMP/badkeys'"
"$BIN" copy 99999 --paste > /dev/null 2>&1; rc=$?
check "unknown id: refused" [ $rc -ne 0 ]
check "bad input: nothing pasted" holds b 'meeting notes about the red dialog'
# import --from copyq: a tab file written by a real CopyQ (6.4 in Debian 12) on this X server,
# with its own home; clipboard watching off, so it holds only what is added here
if command -v copyq > /dev/null; then
  CQ="$TMP/copyq-home"
  mkdir -p "$CQ/.config/copyq"
  printf '[Options]\ncheck_clipboard=false\ncheck_selection=false\n' > "$CQ/.config/copyq/copyq.conf"
  cq() { env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$CQ" QT_QPA_PLATFORM=xcb copyq "$@"; }
  (exec env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$CQ" QT_QPA_PLATFORM=xcb copyq > "$TMP/copyq.log" 2>&1) &
  CQPID=$!
  PIDS="$PIDS $CQPID"
  if wait_for 100 cq eval 1; then
    convert -size 33x21 xc:blue "png:$TMP/blue.png"
    cq add 'copyq first' 'copyq second' > /dev/null 2>&1
    cq write image/png - < "$TMP/blue.png" > /dev/null 2>&1
    cq exit > /dev/null 2>&1
    wait_for 100 sh -c "! kill -0 $CQPID 2> /dev/null"
    TAB="$CQ/.config/copyq/copyq_tab_JmNsaXBib2FyZA==.dat"
    n0=$("$BIN" list --json --limit 1000 2> /dev/null | grep -o '"id":' | wc -l)
    head -c 200 "$TAB" > "$TMP/cut.dat"
    "$BIN" import --from copyq "$TMP/cut.dat" > /dev/null 2> "$TMP/cut.err"
    check "copyq import: a cut file is refused" sh -c "[ $? -ne 0 ] && grep -q 'nothing imported' '$TMP/cut.err'"
    check "copyq import: a cut file imports nothing" \
      [ "$("$BIN" list --json --limit 1000 2> /dev/null | grep -o '"id":' | wc -l)" -eq "$n0" ]
    "$BIN" import --from copyq "$TAB" > /dev/null 2> "$TMP/cq1.err"
    check "copyq import: exits 0" [ $? -eq 0 ]
    check "copyq import: 3 added" grep -q '3 added, 0 already present, 0 skipped' "$TMP/cq1.err"
    "$BIN" list --json --limit 3 > "$TMP/cq.json" 2> /dev/null
    python3 -c "
import json, sys
e = json.load(open(sys.argv[1]))
assert [x['kind'] for x in e] == ['image', 'text', 'text'], e
assert (e[0]['width'], e[0]['height']) == (33, 21), e[0]
assert 'copyq second' in json.dumps(e[1]) and 'copyq first' in json.dumps(e[2]), e" "$TMP/cq.json" 2> "$TMP/cq.py.err"
    check "copyq import: CopyQ's order kept (its newest, the image, is the newest here)" [ $? -eq 0 ]
    [ -s "$TMP/cq.py.err" ] && tail -2 "$TMP/cq.py.err"
    "$BIN" import --from copyq "$TAB" > /dev/null 2> "$TMP/cq2.err"
    check "copyq import: again, nothing duplicated" grep -q '0 added, 3 already present' "$TMP/cq2.err"
  else
    bad "copyq import: CopyQ's server starts"; tail -3 "$TMP/copyq.log"
  fi
else
  skip=$((skip + 1)); echo "[SKIP] copyq import: copyq not installed"
fi
echo "popup: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
