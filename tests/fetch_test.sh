#!/bin/sh
# clipseek model fetch / use / list against a loopback stand-in for the Hugging Face hub
# (tests/hf_server.py, which answers as huggingface.co does) and a Hugging Face cache:
# every repository shape (safetensors; .bin only, with and without a conversion pull request;
# sharded .bin; gated), the README's quick start, an interrupted download resumed, a bad checksum,
# a missing repository, a mirror without the API, and a cache used with no network at all.
# Ends with "fetch: N passed, N failed, N skipped".
set -u
BIN=$(readlink -f "${CLIPSEEK:-build/clipseek}")
FX=${CLIPSEEK_FIXTURES:-../shared/fixtures}
. "$(dirname "$0")/testlib.sh"
if [ ! -d "$FX/toyworld-clip" ] || [ ! -d "$FX/torch-checkpoints/zip-f32" ] || ! command -v python3 > /dev/null; then
  skip_fixture 1 "fetch: needs the toyworld-clip and torch-checkpoints fixtures and python3"
  echo "fetch: $pass passed, $fail failed, $skip skipped"; [ "$fail" -eq 0 ]; exit
fi
FXA=$(readlink -f "$FX")
TMP=$(mktemp -d /tmp/clipseek-fetch-XXXXXX)
SPID=
stop() { [ -n "$SPID" ] && kill "$SPID" 2> /dev/null && wait "$SPID" 2> /dev/null; SPID=; }
serve() { # serve MODE: a fresh server; its log is $TMP/server-MODE.log
  stop
  rm -f "$TMP/port"
  python3 tests/hf_server.py "$FXA" "$TMP/port" "$1" "$TMP/gen" 2>> "$TMP/server-$1.log" & SPID=$!
  for _k in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
  read -r HUBPORT CDNPORT < "$TMP/port"
  export HF_ENDPOINT="http://127.0.0.1:$HUBPORT"
}
trap 'stop; rm -rf "$TMP"' EXIT
unset HF_TOKEN HF_HOME HF_HUB_OFFLINE HF_TOKEN_PATH
export CLIPSEEK_DATA_DIR="$TMP/data" HF_HUB_CACHE="$TMP/hf"
# the commit a revision listing names; a git blob SHA-1 (python3: CI installs only packages.txt)
api_sha() { python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["sha"])' "$1"; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }
git_sha1() { python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$1"; }
# test/st-bin-only's root weights: the fixture's safetensors as the PyTorch checkpoint torch.save writes
mkdir -p "$TMP/gen/st-bin-only"
python3 tests/st_to_bin.py "$FX/tiny-distilbert-multilingual/model.safetensors" "$TMP/gen/st-bin-only/pytorch_model.bin"
mkdir -p "$TMP/gen/st-evil"
printf '[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "name": "1", "path": "../../../evil", "type": "sentence_transformers.models.Pooling"}]\n' > "$TMP/gen/st-evil/modules.json"
# a free port where nothing listens: HF_ENDPOINT there proves no request is made
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

## safetensors on main
# fetched LABEL REPO: fetches REPO (main), checks that it succeeded into the snapshot of the hub's
# commit; sets R (the repository's cache folder), SHA and S (the snapshot folder)
fetched() {
  R=$HF_HUB_CACHE/models--$(echo "$2" | sed 's|/|--|')
  "$BIN" model fetch "$2" > "$TMP/out" 2> "$TMP/err"
  check "${1}fetch succeeds" [ $? -eq 0 ]
  SHA=$(api_sha "$HF_ENDPOINT/api/models/$2/revision/main")
  S=$(cat "$TMP/out")
  check "${1}prints the snapshot folder of the hub's commit" [ "$S" = "$R/snapshots/$SHA" ]
}

serve ok
fetched "" test/toyworld-clip
check "refs/main holds the commit" [ "$(cat "$R/refs/main")" = "$SHA" ]
check "weights identical" cmp -s "$S/model.safetensors" "$FX/toyworld-clip/model.safetensors"
check "snapshot file is a relative link to blobs/<sha256>" \
  [ "$(readlink "$S/model.safetensors")" = "../../blobs/$(sha256 "$FX/toyworld-clip/model.safetensors")" ]
check "small file's blob is named by its git SHA-1" \
  [ "$(readlink "$S/config.json")" = "../../blobs/$(git_sha1 "$FX/toyworld-clip/config.json")" ]
check "no .incomplete left" [ -z "$(find "$R" -name '*.incomplete')" ]
check "blobs are 0600, folders 0700" sh -c "[ -z \"\$(find '$R' -type f ! -perm 600)\" ] && [ -z \"\$(find '$HF_HUB_CACHE' -type d ! -perm 700)\" ]"
check "listed siblings once, no blind probing" [ "$(grep -c 'GET /api/models/test/toyworld-clip/revision/main' "$TMP/server-ok.log")" -eq 2 ]
check "small files through the hub's resolve cache (its relative 307 followed)" grep -q "GET /api/resolve-cache/models/test/toyworld-clip/$SHA/config.json" "$TMP/server-ok.log"
check "followed the redirect to the CDN host" grep -q "^host=localhost:$CDNPORT GET /repos/" "$TMP/server-ok.log"
check "model info works" sh -c "'$BIN' model info '$S' | grep -q 'patch 8'"
check "model info says where it came from" sh -c "'$BIN' model info '$S' | grep -q 'source *test/toyworld-clip at main (commit $SHA, safetensors'"
check "model info --json has the source" sh -c "'$BIN' model info '$S' --json | python3 -c 'import json,sys; s=json.load(sys.stdin)[\"source\"]; assert s[\"commit\"]==\"$SHA\" and s[\"repo\"]==\"test/toyworld-clip\"'"
check "becomes the model in use" sh -c "'$BIN' model list | grep -q '^\* $S'"
n=$(wc -l < "$TMP/server-ok.log")
"$BIN" model fetch test/toyworld-clip > "$TMP/out2" 2> "$TMP/err"
check "second fetch: from the cache" grep -q "in the cache already" "$TMP/err"
check "second fetch: no request" [ "$(wc -l < "$TMP/server-ok.log")" -eq "$n" ]

## .bin only, no conversion pull request
R=$HF_HUB_CACHE/models--test--bin-only
"$BIN" model fetch test/bin-only > "$TMP/out" 2> "$TMP/err"; rc=$?
S=$R/snapshots/$(cat "$R/refs/main" 2> /dev/null)
check "bin-only: pytorch_model.bin downloaded" cmp -s "$S/pytorch_model.bin" "$FX/torch-checkpoints/zip-f32/pytorch_model.bin"
check "bin-only: asked for the conversion pull request first" grep -q "GET /api/models/test/bin-only/discussions" "$TMP/server-ok.log"
check "bin-only: no safetensors download attempted" sh -c "! grep -q 'bin-only/resolve/.*safetensors' '$TMP/server-ok.log'"
check "bin-only: fetch succeeds, the .bin loads" [ $rc -eq 0 ]
check "bin-only: model info names the format" sh -c "'$BIN' model info '$S' | grep -q 'source .*pytorch weights'"

## .bin on main, the conversion bot's open pull request has model.safetensors
R=$HF_HUB_CACHE/models--test--bin-with-pr
"$BIN" model fetch test/bin-with-pr > "$TMP/out" 2> "$TMP/err"
check "with PR: fetch succeeds" [ $? -eq 0 ]
PRSHA=$(api_sha "$HF_ENDPOINT/api/models/test/bin-with-pr/revision/refs%2Fpr%2F3")
check "with PR: refs/refs/pr/3 holds the pull request's commit" [ "$(cat "$R/refs/refs/pr/3" 2> /dev/null)" = "$PRSHA" ]
check "with PR: the open bot PR (#3), not the closed one or another author's" [ "$(cat "$TMP/out")" = "$R/snapshots/$PRSHA" ]
check "with PR: weights are the conversion's" cmp -s "$R/snapshots/$PRSHA/model.safetensors" "$FX/tiny-clip-quickgelu-p32/model.safetensors"
check "with PR: pytorch_model.bin not downloaded" sh -c "! grep -q 'bin-with-pr/resolve/.*pytorch_model.bin' '$TMP/server-ok.log'"
check "with PR: every file from the PR's commit" sh -c "! grep 'bin-with-pr/resolve/' '$TMP/server-ok.log' | grep -v -q '/resolve/$PRSHA/'"
check "with PR: model info names the pull request" sh -c "'$BIN' model info '$R/snapshots/$PRSHA' | grep -q 'at refs/pr/3'"

## sharded .bin
R=$HF_HUB_CACHE/models--test--sharded-bin
"$BIN" model fetch test/sharded-bin > "$TMP/out" 2> "$TMP/err"
S=$R/snapshots/$(cat "$R/refs/main" 2> /dev/null)
check "sharded: index and both shards" sh -c "cmp -s '$S/pytorch_model.bin.index.json' '$FX/torch-checkpoints/sharded-f32/pytorch_model.bin.index.json' && cmp -s '$S/pytorch_model-00001-of-00002.bin' '$FX/torch-checkpoints/sharded-f32/pytorch_model-00001-of-00002.bin' && cmp -s '$S/pytorch_model-00002-of-00002.bin' '$FX/torch-checkpoints/sharded-f32/pytorch_model-00002-of-00002.bin'"
check "sharded: model info names the format" sh -c "'$BIN' model info '$S' 2>&1 | grep -q 'pytorch-sharded'"

## gated
"$BIN" model fetch test/gated > /dev/null 2> "$TMP/err"
check "gated, no token: fails" [ $? -eq 1 ]
check "gated, no token: says accept the conditions and set HF_TOKEN" sh -c "grep -q 'gated' '$TMP/err' && grep -q 'accept' '$TMP/err' && grep -q 'HF_TOKEN' '$TMP/err'"
HF_TOKEN=hf_test_token_noaccess "$BIN" model fetch test/gated > /dev/null 2> "$TMP/err"
check "gated, token without access: says so" grep -q "token in use has no access" "$TMP/err"
HF_TOKEN=hf_test_token_ok "$BIN" model fetch test/gated > "$TMP/out" 2> "$TMP/err"
check "gated, HF_TOKEN: fetch succeeds" [ $? -eq 0 ]
check "gated: the token went to the hub" grep -q "^host=127.0.0.1:$HUBPORT .*/test/gated/resolve/.* auth=yes" "$TMP/server-ok.log"
check "gated: the token followed the same-host redirect" grep -q "^host=127.0.0.1:$HUBPORT GET /api/resolve-cache/models/test/gated/.* auth=yes" "$TMP/server-ok.log"
check "gated: the token never went to the CDN host" sh -c "! grep '^host=localhost' '$TMP/server-ok.log' | grep -q 'auth=yes'"
check "gated: the token is in no output" sh -c "! grep -q hf_test_token_ok '$TMP/err' '$TMP/out'"
rm -rf "$HF_HUB_CACHE/models--test--gated"
mkdir -p "$TMP/hfhome" && printf 'hf_test_token_ok\n' > "$TMP/hfhome/token"
HF_HOME="$TMP/hfhome" "$BIN" model fetch test/gated > /dev/null 2> "$TMP/err"
check "gated: token read from \$HF_HOME/token" [ $? -eq 0 ]

## missing repository, bad name
"$BIN" model fetch nobody/nothing > /dev/null 2> "$TMP/err"
check "missing repository (401 RepoNotFound)" grep -q "repository not found" "$TMP/err"
check "missing repository leaves nothing in the cache" [ ! -e "$HF_HUB_CACHE/models--nobody--nothing" ]
"$BIN" model fetch notarepo > /dev/null 2>&1
check "bad repository name" [ $? -eq 2 ]
"$BIN" model fetch test/toyworld-clip --revision nosuch > /dev/null 2> "$TMP/err"
check "missing revision (404 RevisionNotFound)" grep -q "revision 'nosuch' not found" "$TMP/err"
"$BIN" model fetch test/toyworld-clip --revision ../../../x > /dev/null 2> "$TMP/err"
check "a revision that would escape refs/ is refused" sh -c "grep -q 'not a revision' '$TMP/err' && [ ! -e '$HF_HUB_CACHE/x' ] && [ ! -e '$TMP/x' ]"

## sentence-transformers repositories: the root, then each module folder modules.json names
ST=$FX/tiny-distilbert-multilingual
INUSE=$("$BIN" model list | grep '^\*')
fetched "st: " test/st-multilingual
check "st: says it is a sentence-transformers model and how to use it" sh -c "grep -q 'a sentence-transformers model' '$TMP/err' && grep -q 'model use CLIP_MODEL --text-model test/st-multilingual' '$TMP/err'"
check "st: root and module files identical" sh -c 'for f in modules.json sentence_bert_config.json config_sentence_transformers.json config.json vocab.txt tokenizer.json tokenizer_config.json model.safetensors 1_Pooling/config.json 2_Dense/config.json 2_Dense/model.safetensors; do cmp -s "$1/$f" "$2/$f" || exit 1; done' - "$S" "$ST"
check "st: a module file is a relative link to blobs/<sha256>" \
  [ "$(readlink "$S/2_Dense/model.safetensors")" = "../../../blobs/$(sha256 "$ST/2_Dense/model.safetensors")" ]
check "st: a module's files from the resolve URL with the subfolder path" grep -q "HEAD /test/st-multilingual/resolve/$SHA/1_Pooling/config.json " "$TMP/server-ok.log"
check "st: 2_Dense's pytorch_model.bin not fetched (its safetensors is there)" sh -c "[ ! -e '$S/2_Dense/pytorch_model.bin' ] && ! grep -q 'st-multilingual/resolve/.*2_Dense/pytorch_model.bin' '$TMP/server-ok.log'"
check "st: no onnx/, openvino/, TensorFlow, Rust weights or README fetched" sh -c "! grep -E 'st-multilingual/resolve/.*(onnx|openvino|tf_model|rust_model|README)' '$TMP/server-ok.log' && [ ! -e '$S/onnx' ] && [ ! -e '$S/README.md' ]"
check "st: embeds as the fixture folder does" sh -c "[ \"\$('$BIN' embed --model '$S' --text 'Guten Morgen, Welt')\" = \"\$('$BIN' embed --model '$ST' --text 'Guten Morgen, Welt')\" ]"
check "st: model info names the source and the modules" sh -c "'$BIN' model info '$S' > '$TMP/info' && grep -q 'Dense' '$TMP/info'"
check "st: a text model does not become the CLIP model in use" [ "$("$BIN" model list | grep '^\*')" = "$INUSE" ]
n=$(wc -l < "$TMP/server-ok.log")
"$BIN" model fetch test/st-multilingual > /dev/null 2> "$TMP/err"
check "st: second fetch from the cache, no request" sh -c "grep -q 'in the cache already' '$TMP/err' && [ \$(wc -l < '$TMP/server-ok.log') -eq $n ]"
# a snapshot that lacks a module's file is not complete: fetched again, only what is missing
rm "$S/1_Pooling/config.json"
"$BIN" model fetch test/st-multilingual > /dev/null 2> "$TMP/err"
check "st: a missing module file is fetched again" sh -c "cmp -s '$S/1_Pooling/config.json' '$ST/1_Pooling/config.json' && [ \$(sed -n '$((n + 1)),\$p' '$TMP/server-ok.log' | grep -c '^host=localhost') -eq 0 ]"

"$BIN" model fetch test/st-minilm > "$TMP/out" 2> "$TMP/err"
S=$(cat "$TMP/out")
check "st, MiniLM (Normalize has no folder): fetched, embeds as the fixture" sh -c "[ -n '$S' ] && [ \"\$('$BIN' embed --model '$S' --text 'hello world')\" = \"\$('$BIN' embed --model '$FX/tiny-bert-minilm' --text 'hello world')\" ]"

R=$HF_HUB_CACHE/models--test--st-bin-only
"$BIN" model fetch test/st-bin-only > "$TMP/out" 2> "$TMP/err"
check "st, .bin only: fetch succeeds" [ $? -eq 0 ]
S=$(cat "$TMP/out")
check "st, .bin only: the root and 2_Dense pytorch_model.bin" sh -c "cmp -s '$S/pytorch_model.bin' '$TMP/gen/st-bin-only/pytorch_model.bin' && cmp -s '$S/2_Dense/pytorch_model.bin' '$ST/2_Dense/pytorch_model.bin'"
check "st, .bin only: asked for the conversion pull request first" grep -q "GET /api/models/test/st-bin-only/discussions" "$TMP/server-ok.log"
check "st, .bin only: named pytorch weights" grep -q "pytorch weights, a sentence-transformers model" "$TMP/err"
check "st, .bin only: embeds as the safetensors fixture" sh -c "[ \"\$('$BIN' embed --model '$S' --text 'Bonjour')\" = \"\$('$BIN' embed --model '$ST' --text 'Bonjour')\" ]"

"$BIN" model fetch test/st-evil > /dev/null 2> "$TMP/err"
check "st: a module path leaving the snapshot is refused" sh -c "grep -q \"module path '../../../evil' is not a plain relative folder\" '$TMP/err' && ! grep -q '\.\./' '$TMP/server-ok.log' && [ ! -e '$HF_HUB_CACHE/models--test--st-evil/refs/main' ] && [ ! -e '$HF_HUB_CACHE/evil' ]"

"$BIN" model fetch test/not-st > /dev/null 2> "$TMP/err"
check "not a sentence-transformers repository: fails" [ $? -eq 1 ]
check "not a sentence-transformers repository: says what each kind needs" grep -q "not a model repository this program can use (a CLIP model needs config.json, vocab.json, merges.txt; a sentence-transformers model needs modules.json, config.json, vocab.txt)" "$TMP/err"
check "not a sentence-transformers repository: nothing downloaded" [ ! -e "$HF_HUB_CACHE/models--test--not-st" ]

# model use CLIP --text-model REPO from the cache, with no network
"$BIN" model fetch test/st-toyworld > /dev/null 2>&1
SHA=$(api_sha "$HF_ENDPOINT/api/models/test/st-toyworld/revision/main")
ST_EP=$HF_ENDPOINT
export HF_ENDPOINT="http://127.0.0.1:$CLOSED"
"$BIN" model use test/toyworld-clip --text-model test/st-toyworld > "$TMP/out" 2> "$TMP/err"
check "st: model use CLIP --text-model REPO from the cache" sh -c "grep -qx 'queries embedded by $HF_HUB_CACHE/models--test--st-toyworld/snapshots/$SHA' '$TMP/out'"
"$BIN" add --wait "$FX/toyworld-eval/img00.png" "$FX/toyworld-eval/img01.png" "$FX/toyworld-eval/img02.png" > /dev/null 2>&1
check "st: a German query finds its image through the fetched text model" sh -c "'$BIN' search 'ein rotes Kreuz' --kind image --limit 1 --json 2> /dev/null | grep -q 'toyworld-eval/img01.png\"'"
check "st: a Japanese query too" sh -c "'$BIN' search '紫の円' --kind image --limit 1 --json 2> /dev/null | grep -q 'toyworld-eval/img02.png\"'"
"$BIN" model use test/toyworld-clip --text-model test/st-multilingual > /dev/null 2> "$TMP/err"
check "st: a text model of another space is refused" grep -q "embeds into 32 dimensions" "$TMP/err"
"$BIN" model use test/toyworld-clip --text-model test/st-nowhere > /dev/null 2> "$TMP/err"
check "st: not in the cache: says to fetch it" grep -q "download it with \`clipseek model fetch test/st-nowhere\`" "$TMP/err"
rm "$HF_HUB_CACHE/models--test--st-toyworld/snapshots/$SHA/2_Dense/config.json"
"$BIN" model use test/toyworld-clip --text-model test/st-toyworld > /dev/null 2> "$TMP/err"
check "st: a snapshot without a module's file is not taken from the cache" grep -q "not in the Hugging Face cache" "$TMP/err"
"$BIN" model use test/toyworld-clip > /dev/null 2>&1
export HF_ENDPOINT=$ST_EP

# searches_with LABEL: the fetched model in use works for both towers: the image finds itself by
# meaning (a lone entry gives a text query no distribution for the meaning floor), and a text
# query embeds and runs (no matches is an answer, an error is not)
searches_with() {
  "$BIN" add --wait "$FX/toyworld-eval/img00.png" > /dev/null 2>&1
  check "$1: search works with it" sh -c "'$BIN' search --image '$FX/toyworld-eval/img00.png' 2> /dev/null | grep -q image"
  check "$1: a text query runs" sh -c "'$BIN' search 'a photo' > /dev/null 2> '$TMP/q.err'; [ \$? -le 1 ] && [ ! -s '$TMP/q.err' ] || grep -qx 'clipseek: no matches' '$TMP/q.err'"
}

## the README's quick start: `model fetch` with no argument; the default repo is .bin-only on main
rm -rf "$TMP/data"
"$BIN" model fetch > "$TMP/out" 2> "$TMP/err"
check "quick start: model fetch succeeds" [ $? -eq 0 ]
check "quick start: took the conversion pull request" grep -q "at refs/pr/66" "$TMP/err"
check "quick start: the model is in use" sh -c "'$BIN' model list | grep -q '^\* $(cat "$TMP/out")'"
searches_with "quick start"

## the quick start when the default repository has only pytorch_model.bin (no conversion PR)
rm -rf "$HF_HUB_CACHE" "$TMP/data"
serve nopr
"$BIN" model fetch > "$TMP/out" 2> "$TMP/err"
check "quick start, .bin only: model fetch succeeds" [ $? -eq 0 ]
check "quick start, .bin only: pytorch_model.bin from main" sh -c "grep -q 'at main (commit [0-9a-f]*, pytorch weights)' '$TMP/err' && cmp -s '$(cat "$TMP/out")/pytorch_model.bin' '$FX/torch-checkpoints/zip-f32/pytorch_model.bin'"
searches_with "quick start, .bin only"

## an interrupted download resumes
rm -rf "$HF_HUB_CACHE" "$TMP/data"
serve cut
R=$HF_HUB_CACHE/models--test--toyworld-clip
"$BIN" model fetch test/toyworld-clip > /dev/null 2> "$TMP/err"
check "interrupted download fails" [ $? -eq 1 ]
check "it says it can resume" grep -q "resume" "$TMP/err"
check "partial file kept as blobs/<sha256>.incomplete" [ -s "$R/blobs/$(sha256 "$FX/toyworld-clip/model.safetensors").incomplete" ]
check "nothing under the real name" [ ! -e "$R/blobs/$(sha256 "$FX/toyworld-clip/model.safetensors")" ]
check "no ref to an incomplete snapshot" [ ! -e "$R/refs/main" ]
"$BIN" model fetch test/toyworld-clip > "$TMP/out" 2> "$TMP/err"
check "second fetch completes" [ $? -eq 0 ]
check "resumed with a Range request at the CDN" grep -q "^host=localhost.*model.safetensors range=bytes=[1-9]" "$TMP/server-cut.log"
check "resumed file identical" cmp -s "$(cat "$TMP/out")/model.safetensors" "$FX/toyworld-clip/model.safetensors"

## an interrupted sentence-transformers download: each fetch resumes where the last one stopped
R=$HF_HUB_CACHE/models--test--st-multilingual
i=0; rc=1
while [ $rc -ne 0 ] && [ $i -lt 4 ]; do
  "$BIN" model fetch test/st-multilingual > "$TMP/out" 2> "$TMP/err"; rc=$?; i=$((i + 1))
  [ $rc -ne 0 ] && { grep -q "resume" "$TMP/err" || break; [ ! -e "$R/refs/main" ] || break; }
done
check "st, interrupted: fails twice (root and 2_Dense weights cut), then completes" sh -c "[ $rc -eq 0 ] && [ $i -eq 3 ]"
check "st, interrupted: resumed with Range requests" sh -c "grep -q '^host=localhost.*tiny-distilbert-multilingual%2Fmodel.safetensors range=bytes=[1-9]' '$TMP/server-cut.log' && grep -q '^host=localhost.*2_Dense%2Fmodel.safetensors range=bytes=[1-9]' '$TMP/server-cut.log'"
check "st, interrupted: files identical" sh -c "cmp -s '$(cat "$TMP/out")/model.safetensors' '$FX/tiny-distilbert-multilingual/model.safetensors' && cmp -s '$(cat "$TMP/out")/2_Dense/model.safetensors' '$FX/tiny-distilbert-multilingual/2_Dense/model.safetensors'"

## an interrupted download, then a CDN that ignores Range (a 200 with the whole file)
rm -rf "$HF_HUB_CACHE" "$TMP/data"
serve norange
R=$HF_HUB_CACHE/models--test--toyworld-clip
"$BIN" model fetch test/toyworld-clip > /dev/null 2> "$TMP/err"
check "no Range support: interrupted download fails" [ $? -eq 1 ]
"$BIN" model fetch test/toyworld-clip > "$TMP/out" 2> "$TMP/err"
check "no Range support: second fetch starts over and completes" [ $? -eq 0 ]
check "no Range support: file identical" cmp -s "$(cat "$TMP/out")/model.safetensors" "$FX/toyworld-clip/model.safetensors"

## a server that sends more than the hub's HEAD said (X-Linked-Size, else Content-Length): not
## written to disk past that size; config.json (a small file, from the resolve cache) comes first
rm -rf "$HF_HUB_CACHE" "$TMP/data"
serve long
"$BIN" model fetch test/toyworld-clip > /dev/null 2> "$TMP/err"
check "too long a download fails" [ $? -eq 1 ]
check "it says the server sent too much" grep -q "more than the" "$TMP/err"
for _k in $(seq 100); do grep -q "^long: " "$TMP/server-long.log" && break; sleep 0.1; done
check "the client hung up instead of taking the extra 64 MB" sh -c "grep -q '^long: client hung up during the extra bytes of config.json' '$TMP/server-long.log' && ! grep -q '^long: sent all' '$TMP/server-long.log'"
check "too long a download deleted" [ -z "$(find "$HF_HUB_CACHE" -name '*.incomplete')" ]

## a bad checksum
rm -rf "$HF_HUB_CACHE" "$TMP/data"
serve badsum
"$BIN" model fetch test/toyworld-clip > /dev/null 2> "$TMP/err"
check "bad checksum fails" [ $? -eq 1 ]
check "checksum message" grep -q "checksum mismatch" "$TMP/err"
check "bad download deleted" [ -z "$(find "$HF_HUB_CACHE" -name '*.incomplete' -o -name "$(printf '%064d' 0)")" ]

## two fetches at once: one downloads each blob, the other waits on its lock and reuses it
rm -rf "$HF_HUB_CACHE" "$TMP/data"
serve slow
"$BIN" model fetch test/toyworld-clip > "$TMP/c1" 2> "$TMP/e1" & P1=$!
"$BIN" model fetch test/toyworld-clip > "$TMP/c2" 2> "$TMP/e2" & P2=$!
wait $P1; r1=$?; wait $P2; r2=$?
check "concurrent fetches both succeed" [ $r1 -eq 0 ] && [ $r2 -eq 0 ]
check "concurrent fetches: weights identical" cmp -s "$(cat "$TMP/c1")/model.safetensors" "$FX/toyworld-clip/model.safetensors"
check "concurrent fetches: the weights were downloaded once" [ "$(grep -c '^host=localhost.*toyworld-clip%2Fmodel.safetensors' "$TMP/server-slow.log")" -eq 1 ]
check "lock file where huggingface_hub keeps it" [ -f "$HF_HUB_CACHE/.locks/models--test--toyworld-clip/$(sha256 "$FX/toyworld-clip/model.safetensors").lock" ]

## a mirror without the API: probed file by file
rm -rf "$HF_HUB_CACHE" "$TMP/data"
serve noapi
"$BIN" model fetch test/toyworld-clip > "$TMP/out" 2> "$TMP/err"
check "no API: fetch succeeds by probing" [ $? -eq 0 ]
check "no API: weights identical" cmp -s "$(cat "$TMP/out")/model.safetensors" "$FX/toyworld-clip/model.safetensors"
"$BIN" model fetch test/sharded-bin > /dev/null 2> "$TMP/err"
S=$HF_HUB_CACHE/models--test--sharded-bin/snapshots/$(cat "$HF_HUB_CACHE/models--test--sharded-bin/refs/main" 2> /dev/null)
check "no API: sharded .bin found after the safetensors probes" cmp -s "$S/pytorch_model-00002-of-00002.bin" "$FX/torch-checkpoints/sharded-f32/pytorch_model-00002-of-00002.bin"
"$BIN" model fetch test/st-minilm > "$TMP/out" 2> "$TMP/err"
check "no API: a sentence-transformers repository by probing, module folder included" cmp -s "$(cat "$TMP/out")/1_Pooling/config.json" "$FX/tiny-bert-minilm/1_Pooling/config.json"
"$BIN" model fetch test/not-st > /dev/null 2> "$TMP/err"
check "no API: not a sentence-transformers repository: says what each kind needs" grep -q "not a model repository this program can use" "$TMP/err"
stop

## a Hugging Face cache made as huggingface_hub makes it, used with no network at all
rm -rf "$TMP/data"
HC=$TMP/hfhome2/hub
C=0123456789abcdef0123456789abcdef01234567
R=$HC/models--openai--clip-vit-base-patch32
mkdir -p "$R/blobs" "$R/refs" "$R/snapshots/$C"
for f in config.json vocab.json merges.txt preprocessor_config.json model.safetensors; do
  if [ "$f" = model.safetensors ]; then e=$(sha256 "$FX/toyworld-clip/$f"); else e=$(git_sha1 "$FX/toyworld-clip/$f"); fi
  cp "$FX/toyworld-clip/$f" "$R/blobs/$e"
  ln -s "../../blobs/$e" "$R/snapshots/$C/$f"
done
printf '%s' "$C" > "$R/refs/main"
export HF_ENDPOINT="http://127.0.0.1:$CLOSED"
unset HF_HUB_CACHE
HF_HOME=$TMP/hfhome2 HF_HUB_OFFLINE=1 "$BIN" model use openai/clip-vit-base-patch32 > "$TMP/out" 2> "$TMP/err"
check "cache: model use REPO finds the snapshot" [ "$(cat "$TMP/out")" = "using $R/snapshots/$C (q8 weights, the default)" ]
HF_HOME=$TMP/hfhome2 "$BIN" model fetch > "$TMP/out" 2> "$TMP/err"
check "cache: model fetch needs no network (endpoint closed)" sh -c "[ \"\$(cat '$TMP/out')\" = '$R/snapshots/$C' ] && grep -q 'in the cache already' '$TMP/err'"
check "cache: model info derives the source from the path" sh -c "'$BIN' model info '$R/snapshots/$C' | grep -q 'openai/clip-vit-base-patch32 at main (commit $C'"
rm -rf "$TMP/data"
check "cache: the default model is found there" sh -c "HF_HOME='$TMP/hfhome2' '$BIN' model list | grep -q '^\* $R/snapshots/$C'"
HF_HOME=$TMP/hfhome2 HF_HUB_OFFLINE=1 "$BIN" model fetch test/toyworld-clip > /dev/null 2> "$TMP/err"
check "offline, not cached: says so" grep -q "not in the Hugging Face cache.*HF_HUB_OFFLINE" "$TMP/err"
XDG_CACHE_HOME=$TMP/xdg HOME=$TMP/nohome "$BIN" model use openai/clip-vit-base-patch32 > /dev/null 2>&1
check "cache: not found under another cache folder" [ $? -eq 1 ]

## a model in clipseek's own models/ folder keeps working
rm -rf "$TMP/data"
mkdir -p "$TMP/data/models"
ln -s "$FXA/toyworld-clip" "$TMP/data/models/openai--clip-vit-base-patch32"
check "models/ folder: still the default" sh -c "HF_HUB_CACHE='$TMP/empty' '$BIN' model list | grep -q '^\* $TMP/data/models/openai--clip-vit-base-patch32'"
check "models/ folder: model info says local folder" sh -c "'$BIN' model info '$TMP/data/models/openai--clip-vit-base-patch32' | grep -q 'source *a local folder'"

## the catalogue
"$BIN" model list --available > "$TMP/out"
check "catalogue: the default and the laion B/32 with their sources" sh -c "grep -q '^openai/clip-vit-base-patch32 .*63.2% \[1\]' '$TMP/out' && grep -q '^laion/CLIP-ViT-B-32-laion2B-s34B-b79K .*66.6% \[2\]' '$TMP/out' && grep -q '^\[3\] TinyCLIP' '$TMP/out'"
echo "fetch: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
