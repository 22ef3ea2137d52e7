#!/bin/sh
# The front binary (src/front/front.c) and the daemon's engine server (src/front/front_server.c):
# - the front links libc alone: no model, BLAS, OCR, HTTP or curl library (ldd);
# - help, --version and COMMAND --help, answered by the front, are the engine's bytes and status;
# - with a daemon, search/list/show/status/copy run in the engine server and give the engine's
#   bytes and exit status, with the front's environment (DISPLAY unset here, set in the daemon),
#   and the front dies of the command's signal (SIGPIPE under `| head`), as the engine does;
# - with common options before the command (--data-dir, --threads, --dtype, --device) too, bad
#   values included (the engine's message and status), and the engine is not exec'd for them;
# - the server's socket is 0600, and it goes when the daemon stops or is killed (SIGKILL);
# - a missing engine is a clear error (exit 127); CLIPSEEK_ENGINE names another one.
# Ends with "front: N passed, N failed, N skipped".
set -u
BIN=$(readlink -f "${CLIPSEEK:-build/clipseek}")
ENGINE=$(dirname "$BIN")/clipseek-engine
TMP=$(mktemp -d /tmp/clipseek-front-XXXXXX)
DPID=""
trap '[ -n "$DPID" ] && kill "$DPID" 2> /dev/null; [ -n "${KEEP:-}" ] || rm -rf "$TMP"' EXIT
export CLIPSEEK_DATA_DIR="$TMP/data" CLIPSEEK_CONFIG="$TMP/config" XDG_CONFIG_HOME="$TMP/xdg" HOME="$TMP"
unset CLIPSEEK_MODEL CLIPSEEK_NO_DAEMON CLIPSEEK_ENGINE WAYLAND_DISPLAY DISPLAY
printf 'ocr = false\n' > "$TMP/config"
. "$(dirname "$0")/testlib.sh"

# ---- what the front loads ----
libs=$(ldd "$BIN" | awk '{print $1}')
heavy=$(echo "$libs" | grep -E 'tesseract|lept|curl|microhttpd|blis|openblas|dnnl|vulkan|gomp|sqlite|jansson|crypto|X11' || true)
check "front loads no model, BLAS, OCR, HTTP or curl library ($heavy)" [ -z "$heavy" ]
other=$(echo "$libs" | grep -vE '^(linux-vdso|/lib64/ld-linux|libc\.so|libasan|libubsan|libstdc\+\+|libm\.so|libgcc_s)' || true)
check "front links libc alone (besides sanitizer runtimes: $other)" [ -z "$other" ]

# same: the front and the engine print the same bytes on both streams and exit the same way
same() {
  "$BIN" "$@" > "$TMP/f.out" 2> "$TMP/f.err" < /dev/null
  f=$?
  "$ENGINE" "$@" > "$TMP/e.out" 2> "$TMP/e.err" < /dev/null
  e=$?
  [ $f -eq $e ] && cmp -s "$TMP/f.out" "$TMP/e.out" && cmp -s "$TMP/f.err" "$TMP/e.err"
}
for a in "" help --help -h "help list" "help nope" --version -V version "list --help" "search q -h" \
  "status --threads 2 --help" "list --threads x --help" "nope --help" "list --data-dir"; do
  # shellcheck disable=SC2086
  check "front answers '$a' as the engine" same $a
done
check "help created no data dir" [ ! -e "$TMP/data" ]

# ---- the engine server ----
"$BIN" add - > /dev/null 2>&1 <<'T'
hello front
T
head -c 300000 /dev/zero | tr '\0' 'x' | "$BIN" add - > /dev/null 2>&1
printf 'export API_TOKEN=Zk29QmVx81LpTn4RwYc7HsJd0AeUfGo5 hello' | "$BIN" add - > /dev/null 2>&1
printf 'Gr\303\274\303\237e "quoted" back\\slash\ttab hello' | "$BIN" add - > /dev/null 2>&1
# 400 entries holding "pipe": a search's output larger than a pipe's buffer (so the missing entry
# below is 9999)
mkdir "$TMP/pipes" && for i in $(seq 400); do echo "pipe $i of a longer line, so each hit is wider" > "$TMP/pipes/$i.txt"; done
"$BIN" add "$TMP/pipes" > /dev/null 2>&1
DISPLAY=:987 "$BIN" daemon --no-x11 --no-web > "$TMP/daemon.log" 2>&1 &
DPID=$!
check "daemon: engine server socket" wait_for 300 test -S "$TMP/data/engine.sock"
check "engine.sock is 0600" [ "$(stat -c %a "$TMP/data/engine.sock")" = 600 ]
wait_for 100 "$BIN" status > /dev/null 2>&1
# (not the human `list` and `show`: their ages in seconds may tick between the two runs)
for a in "list --json" "pick" "show 1 --json" "show 2 --json" "show 9999" "show" "status" "status --json" \
  "search hello" "search zzzqqq" "search hello --format tsv" "list --bogus" "copy 1" "copy 9999"; do
  # shellcheck disable=SC2086
  check "served '$a' as the engine" same $a
done
# ---- search answered by the daemon itself (front_proto.h: the CLI request) ----
# answered: how many searches the daemon printed for a front (its STATUS)
answered() {
  python3 -c 'import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"STATUS\n")
print(json.loads(s.makefile().readline())["cli_answered"])' "$TMP/data/daemon.sock"
}
# by_daemon ARGS: the engine's bytes and status, printed by the daemon (its count goes up by one);
# by_engine ARGS: the same bytes, but the daemon left it to the engine (its count stays)
by() {
  n0=$(answered)
  same "$@" || return 1
  [ "$(answered)" -eq $((n0 + want)) ]
}
by_daemon() { want=1 by "$@"; }
by_engine() { want=0 by "$@"; }
for a in "search hello" "search hello --json" "search hello --format tsv" "search zzzqqq" "search zzzqqq --json" \
  "search token" "search token --json" "search token --reveal --json" "search --limit 1 hello" \
  "search --kind text -- hello" "search hello --since 1h --format json" "search hello --format human"; do
  # shellcheck disable=SC2086
  check "'$a' answered by the daemon, as the engine" by_daemon $a
done
check "a query with quotes, a backslash, a tab and UTF-8, answered as the engine" \
  by_daemon search "$(printf 'Gr\303\274\303\237e "quoted" back\\slash\ttab')" --json
# --data-dir D with CLIPSEEK_DATA_DIR elsewhere: D's daemon answers, as the engine would in D
elsewhere() {
  n0=$(answered)
  CLIPSEEK_DATA_DIR="$TMP/elsewhere" "$BIN" --data-dir "$TMP/data" search hello --json > "$TMP/d.out" 2>&1 &&
    "$ENGINE" search hello --json > "$TMP/e.out" 2>&1 && cmp -s "$TMP/d.out" "$TMP/e.out" && [ "$(answered)" -eq $((n0 + 1)) ]
}
check "--data-dir picks the daemon (CLIPSEEK_DATA_DIR elsewhere)" elsewhere
check "the secret stays masked in the daemon's answer" sh -c "'$BIN' search token > '$TMP/m.out' && grep -q '••••••••' '$TMP/m.out' && ! grep -q Zk29QmVx '$TMP/m.out'"
for a in "search hello --bogus" "search hello --collection nope" "search --image $TMP/none.png" \
  "search hello --limit 5000" "search" "search hello --format xml" "search --since 5y hello"; do
  # shellcheck disable=SC2086
  check "'$(echo "$a" | sed "s|$TMP|T|g")' left to the engine, as the engine" by_engine $a
done
check "a query that is not UTF-8 left to the engine, as the engine" by_engine search "$(printf 'caf\351')"
check "--threads before search: the engine server's (the engine checks it)" by_engine --threads 2 search hello
check "--help after --: the engine's usage" by_engine --data-dir "$TMP/data" search -- --help
# under `| head` the front dies of SIGPIPE as the engine does, also when the daemon printed it
n0=$(answered)
( "$BIN" search pipe --json --limit 1000; echo "front $?" > "$TMP/rc.f" ) | head -c 10 > /dev/null
n1=$(answered)
( "$ENGINE" search pipe --json --limit 1000; echo "engine $?" > "$TMP/rc.e" ) | head -c 10 > /dev/null
check "search --json | head: front and engine both die of SIGPIPE ($(cat "$TMP/rc.f" "$TMP/rc.e" | tr '\n' ' '))" \
  sh -c "grep -qx 'front 141' '$TMP/rc.f' && grep -qx 'engine 141' '$TMP/rc.e'"
check "and the daemon printed the front's ($n0 -> $n1)" [ "$n1" -eq $((n0 + 1)) ]
check "the whole answer is the engine's, more than a pipe holds" sh -c "'$BIN' search pipe --json --limit 1000 > '$TMP/p.out' && '$ENGINE' search pipe --json --limit 1000 | cmp -s - '$TMP/p.out' && [ \$(wc -c < '$TMP/p.out') -gt 65536 ]"
# common options before the command (and among its words), as the engine takes them: still served
# by the engine server, with the engine's output, errors and status. Proof that the engine was not
# exec'd: CLIPSEEK_ENGINE names a spy that logs each run to $TMP/execd, then execs the engine.
# CLIPSEEK_DATA_DIR names another folder here: the socket must come from --data-dir.
printf '#!/bin/sh\necho "$*" >> "%s/execd"\nexec "%s" "$@"\n' "$TMP" "$ENGINE" > "$TMP/spy"
chmod +x "$TMP/spy"
D=$TMP/data
# served_same ARGS: the front, through the spy, gives the engine's bytes and status, and the spy
# never ran
served_same() {
  rm -f "$TMP/execd"
  CLIPSEEK_ENGINE="$TMP/spy" CLIPSEEK_DATA_DIR="$TMP/elsewhere" same "$@" && [ ! -e "$TMP/execd" ]
}
check "the spy logs an exec'd engine (stats is never served)" sh -c \
  "CLIPSEEK_ENGINE='$TMP/spy' '$BIN' --data-dir '$D' stats > /dev/null 2>&1; grep -qx -- '--data-dir $D stats' '$TMP/execd'"
for a in "--data-dir $D list --json" "--data-dir $D pick" "--data-dir $D show 1 --json" "--data-dir $D status --json" \
  "--data-dir $D search hello" "--data-dir $D copy 9999" "--threads 2 --data-dir $D search hello --format tsv" \
  "--dtype q8 --device cpu --data-dir $D search zzzqqq" "--data-dir $D --threads 1 list --json --limit 1" \
  "--data-dir $D list --threads 2 --json" "--data-dir $TMP/elsewhere --data-dir $D status" \
  "--data-dir $D --threads 2 search --help" "--data-dir $D --threads x search hello" \
  "--data-dir $D --threads 0 list" "--data-dir $D --threads 1025 list" "--data-dir $D --dtype f64 list" \
  "--data-dir $D --dtype default list" "--data-dir $D --device gpu status" "--data-dir $D --device vulkan:x pick" \
  "--data-dir $D list --bogus" "--data-dir $D show 9999"; do
  # shellcheck disable=SC2086
  check "served with leading options '$(echo "$a" | sed "s|$TMP|T|g")' as the engine, not exec'd" served_same $a
done
# what the front cannot read goes to the engine, which says why (same bytes and status)
for a in "--data-dir" "list --threads" "--threads" "--threads 2" "--data-dir $D" "--data-dir $D --bogus" \
  "--data-dir $D nope"; do
  # shellcheck disable=SC2086
  check "'$(echo "$a" | sed "s|$TMP|T|g")' as the engine" same $a
done
check "an empty --data-dir as the engine" same --data-dir "" list
# help and --version after common options, as without them
for a in "--threads 2 help" "--data-dir $D help search" "--dtype q8 --version"; do
  # shellcheck disable=SC2086
  check "'$(echo "$a" | sed "s|$TMP|T|g")' as the engine" same $a
done
check "--threads 2 --version: the version" sh -c "'$BIN' --threads 2 --version | grep -q '^clipseek [0-9]'"
check "--data-dir D help: the usage, exit 0" sh -c "'$BIN' --data-dir '$D' help | grep -q '^usage: clipseek COMMAND'"
# a 300 KB entry under `| head -c 10`: the command dies of SIGPIPE, and so does the front
( "$BIN" show 2; echo "front $?" > "$TMP/rc.f" ) | head -c 10 > /dev/null
( "$ENGINE" show 2; echo "engine $?" > "$TMP/rc.e" ) | head -c 10 > /dev/null
check "show | head: front and engine both die of SIGPIPE ($(cat "$TMP/rc.f" "$TMP/rc.e" | tr '\n' ' '))" \
  sh -c "grep -qx 'front 141' '$TMP/rc.f' && grep -qx 'engine 141' '$TMP/rc.e'"
# the command ran in the server (its fork), not in a new engine: the server's pid is its parent
spid=$(pgrep -P "$DPID" -x clipseek-engine | head -1)
check "the server is the daemon's child" [ -n "$spid" ]

kill -9 "$DPID"
wait "$DPID" 2> /dev/null
DPID=""
check "daemon killed: the server goes too (its socket is removed)" wait_for 100 test ! -e "$TMP/data/engine.sock"
check "and its process" wait_for 100 sh -c "! kill -0 '$spid' 2> /dev/null"
rm -f "$TMP/data/daemon.sock"
check "no daemon: list runs the engine" same list --json

# ---- finding the engine ----
CLIPSEEK_ENGINE=/nonexistent "$BIN" list > "$TMP/o" 2> "$TMP/e"
check "missing engine: exit 127, says so" sh -c "[ $? -eq 127 ] && grep -q 'cannot run the engine /nonexistent' '$TMP/e' && [ ! -s '$TMP/o' ]"
cp "$BIN" "$TMP/lonely"
"$TMP/lonely" list > /dev/null 2> "$TMP/e"
check "front without an engine beside it: exit 127, names the fix" sh -c "[ $? -eq 127 ] && grep -q 'make install' '$TMP/e'"
check "help needs no engine" sh -c "'$TMP/lonely' help | grep -q '^usage: clipseek'"
mkdir -p "$TMP/inst/bin" "$TMP/inst/libexec/clipseek"
cp "$BIN" "$TMP/inst/bin/clipseek"
cp "$ENGINE" "$TMP/inst/libexec/clipseek/clipseek-engine"
check "installed layout: bin/clipseek runs ../libexec/clipseek/clipseek-engine" sh -c "'$TMP/inst/bin/clipseek' list | grep -q 'hello front'"

echo "front: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
