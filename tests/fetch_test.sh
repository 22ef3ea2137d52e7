#!/bin/sh
# clipseek model fetch against a loopback stand-in for the Hugging Face hub (tests/hf_server.py):
# a full fetch, an interrupted download resumed with a Range request, a bad checksum, a missing
# repository. Ends with "N passed, N failed, N skipped".
set -u
BIN=$(readlink -f "${CLIPSEEK:-build/clipseek}")
FX=${CLIPSEEK_FIXTURES:-../shared/fixtures}
. "$(dirname "$0")/testlib.sh"
if [ ! -d "$FX/toyworld-clip" ] || ! command -v python3 > /dev/null; then
  skip_fixture 1 "fetch: needs the toyworld-clip fixture and python3"
  echo "fetch: $pass passed, $fail failed, $skip skipped"; [ "$fail" -eq 0 ]; exit
fi
FXA=$(readlink -f "$FX")
TMP=$(mktemp -d /tmp/clipseek-fetch-XXXXXX)
SPID=
serve() {
  [ -n "$SPID" ] && kill "$SPID" 2> /dev/null
  rm -f "$TMP/port"
  python3 tests/hf_server.py "$FXA" "$TMP/port" "$1" 2>> "$TMP/server-$1.log" & SPID=$!
  for _k in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
  export HF_ENDPOINT="http://127.0.0.1:$(cat "$TMP/port")"
}
trap '[ -n "$SPID" ] && kill $SPID 2> /dev/null; rm -rf "$TMP"' EXIT
export CLIPSEEK_DATA_DIR="$TMP/data"
M="$TMP/data/models/test--toyworld-clip"

serve ok
"$BIN" model fetch test/toyworld-clip > "$TMP/out" 2> "$TMP/err"
check "fetch succeeds" [ $? -eq 0 ]
check "weights identical" cmp -s "$M/model.safetensors" "$FX/toyworld-clip/model.safetensors"
check "no .part left" [ -z "$(find "$M" -name '*.part')" ]
check "model info works" sh -c "'$BIN' model info '$M' | grep -q 'patch 8'"
check "becomes the model in use" sh -c "'$BIN' model list | grep -q '^\* $M'"
check "followed the redirect" grep -q "/cdn/toyworld-clip/model.safetensors" "$TMP/server-ok.log"

rm -rf "$TMP/data"
serve cut
"$BIN" model fetch test/toyworld-clip > /dev/null 2> "$TMP/err"
check "interrupted download fails" [ $? -eq 1 ]
check "it says it can resume" grep -q "resume" "$TMP/err"
check "partial file kept as .part" [ -s "$M/model.safetensors.part" ]
check "nothing under the real name" [ ! -e "$M/model.safetensors" ]
"$BIN" model fetch test/toyworld-clip > /dev/null 2> "$TMP/err"
check "second fetch completes" [ $? -eq 0 ]
check "resumed with a Range request" grep -q "model.safetensors range=bytes=[1-9]" "$TMP/server-cut.log"
check "resumed file identical" cmp -s "$M/model.safetensors" "$FX/toyworld-clip/model.safetensors"

rm -rf "$TMP/data"
serve badsum
"$BIN" model fetch test/toyworld-clip > /dev/null 2> "$TMP/err"
check "bad checksum fails" [ $? -eq 1 ]
check "checksum message" grep -q "checksum mismatch" "$TMP/err"
check "bad download deleted" [ ! -e "$M/model.safetensors" ] && [ ! -e "$M/model.safetensors.part" ]

serve ok
"$BIN" model fetch nobody/nothing > /dev/null 2> "$TMP/err"
check "missing repository" grep -q "404" "$TMP/err"
"$BIN" model fetch notarepo > /dev/null 2>&1
check "bad repository name" [ $? -eq 2 ]
echo "fetch: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
