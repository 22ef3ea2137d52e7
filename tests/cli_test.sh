#!/bin/sh
# CLI contract tests for the engine commands: exact output formats and exit codes that scripts
# rely on. Uses the fixtures in place ($CLIPSEEK_FIXTURES, else ../shared/fixtures); skips with the
# reason when they are absent. Ends with the line "N passed, N failed, N skipped".
set -u
BIN=${CLIPSEEK:-build/clipseek}
FX=${CLIPSEEK_FIXTURES:-../shared/fixtures}
TINY=$FX/tiny-clip-quickgelu-p32
TMP=$(mktemp -d /tmp/clipseek-cli-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# embed keeps converted (q8) weights in the data dir: the test's own, never the user's
export CLIPSEEK_DATA_DIR="$TMP/data"
. "$(dirname "$0")/testlib.sh"

if [ ! -d "$TINY" ]; then
  skip_fixture 1 "cli: fixture $TINY not found (set CLIPSEEK_FIXTURES)"
  echo "cli: $pass passed, $fail failed, $skip skipped"; [ "$fail" -eq 0 ]; exit
fi

# tokenize: one line of ids per input line, bos/eos included, no truncation by default
printf 'a photo of a cat\n\nHello, World!\n' | $BIN tokenize --model "$TINY" > "$TMP/tok" 2>"$TMP/err"
check "tokenize exit 0" [ $? -eq 0 ]
check "tokenize ids" [ "$(sed -n 1p "$TMP/tok")" = "49406 320 1125 539 320 2368 49407" ]
check "tokenize empty line" [ "$(sed -n 2p "$TMP/tok")" = "49406 49407" ]
check "tokenize punctuation" [ "$(sed -n 3p "$TMP/tok")" = "49406 3306 267 1002 256 49407" ]
check "tokenize line count" [ "$(wc -l < "$TMP/tok")" -eq 3 ]
long=$(i=0; while [ $i -lt 100 ]; do printf 'cat '; i=$((i + 1)); done)
n=$(echo "$long" | $BIN tokenize --model "$TINY" | wc -w)
check "tokenize no truncation" [ "$n" -eq 102 ]
n=$(echo "$long" | $BIN tokenize --model "$TINY" --max-length 77 | wc -w)
check "tokenize --max-length 77" [ "$n" -eq 77 ]
printf '\377\376 bad \300 utf8\n' | $BIN tokenize --model "$TINY" > /dev/null 2>&1
check "tokenize invalid utf-8 ok" [ $? -eq 0 ]

# embed: JSON arrays, one per input, in input order; f32 raw
$BIN embed --model "$TINY" --text "a photo of a cat" --image "$FX/images/chelsea.png" --text mountain > "$TMP/e.json"
check "embed exit 0" [ $? -eq 0 ]
check "embed three lines" [ "$(wc -l < "$TMP/e.json")" -eq 3 ]
check "embed 32 numbers" [ "$(sed -n 1p "$TMP/e.json" | tr ',' '\n' | wc -l)" -eq 32 ]
check "embed json precision" grep -Eq '^\[-?0\.[0-9]{6,}' "$TMP/e.json"
$BIN embed --model "$TINY" --text "a photo of a cat" --format f32 > "$TMP/e.f32"
check "embed f32 size" [ "$(wc -c < "$TMP/e.f32")" -eq 128 ]
$BIN embed --model "$TINY" --token-ids "49406 320 1125 539 320 2368 49407" > "$TMP/ids.json"
check "token-ids equals text" [ "$(cat "$TMP/ids.json")" = "$(sed -n 1p "$TMP/e.json")" ]
printf 'a photo of a cat\nmountain\n' > "$TMP/texts"
$BIN embed --model "$TINY" --texts-from "$TMP/texts" > "$TMP/tf.json"
check "texts-from order" [ "$(sed -n 2p "$TMP/tf.json")" = "$(sed -n 3p "$TMP/e.json")" ]
$BIN preprocess --model "$TINY" --image "$FX/images/chelsea.png" --out "$TMP/px.f32"
check "preprocess size" [ "$(wc -c < "$TMP/px.f32")" -eq $((3 * 224 * 224 * 4)) ]
$BIN embed --model "$TINY" --pixel-values "$TMP/px.f32" > "$TMP/pv.json"
check "pixel-values equals image" [ "$(cat "$TMP/pv.json")" = "$(sed -n 2p "$TMP/e.json")" ]
$BIN embed --model "$TINY" --image "$FX/images/chelsea.png" "$FX/images/coffee.png" --text x > "$TMP/multi.json"
check "image takes several files" [ "$(wc -l < "$TMP/multi.json")" -eq 3 ]
a=$($BIN embed --model "$TINY" --text cat --no-normalize | tr -d '[]' | awk -F', ' '{s=0; for(i=1;i<=NF;i++) s+=$i*$i; print (s > 1.01 || s < 0.99) ? "unnormalized" : "unit"}')
check "no-normalize" [ "$a" = "unnormalized" ]
CLIPSEEK_THREADS=1 $BIN embed --model "$TINY" --text "a photo of a cat" > "$TMP/t1.json"
$BIN embed --threads 2 --model "$TINY" --text "a photo of a cat" > "$TMP/t2.json"
check "threads accepted" [ -s "$TMP/t1.json" ] && [ -s "$TMP/t2.json" ]

# model info
$BIN model info "$TINY" > "$TMP/info" 2>&1
check "model info" grep -q "vision tower   2 layers, width 64" "$TMP/info"
$BIN model info "$TINY" --json > "$TMP/info.json"
check "model info json" grep -q '"projection_dim": 32' "$TMP/info.json"

# PyTorch checkpoint folders: format shown, same embeddings as model.safetensors, hostile refused
TC=$FX/torch-checkpoints
if [ -d "$TC/legacy-f32" ]; then
  $BIN model info "$TC/legacy-f32" --json > "$TMP/tinfo.json"
  check "model info .bin format" grep -q '"format": "pytorch legacy"' "$TMP/tinfo.json"
  $BIN model info "$TC/zip-views" > "$TMP/tinfo" 2>&1
  check "model info strided copies" grep -q "^weights        pytorch zip, 1 strided" "$TMP/tinfo"
  $BIN embed --model "$TC/zip-f32" --text "a photo of a cat" --image "$FX/images/chelsea.png" > "$TMP/te.json"
  $BIN embed --model "$TINY" --text "a photo of a cat" --image "$FX/images/chelsea.png" > "$TMP/se.json"
  check "embed .bin = safetensors" cmp -s "$TMP/te.json" "$TMP/se.json"
  mkdir "$TMP/evil"
  cp "$TINY/config.json" "$TINY/vocab.json" "$TINY/merges.txt" "$TMP/evil/"
  cp "$TC/hostile/os-system.bin" "$TMP/evil/pytorch_model.bin"
  $BIN embed --model "$TMP/evil" --text x > "$TMP/out" 2> "$TMP/err"
  check "hostile .bin exit 1" [ $? -eq 1 ]
  check "hostile .bin message" grep -q "global 'posix.system' is refused" "$TMP/err"
  check "hostile .bin no output" [ ! -s "$TMP/out" ]
else
  echo "[SKIP] cli: fixture $TC not found"; skip=$((skip + 1))
fi

# errors: exit 1 with a message naming the problem, exit 2 for usage; no output on stdout
$BIN embed --model /nonexistent --text x > "$TMP/out" 2> "$TMP/err"
check "missing model exit 1" [ $? -eq 1 ]
check "missing model message" grep -q "/nonexistent" "$TMP/err"
check "no partial output" [ ! -s "$TMP/out" ]
$BIN embed --model "$TINY" --image /nonexistent.png --text x > "$TMP/out" 2> "$TMP/err"
check "missing image exit 1" [ $? -eq 1 ]
check "missing image no output" [ ! -s "$TMP/out" ]
printf 'not an image' > "$TMP/bad.png"
$BIN embed --model "$TINY" --image "$TMP/bad.png" > /dev/null 2> "$TMP/err"
check "bad image exit 1" [ $? -eq 1 ]
check "bad image message" grep -q "not a PNG" "$TMP/err"
$BIN embed --model "$TINY" --token-ids "1 2 banana" > /dev/null 2>&1
check "bad token ids exit 1" [ $? -eq 1 ]
$BIN embed --model "$TINY" --token-ids "49406 99999 49407" > /dev/null 2> "$TMP/err"
check "out-of-vocab id" grep -q "outside the vocabulary" "$TMP/err"
$BIN embed --model "$TINY" --pixel-values "$TMP/texts" > /dev/null 2> "$TMP/err"
check "bad pixel file" grep -q "expected" "$TMP/err"
$BIN embed --model "$TINY" > /dev/null 2>&1
check "nothing to embed exit 2" [ $? -eq 2 ]
$BIN embed --model "$TINY" --format xml --text x > /dev/null 2>&1
check "bad format exit 2" [ $? -eq 2 ]
$BIN frobnicate > /dev/null 2>&1
check "unknown command exit 2" [ $? -eq 2 ]
$BIN --threads 0 model info "$TINY" > /dev/null 2>&1
check "bad threads exit 2" [ $? -eq 2 ]
$BIN tokenize --model "$TINY" --max-length 1 < /dev/null > /dev/null 2>&1
check "bad max-length exit 2" [ $? -eq 2 ]

# image-only commands do not read the tokenizer files: a folder without them still preprocesses
# and embeds images; text input then fails with a message
mkdir "$TMP/notok"
for f in config.json preprocessor_config.json model.safetensors; do ln -s "$(cd "$TINY" && pwd)/$f" "$TMP/notok/$f"; done
$BIN preprocess --model "$TMP/notok" --image "$FX/images/chelsea.png" --out "$TMP/px2.f32" 2> "$TMP/err"
check "preprocess without tokenizer files" cmp -s "$TMP/px.f32" "$TMP/px2.f32"
$BIN embed --model "$TMP/notok" --image "$FX/images/chelsea.png" > "$TMP/img2.json" 2> "$TMP/err"
check "embed --image without tokenizer files" [ "$(head -n 1 "$TMP/multi.json")" = "$(cat "$TMP/img2.json")" ]
$BIN embed --model "$TMP/notok" --text cat > "$TMP/out" 2> "$TMP/err"
check "embed --text needs the tokenizer" grep -q "vocab.json" "$TMP/err"

echo "cli: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
