#!/bin/sh
# CLI tests of the everyday history commands on a temporary data directory: every command's
# --help (exit 0, 80 columns, no data dir created) and unknown options (exit 2), --version,
# delete/clear/undo, clear's prompt on a real terminal (script(1) gives it a pty), pause with a
# duration, --next and resume (also in status and the daemon's STATUS), edit through $EDITOR,
# export/import, and the web endpoints (DELETE to the trash, POST /api/undo, PUT an entry's
# text, the pause in /api/status) against a daemon on loopback.
# Ends with "N passed, N failed, N skipped".
set -u
BIN=$(readlink -f "${CLIPSEEK:-build/clipseek}")
TMP=$(mktemp -d /tmp/clipseek-history-XXXXXX)
DPID=""
trap '[ -n "$DPID" ] && kill "$DPID" 2> /dev/null; rm -rf "$TMP"' EXIT
export CLIPSEEK_DATA_DIR="$TMP/data" CLIPSEEK_CONFIG="$TMP/config" XDG_CONFIG_HOME="$TMP/xdg"
unset CLIPSEEK_MODEL WAYLAND_DISPLAY DISPLAY VISUAL
printf 'ocr = false\n' > "$TMP/config"
. "$(dirname "$0")/testlib.sh"

# ---- help, version, usage errors: none of them may create the data directory ----
cmds=$("$BIN" help | sed -n '/^commands:/,/^$/p' | awk 'NF > 1 && $1 != "commands:" {print $1}')
check "help lists the commands" [ "$(echo "$cmds" | wc -l)" -ge 30 ]
check "help fits 80 columns" sh -c "'$BIN' help | awk 'length > 80 {exit 1}'"
wide="" failed="" loose=""
for c in $cmds; do
  for h in --help -h; do
    out=$("$BIN" "$c" $h 2> /dev/null) || failed="$failed $c$h"
    echo "$out" | head -1 | grep -q "^usage: clipseek $c" || failed="$failed $c$h(no usage)"
    echo "$out" | awk 'length > 80 {exit 1}' || wide="$wide $c"
  done
  "$BIN" "$c" --no-such-option < /dev/null > /dev/null 2>&1
  [ $? -eq 2 ] || loose="$loose $c"
done
check "every command answers --help and -h with its usage, exit 0 ($failed)" [ -z "$failed" ]
check "every command's help fits 80 columns ($wide)" [ -z "$wide" ]
check "unknown options are usage errors, exit 2 ($loose)" [ -z "$loose" ]
check "search --help is help, not a search" sh -c "'$BIN' search --help | grep -q 'usage: clipseek search QUERY'"
check "help COMMAND too" sh -c "'$BIN' help clear | grep -q 'usage: clipseek clear'"
check "no data dir created by any of it" [ ! -e "$TMP/data" ]
check "--version" sh -c "'$BIN' --version | grep -q '^clipseek [0-9]'"

# ---- delete, clear, undo ----
for t in one two three four; do printf 'entry %s' "$t" | "$BIN" add - > /dev/null 2>&1; done
"$BIN" pin 4 && "$BIN" tag 1 keepme
"$BIN" delete 1 3
check "deleted entries leave list" [ "$("$BIN" list | wc -l)" -eq 2 ]
check "and search" sh -c "! '$BIN' search 'entry one' --limit 5 --format tsv 2> /dev/null | grep -q '^1	'"
check "status counts the undo step" sh -c "'$BIN' status | grep -q 'undo brings back 2'"
check "undo restores both" sh -c "'$BIN' undo | grep -q 'restored 2 entries: 1 3'"
check "with their tags" sh -c "'$BIN' show 1 | grep -q 'keepme'"
check "undo with an empty trash fails" sh -c "! '$BIN' undo 2> /dev/null"
check "delete of an unknown id deletes nothing" sh -c "! '$BIN' delete 2 999 2> /dev/null && '$BIN' list | grep -q 'entry two'"
"$BIN" clear > "$TMP/out" 2> "$TMP/err" < /dev/null
check "clear without a terminal and without --yes: usage error" [ $? -eq 2 ]
check "and nothing cleared" [ "$("$BIN" list | wc -l)" -eq 4 ]
printf 'n\n' | script -qec "'$BIN' clear" /dev/null > "$TMP/out" 2>&1
check "clear asks on a terminal; no keeps everything" sh -c "grep -q 'Delete 3 entries' '$TMP/out' && [ \$('$BIN' list | wc -l) -eq 4 ]"
printf 'y\n' | script -qec "'$BIN' clear --kind text" /dev/null > "$TMP/out" 2>&1
check "yes clears, the pinned entry stays" sh -c "[ \$('$BIN' list | wc -l) -eq 1 ] && '$BIN' list | grep -q 'entry four'"
check "one undo brings the whole clear back" sh -c "'$BIN' undo > /dev/null && [ \$('$BIN' list | wc -l) -eq 4 ]"
"$BIN" clear --yes --include-pinned > /dev/null
check "--include-pinned clears pinned too" [ "$("$BIN" list | wc -l)" -eq 0 ]
"$BIN" undo > /dev/null
check "clear --older-than 1d keeps today's" sh -c "'$BIN' clear --older-than 1d --yes | grep -q 'nothing to clear'"
check "bad duration: usage error" sh -c "'$BIN' clear --older-than 7x --yes 2> /dev/null; [ \$? -eq 2 ]"

# ---- pause ----
"$BIN" pause 10m > /dev/null
check "pause 10m: status --json has the end time" sh -c "'$BIN' status --json | grep -q '\"paused\":true,\"paused_until_ms\":[1-9]'"
until=$("$BIN" status --json | sed 's/.*"paused_until_ms":\([0-9]*\).*/\1/')
now=$(($(date +%s) * 1000))
check "about ten minutes from now" [ $((until - now)) -gt 590000 ] && [ $((until - now)) -le 601000 ]
check "a copy while paused is not stored" sh -c "printf 'while paused' | '$BIN' store; ! '$BIN' list | grep -q 'while paused'"
check "doctor shows it" sh -c "'$BIN' doctor 2> /dev/null | grep -q '^pause .*paused until'"
"$BIN" resume
check "resume" sh -c "'$BIN' status --json | grep -q '\"paused\":false'"
"$BIN" pause --next > /dev/null
printf 'skipped copy' | "$BIN" store 2> /dev/null
printf 'kept copy' | "$BIN" store
check "pause --next skips exactly the next copy" sh -c "! '$BIN' list | grep -q 'skipped copy' && '$BIN' list | grep -q 'kept copy'"
check "pause with a bad duration: usage error" sh -c "'$BIN' pause 10 2> /dev/null; [ \$? -eq 2 ]"

# ---- edit ----
id=$(printf 'meeting tuesday' | "$BIN" add - 2> /dev/null)
cat > "$TMP/ed.sh" << 'EOF'
#!/bin/sh
stat -c %a "$1" > "$EDLOG"
printf 'https://example.org/agenda\n' > "$1"
EOF
chmod +x "$TMP/ed.sh"
EDLOG="$TMP/mode" EDITOR="$TMP/ed.sh" "$BIN" edit "$id" > "$TMP/out" 2>&1
check "edit saves the editor's text" sh -c "[ \"\$('$BIN' decode $id)\" = 'https://example.org/agenda' ]"
check "on a private 0600 file" [ "$(cat "$TMP/mode" 2> /dev/null)" = 600 ]
check "and detects the new text kind" sh -c "'$BIN' list --kind url | grep -q '^ *$id '"
check "the word index follows" sh -c "'$BIN' search agenda --format tsv | grep -q '^$id	'"
check "no temp file left" sh -c "! ls /tmp/clipseek-edit-* > /dev/null 2>&1 || ! grep -rl agenda /tmp/clipseek-edit-* 2> /dev/null | grep -q ."
check "a failing editor changes nothing" sh -c "EDITOR=false '$BIN' edit $id 2> /dev/null; [ \$? -eq 1 ] && '$BIN' decode $id | grep -q agenda"

# ---- export / import ----
"$BIN" export "$TMP/arch.db" > "$TMP/out"
check "export writes a 0600 archive" [ "$(stat -c %a "$TMP/arch.db" 2> /dev/null)" = 600 ]
check "export refuses to overwrite" sh -c "! '$BIN' export '$TMP/arch.db' 2> /dev/null"
n=$("$BIN" list | wc -l)
check "import into another history" sh -c "CLIPSEEK_DATA_DIR='$TMP/other' '$BIN' import '$TMP/arch.db' | grep -q 'imported $n entries (0 already here)'"
check "twice: no duplicates" sh -c "CLIPSEEK_DATA_DIR='$TMP/other' '$BIN' import '$TMP/arch.db' | grep -q 'imported 0 entries ($n already here)' && [ \$(CLIPSEEK_DATA_DIR='$TMP/other' '$BIN' list | wc -l) -eq $n ]"
printf 'not an archive' > "$TMP/junk.db"
check "a file that is no archive: clear error" sh -c "CLIPSEEK_DATA_DIR='$TMP/other' '$BIN' import '$TMP/junk.db' 2>&1 | grep -q 'not a clipseek archive'"

# ---- add --images-only / --ext ----
mkdir -p "$TMP/in/sub"
python3 - "$TMP/in/pic.img" "$TMP/in/sub/b.PNG" << 'PY'
import struct, sys, zlib
def png(path, rgb):  # a valid 1x1 PNG
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" + bytes(rgb))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
png(sys.argv[1], (255, 0, 0))
png(sys.argv[2], (0, 255, 0))
PY
printf 'only text inside' > "$TMP/in/fake.png"
printf 'some notes' > "$TMP/in/notes.txt"
n=$(CLIPSEEK_DATA_DIR="$TMP/imgs" "$BIN" add --images-only "$TMP/in" 2> "$TMP/err" | wc -l)
check "add --images-only takes images by content (2 of 4)" sh -c "[ $n -eq 2 ] && [ \$(CLIPSEEK_DATA_DIR='$TMP/imgs' '$BIN' list --kind image | wc -l) -eq 2 ] && grep -q '2 left out' '$TMP/err'"
n=$(CLIPSEEK_DATA_DIR="$TMP/exts" "$BIN" add "$TMP/in" --ext txt,.PNG 2> /dev/null | wc -l)
check "add --ext txt,.PNG by extension, any case (3 of 4)" [ "$n" -eq 3 ]
check "add --ext needs a list" sh -c "'$BIN' add --ext 2> /dev/null; [ \$? -eq 2 ]"

# ---- the daemon's STATUS and the web endpoints ----
"$BIN" daemon --no-x11 --web-port 0 > "$TMP/daemon.out" 2> "$TMP/daemon.log" & DPID=$!
for _k in $(seq 200); do grep -q "web page on" "$TMP/daemon.log" 2> /dev/null && break; sleep 0.05; done
PORT=$(sed -n 's|.*web page on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$TMP/daemon.log" | head -1)
if [ -n "$PORT" ]; then
  TOK=$(cat "$TMP/data/web.token")
  api() { # METHOD PATH [BODY]: prints the body, then the status on the last line
    curl -s -w '\n%{http_code}' -X "$1" -H "Authorization: Bearer $TOK" -H "Origin: http://127.0.0.1:$PORT" \
      -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "http://127.0.0.1:$PORT$2"
  }
  "$BIN" pause 1h > /dev/null
  # doctor --json carries the daemon's STATUS as it is ("daemon"); the text lines summarise it
  check "daemon STATUS has the pause" sh -c "'$BIN' doctor --json 2> /dev/null | python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)[\"daemon\"][\"paused\"] is not True)'"
  check "/api/status has it" sh -c "curl -s -H 'Authorization: Bearer $TOK' http://127.0.0.1:$PORT/api/status | grep -q '\"paused_until_ms\":[1-9]'"
  "$BIN" resume
  wid=$(printf 'web delete me' | "$BIN" add - 2> /dev/null)
  code=$(api DELETE "/api/entries/$wid" | tail -1)
  check "DELETE puts it in the trash" sh -c "[ $code = 200 ] && ! '$BIN' list | grep -q 'web delete me'"
  out=$(api POST /api/undo)
  check "POST /api/undo brings it back" sh -c "echo '$out' | head -1 | grep -q '\"restored\": *\[$wid\]' && '$BIN' list | grep -q 'web delete me'"
  check "POST /api/undo with nothing to undo: 404" [ "$(api POST /api/undo | tail -1)" = 404 ]
  check "undo needs the same origin" sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer $TOK' -H 'Origin: http://evil.example' http://127.0.0.1:$PORT/api/undo) = 403 ]"
  code=$(api PUT "/api/entries/$wid" '{"text": "edited on the web"}' | tail -1)
  check "PUT saves new text" sh -c "[ $code = 200 ] && [ \"\$('$BIN' decode $wid)\" = 'edited on the web' ]"
  check "PUT without text: 400" [ "$(api PUT /api/entries/$wid '{"nope": 1}' | tail -1)" = 400 ]
  check "PUT of an unknown entry: 404" [ "$(api PUT /api/entries/99999 '{"text": "x"}' | tail -1)" = 404 ]
else
  bad "daemon serves the page on loopback"
  cat "$TMP/daemon.log"
fi

echo "history-cli: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
