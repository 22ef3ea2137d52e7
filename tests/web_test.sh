#!/bin/sh
# The web page: HTTP security tests (tests/web_http_test.py) and a browser test with
# playwright-core driving Debian's chromium (tests/web/browser_test.mjs), against a daemon on
# loopback with a temporary data directory, under Xvfb so "copy" reaches a real X clipboard.
# Ends with "N passed, N failed, N skipped".
set -u
BIN=$(readlink -f "${CLIPSEEK:-build/clipseek}")
FX=${CLIPSEEK_FIXTURES:-../shared/fixtures}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/testlib.sh"
TMP=$(mktemp -d /tmp/clipseek-web-XXXXXX)
export CLIPSEEK_DATA_DIR="$TMP/data" CLIPSEEK_CONFIG="$TMP/config" XDG_CONFIG_HOME="$TMP/xdg"
unset CLIPSEEK_MODEL WAYLAND_DISPLAY
printf 'ocr = false\n' > "$TMP/config"
DPID="" XPID="" EPID=""
finish() {
  [ -n "$DPID" ] && kill "$DPID" 2> /dev/null
  [ -n "$EPID" ] && kill "$EPID" 2> /dev/null
  [ -n "$XPID" ] && kill "$XPID" 2> /dev/null
  [ "$fail" -eq 0 ] && rm -rf "$TMP"
}
trap finish EXIT

if command -v Xvfb > /dev/null && command -v xclip > /dev/null; then
  Xvfb -displayfd 3 -screen 0 640x480x24 -nolisten tcp 3> "$TMP/display" > /dev/null 2>&1 & XPID=$!
  for _k in $(seq 100); do [ -s "$TMP/display" ] && break; sleep 0.05; done
  export DISPLAY=":$(cat "$TMP/display")"
else
  unset DISPLAY
fi

# entries: toyworld images (when the fixtures are here), a word to find, a hostile one, one to delete
HOSTILE='<script>window.__pwned=2</script><img src=x onerror="window.__pwned=1;alert(1)"> & "quotes"'
if [ -d "$FX/toyworld-clip" ]; then
  "$BIN" model use "$FX/toyworld-clip" > /dev/null
  "$BIN" add "$FX/toyworld-eval" > /dev/null 2>&1
fi
id_word=$(printf 'the pelican7781 invoice number' | "$BIN" add - 2> /dev/null)
id_hostile=$(printf '%s' "$HOSTILE" | "$BIN" add - 2> /dev/null)
id_delete=$(printf 'delete me later' | "$BIN" add - 2> /dev/null)
id_secret=$(printf 'ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8' | "$BIN" add - 2> /dev/null)
# for the page: one to edit, three for the bulk actions, a 3 MB text (opened in parts)
id_edit=$(printf 'a note to edit in the page' | "$BIN" add - 2> /dev/null)
id_bulk=$(for k in 1 2 3; do printf 'bulk entry %s of three' "$k" | "$BIN" add - 2> /dev/null; done | tr '\n' ' ')
python3 -c "import sys; sys.stdout.write(''.join('line %06d of a long build log, with some words to wrap: compiling src/web/web.c\\n' % i for i in range(38000))[:3000000])" > "$TMP/big.txt"
id_big=$("$BIN" add "$TMP/big.txt" 2> /dev/null)
id_image=$("$BIN" list --kind image --limit 1 --json | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)
[ -z "$id_image" ] && { printf 'P6\n1 1\n255\n\377\0\0' > "$TMP/x.ppm"; } # (no fixtures: HTTP image checks need one)

# X11 capture on (under Xvfb): a copy from the page comes back as the entry "on clipboard"
"$BIN" daemon $([ -n "${DISPLAY:-}" ] || echo --no-x11) --web-port 0 > "$TMP/daemon.out" 2> "$TMP/daemon.log" & DPID=$!
for _k in $(seq 200); do grep -q "web page on" "$TMP/daemon.log" 2> /dev/null && break; sleep 0.05; done
PORT=$(sed -n 's|.*web page on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$TMP/daemon.log" | head -1)
check "daemon serves the page on loopback" [ -n "$PORT" ]
[ -z "$PORT" ] && { cat "$TMP/daemon.log"; echo "web: $pass passed, $fail failed, $skip skipped"; exit 1; }
"$BIN" index --wait > /dev/null 2>&1
URL=$("$BIN" web)
check "clipseek web prints a one-time login URL from the daemon" sh -c "echo '$URL' | grep -q '^http://127.0.0.1:$PORT/login?code=[0-9a-f]\{64\}$'"
check "and not the long-lived token" sh -c "! echo '$URL' | grep -q '$(cat "$TMP/data/web.token")'"
check "token file is 0600" [ "$(stat -c %a "$TMP/data/web.token")" = 600 ]
check "listens on loopback only" sh -c "! ss -ltnH 2>/dev/null | grep ':$PORT ' | grep -v '127.0.0.1:$PORT\|\[::1\]:$PORT' | grep -q ."

if [ -n "$id_image" ]; then
  python3 -B "$HERE/web_http_test.py" "$PORT" "$TMP/data/web.token" "$id_word" "$id_image" "$id_secret" "$BIN" > "$TMP/http.log" 2>&1
  cat "$TMP/http.log" | grep -v '^\[PASS\]'
  p=$(sed -n 's/^web-http: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$TMP/http.log")
  f=$(sed -n 's/^web-http: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$TMP/http.log")
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-1}))
  echo "# HTTP tests: ${p:-0} passed, ${f:-?} failed"
else
  skip_fixture 1 "HTTP tests: need the toyworld fixtures for an image entry"
fi

# slowloris: 80 connections trickling headers from 127.0.0.1 (loopback only; the test closes them all)
python3 -B "$HERE/web_slowloris_test.py" "$PORT" "$TMP/data/web.token" 80 > "$TMP/slowloris.log" 2>&1
cat "$TMP/slowloris.log" | grep -v '^\[PASS\]'
p=$(sed -n 's/^web-slowloris: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$TMP/slowloris.log")
f=$(sed -n 's/^web-slowloris: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$TMP/slowloris.log")
pass=$((pass + ${p:-0})); fail=$((fail + ${f:-1}))
echo "# slowloris tests: ${p:-0} passed, ${f:-?} failed"

if [ -n "$id_image" ]; then
  sha=$("$BIN" show "$id_image" --json | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')
  check "thumbnail cached, 0600" [ "$(stat -c %a "$TMP/data/thumbs/$sha.jpg" 2> /dev/null)" = 600 ]
  "$BIN" delete "$id_image"
  check "deleting an entry deletes its thumbnail" [ ! -e "$TMP/data/thumbs/$sha.jpg" ]
  id_image=$("$BIN" list --kind image --limit 1 --json | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)
fi

# the browser test needs node, playwright-core (npm ci in tests/web; .ci/run does it) and chromium
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -n "$id_image" ] && [ -n "$CHROMIUM" ] && command -v node > /dev/null && [ -d "$HERE/web/node_modules/playwright-core" ] && [ -n "${DISPLAY:-}" ]; then
  # an image with words in it, read by OCR (only now: the HTTP tests above expect none)
  convert -size 520x140 xc:white -font DejaVu-Sans -pointsize 40 -fill black -annotate +20+85 'INVOICE 4471 PAID' "$TMP/ocr.png"
  id_ocr=$("$BIN" add "$TMP/ocr.png" 2> /dev/null)
  printf 'ocr = true\n' > "$TMP/config-ocr"
  CLIPSEEK_CONFIG="$TMP/config-ocr" "$BIN" organize > /dev/null 2>&1
  # a second history, empty, served by `clipseek web` alone (no capture): the empty states
  E="$TMP/empty"; mkdir -m 0700 "$E"
  CLIPSEEK_DATA_DIR="$E/data" "$BIN" web --port 0 > "$E/web.out" 2> "$E/web.log" & EPID=$!
  for _k in $(seq 200); do [ -s "$E/web.out" ] && break; sleep 0.05; done
  LOGIN_URL=$("$BIN" web) WORD_ID="$id_word" HOSTILE_ID="$id_hostile" HOSTILE_TEXT="$HOSTILE" DELETE_ID="$id_delete" SECRET_ID="$id_secret" \
    EDIT_ID="$id_edit" BULK_IDS="$id_bulk" BIG_ID="$id_big" BIG_BYTES="$(stat -c %s "$TMP/big.txt")" OCR_ID="$id_ocr" \
    EMPTY_DIR="$E/data" BIN="$BIN" \
    CHROMIUM="$CHROMIUM" ARTIFACTS="${ARTIFACTS:-$HERE/web/artifacts}" \
    timeout 240 node "$HERE/web/browser_test.mjs" > "$TMP/browser.log" 2>&1
  kill "$EPID"; wait "$EPID" 2> /dev/null; EPID=""
  grep -v '^\[PASS\]' "$TMP/browser.log"
  p=$(sed -n 's/^web-browser: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$TMP/browser.log")
  f=$(sed -n 's/^web-browser: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$TMP/browser.log")
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-1}))
  echo "# browser tests: ${p:-0} passed, ${f:-?} failed"
else
  skip=$((skip + 1))
  echo "[SKIP] browser test: needs chromium, node, Xvfb and playwright-core (cd tests/web && npm ci)"
fi
check "daemon still running" kill -0 "$DPID"
kill "$DPID"
for _k in $(seq 100); do kill -0 "$DPID" 2> /dev/null || break; sleep 0.05; done
DPID=""
# (under make asan, leak and error reports land in the daemon's log at exit)
check "daemon stopped cleanly, no sanitizer report" sh -c "grep -q stopping '$TMP/daemon.log' && ! grep -qi 'sanitizer\|segv\|runtime error' '$TMP/daemon.log'"
# `clipseek web` with no daemon serves the page itself (no capture) and prints the log-in URL
"$BIN" web --port 0 > "$TMP/web.out" 2> "$TMP/web.log" & WPID=$!
for _k in $(seq 200); do [ -s "$TMP/web.out" ] && break; sleep 0.05; done
WURL=$(head -1 "$TMP/web.out")
WPORT=$(echo "$WURL" | sed -n 's|^http://127.0.0.1:\([0-9]*\)/login?code=[0-9a-f]*$|\1|p')
check "clipseek web alone prints its one-time login URL" [ -n "$WPORT" ]
# the token goes to curl in a header file (-H @file), never on its command line
printf 'Authorization: Bearer %s\n' "$(cat "$TMP/data/web.token")" > "$TMP/auth.h"
check "and serves the API" sh -c "curl -sf -H @'$TMP/auth.h' http://127.0.0.1:$WPORT/api/status | grep -q '\"capture\":\"off\"'"
check "and the login URL sets a session cookie" sh -c "curl -s -i '$WURL' | grep -qi '^set-cookie: clipseek_session='"
check "once" sh -c "curl -s -i '$WURL' | grep -q '^HTTP/1.1 401'"
# its own control socket answers `clipseek web` (a new code) and --logout-all (the session above)
check "clipseek web asks it for a new code" sh -c "'$BIN' web | grep -q '^http://127.0.0.1:$WPORT/login?code='"
check "clipseek web --logout-all ends its session" sh -c "'$BIN' web --logout-all 2>&1 | grep -q '^clipseek: 1 web session'"
kill "$WPID"; wait "$WPID" 2> /dev/null
# out of file descriptors (EMFILE): the acceptor pauses instead of spinning on the queued connections
D2="$TMP/emfile"; mkdir -m 0700 "$D2"
CLIPSEEK_DATA_DIR="$D2" prlimit --nofile=40 "$BIN" web --port 0 > "$TMP/web2.out" 2> "$TMP/web2.log" & WPID=$!
for _k in $(seq 200); do [ -s "$TMP/web2.out" ] && break; sleep 0.05; done
WPORT=$(sed -n 's|^http://127.0.0.1:\([0-9]*\)/login.*|\1|p' "$TMP/web2.out")
if [ -n "$WPORT" ] && python3 -B "$(dirname "$0")/web_emfile_test.py" "$WPORT" "$WPID"; then ok "web server out of descriptors does not spin"
else bad "web server out of descriptors does not spin"; fi
kill "$WPID"; wait "$WPID" 2> /dev/null
check "with no server, --logout-all says no browser is logged in" sh -c "'$BIN' web --logout-all 2>&1 | grep -q 'no browser is logged in'"
echo "web: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
