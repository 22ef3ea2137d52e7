#!/bin/sh
# X11 capture and durability, with a real X server (Xvfb) and xclip:
#   text, image/png, a 3 MB PNG (INCR transfer), an owner marking its clip secret (not stored, data
#   never requested), an owner that never answers (the daemon stays responsive), copy back;
#   then kill -9 the daemon repeatedly while 1,000 clips stream in: every clip the daemon
#   acknowledged is present with its blob, integrity_check ok, no orphan blobs.
# Ends with "N passed, N failed, N skipped". Prints measured capture latency (not asserted).
set -u
BIN=$(readlink -f "${CLIPSEEK:-build/clipseek}")
HELPER=$(readlink -f "${HELPER:-build/x11_helper}")
CLIPS=${DURABILITY_CLIPS:-1000}
. "$(dirname "$0")/testlib.sh"
if ! command -v Xvfb > /dev/null || ! command -v xclip > /dev/null; then
  echo "[SKIP] x11: Xvfb or xclip not installed"; echo "x11: 0 passed, 0 failed, 1 skipped"; exit 0
fi
TMP=$(mktemp -d /tmp/clipseek-x11-XXXXXX)
export CLIPSEEK_DATA_DIR="$TMP/data"
unset WAYLAND_DISPLAY CLIPSEEK_MODEL
Xvfb -displayfd 3 -screen 0 640x480x24 -nolisten tcp 3> "$TMP/display" > /dev/null 2>&1 &
XPID=$!
for i in $(seq 50); do [ -s "$TMP/display" ] && break; sleep 0.1; done
export DISPLAY=":$(cat "$TMP/display")"
DPID=
# (helpers use their own loop variables: shell variables are global)
start_daemon() {
  _n=$(grep -c listening "$TMP/daemon.log" 2> /dev/null || echo 0)
  "$BIN" daemon --web-port 0 >> "$TMP/daemon.log" 2>&1 & DPID=$!
  for _k in $(seq 100); do [ "$(grep -c listening "$TMP/daemon.log")" -gt "$_n" ] && break; sleep 0.05; done
}
stop_all() { [ -n "$DPID" ] && kill "$DPID" 2> /dev/null; wait "$DPID" 2> /dev/null; kill "$XPID" 2> /dev/null; pkill -f "x11_helper own" 2> /dev/null; [ $fail -eq 0 ] && rm -rf "$TMP"; }
trap stop_all EXIT
# wait_for N CMD...: retries CMD for up to N tenths of a second
wait_for() { _w=$1; shift; for _j in $(seq "$_w"); do "$@" && return 0; sleep 0.1; done; return 1; }
has_text() { "$BIN" list --json | grep -q "$1"; }
start_daemon

t0=$(date +%s%N)
printf 'first clip from xclip' | xclip -selection clipboard
wait_for 50 has_text 'first clip from xclip'
t1=$(date +%s%N)
check "text captured" has_text 'first clip from xclip'
echo "# capture latency (xclip returned -> entry committed and listed): $(( (t1 - t0) / 1000000 )) ms"
"$HELPER" png "$TMP/small.png" 64 48 1
xclip -selection clipboard -t image/png -i "$TMP/small.png"
wait_for 50 has_text '"width":64,"height":48'
check "image/png captured" has_text '"width":64,"height":48'
"$HELPER" png "$TMP/big.png" 1100 900 2
big=$(stat -c %s "$TMP/big.png")
t0=$(date +%s%N)
xclip -selection clipboard -t image/png -i "$TMP/big.png"
wait_for 100 has_text '"width":1100,"height":900'
t1=$(date +%s%N)
check "large image via INCR ($big bytes)" has_text '"width":1100,"height":900'
echo "# large image ($big bytes) capture latency: $(( (t1 - t0) / 1000000 )) ms"
id=$("$BIN" list --kind image --limit 1 --json | grep -o '"id":[0-9]*' | cut -d: -f2)
"$BIN" decode "$id" > "$TMP/big.out"
check "large image bytes intact" cmp -s "$TMP/big.out" "$TMP/big.png"

# a password manager's secret
"$HELPER" own-secret 'hunter2 secret password' "$TMP/asked" 3 > "$TMP/owner.out" &
OPID=$!
wait_for 30 grep -q owning "$TMP/owner.out"
sleep 1
check "secret not stored" sh -c "! '$BIN' list --json | grep -q hunter2"
check "secret data never requested" sh -c "grep -q x-kde-passwordManagerHint '$TMP/asked' && ! grep -q UTF8_STRING '$TMP/asked'"
check "skip logged" grep -q "marked secret" "$TMP/daemon.log"
wait "$OPID"

# an owner that never answers
"$HELPER" own-silent 6 > "$TMP/silent.out" &
wait_for 30 grep -q owning "$TMP/silent.out"
t0=$(date +%s%N)
"$BIN" doctor > "$TMP/doctor" 2>&1
t1=$(date +%s%N)
check "daemon answers while an owner hangs" grep -q "daemon       running" "$TMP/doctor"
echo "# doctor round trip during a hung owner: $(( (t1 - t0) / 1000000 )) ms"
wait_for 40 grep -q "did not answer" "$TMP/daemon.log"
check "hung owner timed out" grep -q "did not answer" "$TMP/daemon.log"
pkill -f "x11_helper own-silent"
printf 'after the hang' | xclip -selection clipboard
check "capture continues after a hung owner" wait_for 50 has_text 'after the hang'

# copy back
"$BIN" copy 1
check "copy back round trip" [ "$(xclip -selection clipboard -o)" = "first clip from xclip" ]

# the CLI and the daemon at once: an import while clips are captured, then indexing through the daemon
FX=${CLIPSEEK_FIXTURES:-../shared/fixtures}
if [ -d "$FX/toyworld-eval" ] && [ -d "$FX/toyworld-clip" ]; then
  "$BIN" model use "$FX/toyworld-clip" > /dev/null
  before=$("$BIN" stats --json | sed 's/.*"entries":\([0-9]*\).*/\1/')
  "$BIN" add "$FX/toyworld-eval" > /dev/null 2>&1 &
  APID=$!
  for k in 1 2 3 4 5 6 7 8 9 10; do printf 'concurrent clip %d' $k | xclip -selection clipboard; sleep 0.02; done
  wait "$APID"
  check "import during capture succeeds" [ $? -eq 0 ]
  sleep 0.5
  after=$("$BIN" stats --json | sed 's/.*"entries":\([0-9]*\).*/\1/')
  check "both the import and the clips landed" [ $((after - before)) -ge 55 ]
  "$BIN" index --wait 2> "$TMP/iw"
  check "index --wait through the daemon" grep -q "the daemon has indexed everything" "$TMP/iw"
  v=$("$BIN" stats --json | sed 's/.*"vectors":\([0-9]*\).*/\1/')
  check "daemon wrote the vectors" [ "$v" -ge 55 ]
else
  skip=$((skip + 1)); echo "[SKIP] concurrency and indexing: toyworld fixtures not found"
fi

# durability: kill -9 while clips stream in
i=0
while [ $i -lt "$CLIPS" ]; do
  if [ $((i % 25)) -eq 7 ]; then
    "$HELPER" png "$TMP/d.png" 40 30 $((1000 + i)); xclip -selection clipboard -t image/png -i "$TMP/d.png"
  else
    printf 'durability clip %d' $i | xclip -selection clipboard
  fi
  if [ $((i % 100)) -eq 50 ]; then kill -9 "$DPID"; wait "$DPID" 2> /dev/null; start_daemon; fi
  sleep 0.01
  i=$((i + 1))
done
sleep 0.5
kill -9 "$DPID"; wait "$DPID" 2> /dev/null
grep -o 'stored entry [0-9]*' "$TMP/daemon.log" | awk '{print $3}' | sort > "$TMP/acked"
start_daemon
"$BIN" list --json | grep -o '"id":[0-9]*' | cut -d: -f2 | sort > "$TMP/present"
missing=$(comm -23 "$TMP/acked" "$TMP/present" | wc -l)
echo "# durability: $(wc -l < "$TMP/acked") clips acknowledged across $((CLIPS / 100 + 1)) kill -9s, $missing missing"
check "every acknowledged clip present" [ "$missing" -eq 0 ]
check "many clips acknowledged" [ "$(wc -l < "$TMP/acked")" -gt $((CLIPS / 2)) ]
"$BIN" check --integrity --json > "$TMP/check.json"
check "integrity ok" grep -q '"integrity":"ok"' "$TMP/check.json"
check "no missing blobs" grep -q '"missing_blobs":0' "$TMP/check.json"
check "no orphan blobs" grep -q '"orphan_blobs":0' "$TMP/check.json"
echo "x11: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
