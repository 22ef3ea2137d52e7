#!/bin/sh
# CLI contract tests for BERT-family sentence-transformers folders: tokenize, embed and model
# info give the same formats as for CLIP models, and the numbers of the fixtures' references.
# Ends with the line "N passed, N failed, N skipped".
set -u
BIN=${CLIPSEEK:-build/clipseek}
FX=${CLIPSEEK_FIXTURES:-../shared/fixtures}
DB=$FX/tiny-distilbert-multilingual
MB=$FX/tiny-bert-minilm
TMP=$(mktemp -d /tmp/clipseek-textcli-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# embed keeps converted (q8) weights in the data dir: the test's own, never the user's
export CLIPSEEK_DATA_DIR="$TMP/data"
. "$(dirname "$0")/testlib.sh"
REF="python3 $(dirname "$0")/textref.py"

if [ ! -d "$DB" ] || [ ! -d "$MB" ]; then
  skip_fixture 1 "text-cli: fixtures $DB, $MB not found (set CLIPSEEK_FIXTURES)"
  echo "text-cli: $pass passed, $fail failed, $skip skipped"; [ "$fail" -eq 0 ]; exit
fi

# tokenize: [CLS] ... [SEP] per line, ids from the model's vocabulary
printf 'Hello world\n\n[MASK] ein roter Stern\n' | $BIN tokenize --model "$DB" > "$TMP/tok"
check "tokenize exit 0" [ $? -eq 0 ]
check "tokenize cased ids" [ "$(sed -n 1p "$TMP/tok")" = "101 31178 11356 102" ]
check "tokenize empty line" [ "$(sed -n 2p "$TMP/tok")" = "101 102" ]
check "tokenize special in text" [ "$(sed -n 3p "$TMP/tok" | cut -d' ' -f2)" = "103" ]
check "tokenize uncased" [ "$(echo 'Hello World' | $BIN tokenize --model "$MB")" = "101 7592 2088 102" ]
check "tokenize toy vocab specials" [ "$(echo '' | $BIN tokenize --model "$FX/toyworld-multilingual")" = "2 3" ]
long=$(i=0; while [ $i -lt 200 ]; do printf 'cat '; i=$((i + 1)); done)
check "tokenize --max-length 128" [ "$(echo "$long" | $BIN tokenize --model "$MB" --max-length 128 | wc -w)" -eq 128 ]

# embed: the sentence embedding after every module, as the references
$REF json-get "$DB/refs.json" single_text > "$TMP/single.txt"
$BIN embed --model "$DB" --no-normalize --texts-from "$TMP/single.txt" > "$TMP/e1"
check "embed exit 0" [ $? -eq 0 ]
d=$($REF max-diff "$DB/refs.safetensors" single_sentence_embedding "$TMP/e1")
check "embed distilbert+dense within 1e-5 ($d)" python3 -c "import sys; sys.exit(0 if float('$d') < 1e-5 else 1)"
$REF json-get "$MB/refs.json" long_text > "$TMP/long.txt"
$BIN embed --model "$MB" --texts-from "$TMP/long.txt" > "$TMP/e2"
d=$($REF max-diff "$MB/refs.safetensors" long_sentence_embedding "$TMP/e2")
check "embed bert long text truncated to 256 ($d)" python3 -c "import sys; sys.exit(0 if float('$d') < 1e-5 else 1)"
$BIN embed --model "$DB" --text a --text b --text c > "$TMP/e3"
check "embed one line per text" [ "$(wc -l < "$TMP/e3")" -eq 3 ]
check "embed 32 numbers" [ "$(sed -n 1p "$TMP/e3" | tr ',' '\n' | wc -l)" -eq 32 ]
$BIN embed --model "$DB" --text a --format f32 > "$TMP/e.f32"
check "embed f32 size" [ "$(wc -c < "$TMP/e.f32")" -eq 128 ]
$BIN embed --model "$DB" --image "$FX/images/chelsea.png" > /dev/null 2>"$TMP/err"
check "embed image refused (usage)" [ $? -eq 2 ]
check "embed image message" grep -q "text model" "$TMP/err"

# model info
$BIN model info "$DB" > "$TMP/info"
check "info exit 0" [ $? -eq 0 ]
check "info modules" grep -q "Pooling(mean) -> Dense(64->32)" "$TMP/info"
check "info json" sh -c "$BIN model info --json '$MB' | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"family\"]==\"bert\" and d[\"dim\"]==64 and d[\"tokenizer\"][\"lowercase\"] else 1)'"

# bad folders: a clear message, exit 1
mkdir -p "$TMP/bad" && cp "$MB/config.json" "$MB/vocab.txt" "$TMP/bad/"
printf '[{"path": "", "type": "sentence_transformers.models.Transformer"}, {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]' > "$TMP/bad/modules.json"
$BIN embed --model "$TMP/bad" --text x > /dev/null 2>"$TMP/err"
check "missing weights exit 1" [ $? -eq 1 ]
check "missing weights message" grep -q "model.safetensors" "$TMP/err"

echo "text-cli: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
