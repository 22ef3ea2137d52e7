#!/bin/sh
# X11 capture and durability, with a real X server (Xvfb) and xclip:
#   text, image/png, a 3 MB PNG (INCR transfer), an owner marking its clip secret (not stored, data
#   never requested), an owner advertising the hint but refusing it (not stored), an owner that
#   never answers (the daemon stays responsive), copy back; hostile owners (a trickling INCR, an
#   endless TARGETS INCR) while a normal clip is copied, SIGTERM during such a transfer; Xvfb
#   killed and restarted (capture resumes, the web page keeps answering); a GTK3 owner's
#   application recorded; whitespace-only clips and PRIMARY bursts (one clip, read after the mouse
#   button is released); then kill -9 the daemon repeatedly while 1,000 clips stream in: every
#   clip the daemon acknowledged is present with its blob, integrity_check ok, no orphan blobs.
# Every wait polls for evidence with a bound; only processes this script started are ended, by PID.
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
export CLIPSEEK_CONFIG="$TMP/config"
printf 'primary = true\ndebounce_ms = 300\nstore_secrets = false\n' > "$CLIPSEEK_CONFIG"
unset WAYLAND_DISPLAY CLIPSEEK_MODEL
Xvfb -displayfd 3 -screen 0 640x480x24 -nolisten tcp 3> "$TMP/display" > /dev/null 2>&1 &
XPID=$!
for i in $(seq 50); do [ -s "$TMP/display" ] && break; sleep 0.1; done
DNUM=$(cat "$TMP/display")
export DISPLAY=":$DNUM"
DPID=
PIDS=    # every helper process this script starts, ended by PID at exit
# (helpers use their own loop variables: shell variables are global)
start_daemon() {
  _n=$(grep -c listening "$TMP/daemon.log" 2> /dev/null || echo 0)
  "$BIN" daemon --web-port 0 >> "$TMP/daemon.log" 2>&1 & DPID=$!
  for _k in $(seq 100); do [ "$(grep -c listening "$TMP/daemon.log")" -gt "$_n" ] && break; sleep 0.05; done
}
stop_all() {
  [ -n "$DPID" ] && kill "$DPID" 2> /dev/null; wait "$DPID" 2> /dev/null
  for _p in $PIDS; do kill "$_p" 2> /dev/null; done
  kill "$XPID" 2> /dev/null
  [ $fail -eq 0 ] && rm -rf "$TMP"
}
trap stop_all EXIT
# wait_for N CMD...: retries CMD for up to N tenths of a second
wait_for() { _w=$1; shift; for _j in $(seq "$_w"); do "$@" && return 0; sleep 0.1; done; return 1; }
has_text() { "$BIN" list --json | grep -q "$1"; }
log_has() { grep -q "$1" "$TMP/daemon.log"; }
alive() { kill -0 "$1" 2> /dev/null; }
dead() { ! kill -0 "$1" 2> /dev/null; }
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
wait_for 50 log_has "marked secret"
check "secret not stored" sh -c "! '$BIN' list --json --reveal | grep -q hunter2"
check "secret data never requested" sh -c "grep -q x-kde-passwordManagerHint '$TMP/asked' && ! grep -q UTF8_STRING '$TMP/asked'"
check "skip logged" grep -q "marked secret" "$TMP/daemon.log"
wait "$OPID"

# an owner that advertises the hint but will not hand it over: treated as secret
"$HELPER" own-hint-refused 'refused hint password' "$TMP/asked2" 30 > "$TMP/owner2.out" &
OPID=$!; PIDS="$PIDS $OPID"
wait_for 30 grep -q owning "$TMP/owner2.out"
wait_for 50 log_has "did not hand it over"
check "hint refused: treated as secret, logged" log_has "did not hand it over"
check "hint refused: not stored" sh -c "! '$BIN' list --json --reveal | grep -q 'refused hint'"
check "hint refused: data never requested" sh -c "grep -q x-kde-passwordManagerHint '$TMP/asked2' && ! grep -q UTF8_STRING '$TMP/asked2'"
kill "$OPID" 2> /dev/null; wait "$OPID" 2> /dev/null

# an owner that never answers
"$HELPER" own-silent 6 > "$TMP/silent.out" &
SPID=$!; PIDS="$PIDS $SPID"
wait_for 30 grep -q owning "$TMP/silent.out"
t0=$(date +%s%N)
"$BIN" doctor > "$TMP/doctor" 2>&1
t1=$(date +%s%N)
check "daemon answers while an owner hangs" grep -q '^daemon *OK *running' "$TMP/doctor"
echo "# doctor round trip during a hung owner: $(( (t1 - t0) / 1000000 )) ms"
wait_for 40 grep -q "did not answer" "$TMP/daemon.log"
check "hung owner timed out" grep -q "did not answer" "$TMP/daemon.log"
kill "$SPID" 2> /dev/null; wait "$SPID" 2> /dev/null
printf 'after the hang' | xclip -selection clipboard
check "capture continues after a hung owner" wait_for 50 has_text 'after the hang'

# copy back
"$BIN" copy 1
check "copy back round trip" [ "$(xclip -selection clipboard -o)" = "first clip from xclip" ]

# files: an owner offering text/uri-list makes a files entry; copying it back offers what file
# managers read (text/uri-list and GNOME's x-special/gnome-copied-files), not just text
printf 'file:///tmp/clipseek%%20a.txt\nfile:///tmp/b.txt\n' | xclip -selection clipboard -t text/uri-list
wait_for 50 sh -c "'$BIN' list --kind files --json | grep -q 'b.txt'"
fid=$("$BIN" list --kind files --limit 1 --json | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)
check "text/uri-list captured as files" [ -n "$fid" ]
"$BIN" copy "$fid"
check "files copied back: offers text/uri-list and gnome-copied-files" sh -c "xclip -selection clipboard -o -t TARGETS > '$TMP/targets' && grep -qx 'text/uri-list' '$TMP/targets' && grep -qx 'x-special/gnome-copied-files' '$TMP/targets'"
check "files copied back: gnome form" [ "$(xclip -selection clipboard -o -t x-special/gnome-copied-files)" = "$(printf 'copy\nfile:///tmp/clipseek%%20a.txt\nfile:///tmp/b.txt')" ]
printf 'file:///tmp/clipseek%%20a.txt\r\nfile:///tmp/b.txt\r\n' > "$TMP/uris.want"
xclip -selection clipboard -o -t text/uri-list > "$TMP/uris.got"
check "files copied back: uri-list (RFC 2483 CRLF lines)" cmp -s "$TMP/uris.got" "$TMP/uris.want"

# hostile owners: a trickling INCR (8 bytes every 1.5 s, forever, even after losing the
# selection) and a TARGETS answered by an endless INCR. A normal clip copied meanwhile is stored
# within a few seconds.
for mode in trickle endless-targets; do
  "$HELPER" own-$mode 60 > "$TMP/$mode.out" &
  HPID=$!; PIDS="$PIDS $HPID"
  wait_for 50 grep -q trickling "$TMP/$mode.out"
  wait_for 40 grep -q chunk "$TMP/$mode.out"   # the daemon is inside the transfer
  t0=$(date +%s%N)
  printf 'normal clip during %s' $mode | xclip -selection clipboard
  wait_for 50 has_text "normal clip during $mode"
  t1=$(date +%s%N)
  check "$mode owner: a normal clip is still captured" has_text "normal clip during $mode"
  echo "# $mode owner: normal clip stored after $(( (t1 - t0) / 1000000 )) ms"
  kill "$HPID" 2> /dev/null; wait "$HPID" 2> /dev/null
done
check "abandoned transfers logged" log_has "incremental transfer was abandoned"
# SIGTERM while the daemon is inside an endless transfer: it stops within 2 s
"$HELPER" own-trickle 60 > "$TMP/trickle2.out" &
HPID=$!; PIDS="$PIDS $HPID"
wait_for 50 grep -q trickling "$TMP/trickle2.out"
wait_for 40 grep -q chunk "$TMP/trickle2.out"
t0=$(date +%s%N)
kill -TERM "$DPID"
wait_for 20 dead "$DPID"
t1=$(date +%s%N)
check "SIGTERM during a trickling transfer stops the daemon within 2 s" dead "$DPID"
echo "# SIGTERM during a trickling transfer: daemon gone after $(( (t1 - t0) / 1000000 )) ms"
wait "$DPID" 2> /dev/null
kill "$HPID" 2> /dev/null
start_daemon

# store_secrets = false: 2 MB of text with a private key at its very end is refused (the detector
# scans the whole text, not its first MiB)
awk 'BEGIN { while (n < 2097152) { s = "line " NR++ " of an ordinary long document about nothing in particular\n"; printf "%s", s; n += length(s) } }' > "$TMP/big.txt"
printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n' >> "$TMP/big.txt"
xclip -selection clipboard -i "$TMP/big.txt"
wait_for 100 log_has "looks like a secret"
check "2 MB text with a private key at its end: refused" log_has "looks like a secret"
check "2 MB text with a private key at its end: not stored" sh -c "! '$BIN' list --json | grep -q 'ordinary long document'"

# whitespace-only clips are not clips
printf '  \n\t ' | xclip -selection clipboard
wait_for 50 log_has "only whitespace"
check "whitespace-only clip not stored" log_has "only whitespace"

# PRIMARY: a selection that grows word by word (xterm) is one clip, its last state; and it is
# read only once the mouse button is up (debounce_ms = 300 in the config)
for w in 'grow' 'grow by' 'grow by word' 'grow by word primary'; do printf '%s' "$w" | xclip -selection primary; done
wait_for 50 has_text '"grow by word primary"'
check "PRIMARY burst: last state stored" has_text '"grow by word primary"'
check "PRIMARY burst: intermediate states not stored" sh -c "! '$BIN' list --json | grep -q '\"grow by word\"'"
if command -v xdotool > /dev/null; then
  xdotool mousedown 1
  printf 'held selection' | xclip -selection primary
  wait_for 10 has_text 'held selection'   # 1 s: well past debounce_ms, the button is still down
  check "PRIMARY not read while the mouse button is down" sh -c "! '$BIN' list --json | grep -q 'held selection'"
  xdotool mouseup 1
  wait_for 50 has_text 'held selection'
  check "PRIMARY read once the button is up" has_text 'held selection'
else
  skip=$((skip + 1)); echo "[SKIP] PRIMARY and the mouse button: xdotool not installed"
fi

# a real GTK3 owner: its clipboard window is unmapped and has no WM_CLASS; the application is
# found through its client leader (GDK's program name) or _NET_WM_PID
GTKPY=${GTK_PYTHON:-/usr/bin/python3}
if "$GTKPY" -c 'import gi; gi.require_version("Gtk", "3.0")' 2> /dev/null; then
  "$GTKPY" "$(dirname "$0")/gtk3_owner.py" 'copied from a gtk3 app' 60 clipseek-gtk-owner > "$TMP/gtk.out" 2>&1 &
  GPID=$!; PIDS="$PIDS $GPID"
  wait_for 100 grep -q owning "$TMP/gtk.out"
  wait_for 50 has_text 'copied from a gtk3 app'
  check "GTK3 owner: clip stored" has_text 'copied from a gtk3 app'
  check "GTK3 owner: its application recorded" sh -c "'$BIN' list --json --limit 1 | grep -qi '\"source\":\"clipseek-gtk-owner\"'"
  kill "$GPID" 2> /dev/null; wait "$GPID" 2> /dev/null
else
  skip=$((skip + 1)); echo "[SKIP] GTK3 owner: python3-gi with GTK 3 not installed"
fi

# the X server killed and restarted: the daemon and its web page live on, capture resumes
WPORT=$(grep -o 'web page on http://127.0.0.1:[0-9]*' "$TMP/daemon.log" | tail -1 | grep -o '[0-9]*$')
web_ok() { curl -sf -m 2 -H "Authorization: Bearer $(cat "$TMP/data/web.token")" "http://127.0.0.1:$WPORT/api/status" > /dev/null; }
kill "$XPID"; wait "$XPID" 2> /dev/null
wait_for 50 log_has "X connection was lost"
check "X server gone: loss logged" log_has "X connection was lost"
check "X server gone: daemon still running" alive "$DPID"
check "X server gone: web page still answers" web_ok
: > "$TMP/display"
Xvfb ":$DNUM" -displayfd 3 -screen 0 640x480x24 -nolisten tcp 3> "$TMP/display" > /dev/null 2>&1 &
XPID=$!
wait_for 50 test -s "$TMP/display"
n=$(grep -c "capturing the X11 clipboard" "$TMP/daemon.log")
wait_for 150 sh -c "[ \$(grep -c 'capturing the X11 clipboard' '$TMP/daemon.log') -gt $n ]"
printf 'after the X server restarted' | xclip -selection clipboard
wait_for 100 has_text 'after the X server restarted'
check "X server restarted: capture resumes" has_text 'after the X server restarted'
check "X server restarted: web page answers" web_ok

# the CLI and the daemon at once: an import while clips are captured, then indexing through the daemon
FX=${CLIPSEEK_FIXTURES:-../shared/fixtures}
if [ -d "$FX/toyworld-eval" ] && [ -d "$FX/toyworld-clip" ]; then
  "$BIN" model use "$FX/toyworld-clip" > /dev/null
  before=$("$BIN" stats --json | sed 's/.*"entries":\([0-9]*\).*/\1/')
  "$BIN" add "$FX/toyworld-eval" > /dev/null 2>&1 &
  APID=$!
  for k in 1 2 3 4 5 6 7 8 9 10; do
    printf 'concurrent clip %d' $k | xclip -selection clipboard
    wait_for 30 has_text "concurrent clip $k"   # each one captured while the import runs
  done
  wait "$APID"
  check "import during capture succeeds" [ $? -eq 0 ]
  entries() { "$BIN" stats --json | sed 's/.*"entries":\([0-9]*\).*/\1/'; }
  wait_for 50 sh -c "[ \$('$BIN' stats --json | sed 's/.*\"entries\":\([0-9]*\).*/\1/') -ge $((before + 55)) ]"
  after=$(entries)
  check "both the import and the clips landed" [ $((after - before)) -ge 55 ]
  # the indexer notices `model use` when it next wakes: wait until the daemon reports the model
  wait_for 100 sh -c "'$BIN' doctor --json 2> /dev/null | grep -q '\"model\":\"toyworld'"
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
  _before=$(wc -l < "$TMP/daemon.log")
  if [ $((i % 25)) -eq 7 ]; then
    "$HELPER" png "$TMP/d.png" 40 30 $((1000 + i)); xclip -selection clipboard -t image/png -i "$TMP/d.png"
  else
    printf 'durability clip %d' $i | xclip -selection clipboard
  fi
  # pace on evidence: the daemon logged an outcome for this clip (bounded: it may be restarting)
  _k=0; while [ $_k -lt 50 ] && [ "$(wc -l < "$TMP/daemon.log")" -le "$_before" ]; do sleep 0.01; _k=$((_k + 1)); done
  if [ $((i % 100)) -eq 50 ]; then kill -9 "$DPID"; wait "$DPID" 2> /dev/null; start_daemon; fi
  i=$((i + 1))
done
# the last clip acknowledged (or a bounded wait for it), then the final kill
wait_for 30 sh -c "'$BIN' list --limit 3 --json | grep -q 'durability clip $((CLIPS - 1))'"
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
