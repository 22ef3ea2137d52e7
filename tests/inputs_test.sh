#!/bin/sh
# FILE arguments follow Unix habits: "-" is stdin, and /dev/stdin, a pipe and bash's <(...) are
# read like a file (to their end, within the same size bounds), for embed, tokenize, preprocess,
# search --image and add. Each result is compared with the same command on a regular file.
# Ends with "inputs: N passed, N failed, N skipped".
set -u
BIN=$(readlink -f "${CLIPSEEK:-build/clipseek}")
FX=${CLIPSEEK_FIXTURES:-../shared/fixtures}
TINY=$FX/tiny-clip-quickgelu-p32
IMG=$FX/images/chelsea.png
. "$(dirname "$0")/testlib.sh"
if [ ! -d "$TINY" ] || [ ! -f "$IMG" ] || ! command -v bash > /dev/null; then
  echo "[SKIP] inputs: needs the tiny-clip-quickgelu-p32 fixture, images/ and bash"
  echo "inputs: 0 passed, 0 failed, 1 skipped"; exit 0
fi
TMP=$(mktemp -d /tmp/clipseek-inputs-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# embed keeps converted (q8) weights in a data dir: the test's own, never the user's
export CLIPSEEK_DATA_DIR="$TMP/embed-data"
printf 'a photo of a cat\nHello, World!\n' > "$TMP/texts"

"$BIN" embed --model "$TINY" --texts-from "$TMP/texts" > "$TMP/ref" 2> "$TMP/err"
check "embed from a regular file" [ -s "$TMP/ref" ]
"$BIN" embed --model "$TINY" --texts-from - < "$TMP/texts" > "$TMP/o1" 2> "$TMP/err"
check "embed --texts-from - (stdin redirect)" cmp -s "$TMP/o1" "$TMP/ref"
cat "$TMP/texts" | "$BIN" embed --model "$TINY" --texts-from - > "$TMP/o2" 2> "$TMP/err"
check "embed --texts-from - (pipe)" cmp -s "$TMP/o2" "$TMP/ref"
cat "$TMP/texts" | "$BIN" embed --model "$TINY" --texts-from /dev/stdin > "$TMP/o3" 2> "$TMP/err"
check "embed --texts-from /dev/stdin (pipe)" cmp -s "$TMP/o3" "$TMP/ref"
bash -c '"$1" embed --model "$2" --texts-from <(cat "$3")' _ "$BIN" "$TINY" "$TMP/texts" > "$TMP/o4" 2> "$TMP/err"
check "embed --texts-from <(...)" cmp -s "$TMP/o4" "$TMP/ref"

"$BIN" tokenize --model "$TINY" < "$TMP/texts" > "$TMP/tref"
bash -c '"$1" tokenize --model "$2" --texts-from <(cat "$3")' _ "$BIN" "$TINY" "$TMP/texts" > "$TMP/t1" 2> "$TMP/err"
check "tokenize --texts-from <(...)" cmp -s "$TMP/t1" "$TMP/tref"
check "tokenize output not empty" [ "$(wc -l < "$TMP/tref")" -eq 2 ]

"$BIN" preprocess --model "$TINY" --image "$IMG" --out "$TMP/px.f32"
"$BIN" embed --model "$TINY" --image "$IMG" > "$TMP/iref"
cat "$IMG" | "$BIN" embed --model "$TINY" --image - > "$TMP/i1" 2> "$TMP/err"
check "embed --image - (pipe)" cmp -s "$TMP/i1" "$TMP/iref"
bash -c '"$1" embed --model "$2" --image <(cat "$3")' _ "$BIN" "$TINY" "$IMG" > "$TMP/i2" 2> "$TMP/err"
check "embed --image <(...)" cmp -s "$TMP/i2" "$TMP/iref"
cat "$TMP/px.f32" | "$BIN" embed --model "$TINY" --pixel-values /dev/stdin > "$TMP/p1" 2> "$TMP/err"
check "embed --pixel-values /dev/stdin equals --image" cmp -s "$TMP/p1" "$TMP/iref"
cat "$IMG" | "$BIN" preprocess --model "$TINY" --image - --out "$TMP/px2.f32" 2> "$TMP/err"
check "preprocess --image - (pipe)" cmp -s "$TMP/px2.f32" "$TMP/px.f32"
"$BIN" preprocess --model "$TINY" --image "$IMG" --out - > "$TMP/px3.f32" 2> "$TMP/err"
check "preprocess --out - (stdout)" cmp -s "$TMP/px3.f32" "$TMP/px.f32"

# the bounds still hold for a stream: 1 byte over 3 x 224 x 224 float32 is refused by size
head -c $((3 * 224 * 224 * 4 + 1)) /dev/zero | "$BIN" embed --model "$TINY" --pixel-values - > /dev/null 2> "$TMP/err"
check "wrong-size stream refused" grep -q "expected" "$TMP/err"
"$BIN" embed --model "$TINY" --texts-from "$TMP" > /dev/null 2> "$TMP/err"
check "a folder is refused with a reason" grep -q "is a folder" "$TMP/err"

export CLIPSEEK_DATA_DIR="$TMP/data"
id=$(bash -c '"$1" add <(printf "from a process substitution")' _ "$BIN" 2> "$TMP/err")
check "add <(...) stores the text" sh -c "'$BIN' show $id 2> /dev/null | grep -q 'from a process substitution'"
echo "inputs: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
