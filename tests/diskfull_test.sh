#!/bin/sh
# A full disk under a running daemon, on a real full file system (a 24 MiB tmpfs mounted in a
# private user and mount namespace, `unshare -rm`): searches through the daemon keep working from
# what is indexed and full text, and say "index out of date: disk full"; a clip captured from X11
# that cannot be stored is logged "clip not stored: ..." and counted in STATUS ("not_stored").
# Ends with "N passed, N failed, N skipped".
set -u
BIN=$(readlink -f "${CLIPSEEK:-build/clipseek}")
FX=$(readlink -f "${CLIPSEEK_FIXTURES:-../shared/fixtures}")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/testlib.sh"
if [ -z "${CLIPSEEK_IN_NS:-}" ]; then
  # namespaces are a property of the machine, not a fixture: without them the test cannot run
  if ! unshare -rm true 2> /dev/null; then
    echo "[SKIP] diskfull: no user/mount namespaces here (unshare -rm)"; echo "diskfull: 0 passed, 0 failed, 1 skipped"; exit 0
  fi
  exec unshare -rm env CLIPSEEK_IN_NS=1 CLIPSEEK="$BIN" CLIPSEEK_FIXTURES="$FX" sh "$HERE/diskfull_test.sh"
fi
if [ ! -d "$FX/toyworld-clip" ]; then
  skip_fixture 1 "diskfull: toyworld fixture not found"
  echo "diskfull: $pass passed, $fail failed, $skip skipped"; [ "$fail" -eq 0 ]; exit
fi
TMP=$(mktemp -d /tmp/clipseek-diskfull-XXXXXX)
DPID= XPID=
trap '[ -n "$DPID" ] && kill "$DPID" 2> /dev/null; [ -n "$XPID" ] && kill "$XPID" 2> /dev/null; umount "$TMP/fs" 2> /dev/null; rm -rf "$TMP"' EXIT
mkdir "$TMP/fs"
if ! mount -t tmpfs -o size=24m,mode=0700 clipseek-test "$TMP/fs" 2> /dev/null; then
  echo "[SKIP] diskfull: cannot mount a tmpfs in the namespace here"; echo "diskfull: 0 passed, 0 failed, 1 skipped"; exit 0
fi
export CLIPSEEK_DATA_DIR="$TMP/fs/data" CLIPSEEK_CONFIG="$TMP/config"
unset CLIPSEEK_MODEL WAYLAND_DISPLAY
printf 'ocr = false\n' > "$TMP/config"

X=0
if command -v Xvfb > /dev/null && command -v xclip > /dev/null; then
  Xvfb -displayfd 3 -screen 0 320x240x24 -nolisten tcp 3> "$TMP/display" > /dev/null 2>&1 &
  XPID=$!
  for _k in $(seq 100); do [ -s "$TMP/display" ] && break; sleep 0.05; done
  [ -s "$TMP/display" ] && X=1 && export DISPLAY=":$(cat "$TMP/display")"
fi
[ "$X" = 1 ] || unset DISPLAY

"$BIN" model use "$FX/toyworld-clip" > /dev/null
for t in 'a red star' 'a blue ring' 'a green cross'; do printf '%s' "$t" | "$BIN" add - > /dev/null 2>&1; done
"$BIN" index > /dev/null 2>&1
"$BIN" daemon --no-web > "$TMP/daemon.log" 2>&1 &
DPID=$!
for _k in $(seq 200); do grep -q 'indexing with' "$TMP/daemon.log" 2> /dev/null && break; sleep 0.05; done
check "search through the daemon (disk not full)" sh -c "'$BIN' search 'a red star' --limit 1 --json 2> '$TMP/e0' | grep -q '\"id\":1,' && ! grep -q 'out of date' '$TMP/e0'"

# the search matrix is a cache: without it, the next search must rebuild it, on a full disk
rm -f "$TMP/fs/data/vectors/"*
dd if=/dev/zero of="$TMP/fs/filler" bs=64k > /dev/null 2>&1
dd if=/dev/zero of="$TMP/fs/filler2" bs=1 > /dev/null 2>&1
"$BIN" search 'star' --json > "$TMP/out" 2> "$TMP/err"
rc=$?
check "search through the daemon on a full disk succeeds" [ "$rc" -eq 0 ]
check "it finds by full text" grep -q '"id":1,' "$TMP/out"
check "it says the index is out of date" grep -q 'index out of date: disk full' "$TMP/err"

if [ "$X" = 1 ]; then
  printf 'copied while the disk is full %s' "$$" | xclip -selection clipboard 2> /dev/null
  for _k in $(seq 200); do grep -q 'clip not stored' "$TMP/daemon.log" && break; sleep 0.05; done
  check "a clip that cannot be stored is logged 'clip not stored'" grep -q 'clip not stored: .*full' "$TMP/daemon.log"
  check "and counted in STATUS" sh -c "'$BIN' doctor --json 2> /dev/null | grep -q '\"not_stored\":1,'"
else
  skip=$((skip + 2)); echo "[SKIP] capture on a full disk: Xvfb or xclip not installed"
fi
kill "$DPID"; wait "$DPID" 2> /dev/null; DPID=
echo "diskfull: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
