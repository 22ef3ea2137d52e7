#!/bin/sh
# A multilingual text tower in the product: the 48 toyworld-eval images are imported with
# toyworld-clip, toyworld-multilingual is set as its text model (`model use CLIP --text-model
# DIR`), and each of the 336 queries of eval-queries.json (7 languages) must find its image first
# through `clipseek search --kind image`. The 336 go through one running daemon, which keeps both
# models loaded (the index worker loads the text model next to the CLIP model; a `model use`
# while it runs swaps it in); a few more run without a daemon (the CLI loads the models itself),
# and CLIP's own English text tower must fail most of a sample of the German and Japanese ones.
# Ends with the line "N passed, N failed, N skipped".
set -u
BIN=$(readlink -f "${CLIPSEEK:-build/clipseek}")
FX=${CLIPSEEK_FIXTURES:-../shared/fixtures}
. "$(dirname "$0")/testlib.sh"
TMP=$(mktemp -d /tmp/clipseek-textprod-XXXXXX)
trap '[ -n "${DPID:-}" ] && kill "$DPID" 2> /dev/null; rm -rf "$TMP"' EXIT
export CLIPSEEK_DATA_DIR="$TMP/data"
unset CLIPSEEK_MODEL CLIPSEEK_CONFIG CLIPSEEK_TEXT_MODEL CLIPSEEK_TEXT_EMBEDDER
ML=$FX/toyworld-multilingual

if [ ! -d "$ML" ] || [ ! -d "$FX/toyworld-clip" ] || [ ! -d "$FX/toyworld-eval" ]; then
  skip_fixture 1 "text-product: toyworld fixtures not found (set CLIPSEEK_FIXTURES)"
  echo "text-product: $pass passed, $fail failed, $skip skipped"; [ "$fail" -eq 0 ]; exit
fi

python3 -c "import json,sys; [print(i['lang'] + '\t' + i['file'] + '\t' + i['query']) for i in json.load(open(sys.argv[1]))['items']]" \
  "$ML/eval-queries.json" > "$TMP/queries"
check "336 queries" [ "$(wc -l < "$TMP/queries")" -eq 336 ]

# a text model from another space is refused, and nothing is changed
"$BIN" model use "$FX/toyworld-clip" --text-model "$FX/tiny-distilbert-multilingual" > /dev/null 2> "$TMP/err"
check "text model of another size refused" [ $? -eq 1 ]
check "refusal says why" grep -q "dimensions" "$TMP/err"

"$BIN" model use "$FX/toyworld-clip" > /dev/null
"$BIN" add --wait "$FX/toyworld-eval" > /dev/null 2>&1

# score LABEL [LANGS [EVERY]]: top-1 per query (of LANGS, every EVERY-th of each language) into
# $TMP/LABEL.hits, the count on stdout; through the daemon when one runs
score() {
  good=0
  : > "$TMP/$1.hits"
  : > "$TMP/seen"
  while IFS="$(printf '\t')" read -r lang file query; do
    case " ${2:-$lang} " in *" $lang "*) ;; *) continue ;; esac
    echo "$lang" >> "$TMP/seen"
    [ $(($(grep -c "^$lang\$" "$TMP/seen") % ${3:-1})) -eq 0 ] || continue
    if "$BIN" search "$query" --kind image --limit 1 --json | grep -q "toyworld-eval/$file\""; then
      good=$((good + 1)); echo "$lang 1" >> "$TMP/$1.hits"
    else
      echo "$lang 0" >> "$TMP/$1.hits"
    fi
  done < "$TMP/queries"
  echo "$good"
}

# one daemon for the rest: it starts with CLIP's own text tower
"$BIN" daemon --no-x11 --no-web > "$TMP/daemon.log" 2>&1 &
DPID=$!
for _k in $(seq 100); do grep -q listening "$TMP/daemon.log" 2> /dev/null && break; sleep 0.1; done
"$BIN" index --wait > /dev/null 2>&1 # the daemon has the CLIP model loaded

# CLIP's own (English) text tower on a sample of the German and Japanese queries (every 4th): the
# baseline
base=$(score clip "de ja" 4)
nb=$(wc -l < "$TMP/clip.hits")
echo "# CLIP text tower alone: $base/$nb German and Japanese queries"
check "CLIP's own tower fails most German and Japanese queries ($base/$nb)" [ "$nb" -eq 24 ] && [ "$base" -lt 12 ]
# (and it is loaded and searching: it finds English ones)
en=$(score clipen en 4)
check "CLIP's own tower finds English queries ($en/12)" [ "$en" -ge 10 ]

"$BIN" model use "$FX/toyworld-clip" --text-model "$ML" > "$TMP/use"
check "model use --text-model" [ $? -eq 0 ]
check "model use says so" grep -q "queries embedded by" "$TMP/use"
# the running daemon picks the text model up (hot swap, at its next look)
i=0
while [ $i -lt 200 ] && ! grep -q "text queries embedded by" "$TMP/daemon.log"; do i=$((i + 1)); sleep 0.1; done
check "daemon loads the text model" grep -q "text queries embedded by" "$TMP/daemon.log"
got=$(score ml)
echo "# with the multilingual text model, through the daemon: $got/336"
for l in en de fr es ru ja zh; do
  echo "#   $l: $(awk -v l=$l '$1 == l {n++; g += $2} END {print g "/" n}' "$TMP/ml.hits")"
done
check "every query finds its image first ($got/336)" [ "$got" -eq 336 ]

# The text embedder (`model use ... --text-embedder`): a sentence model's own, text-only space,
# through the same daemon. tiny-bert-minilm has random weights, so what it "understands" is shared
# WordPiece tokens: the query is CJK characters of the target in another order, which the word
# index (one FTS word per run of CJK, no shared run of 3) cannot find.
EMB=$FX/tiny-bert-minilm
if [ -d "$EMB" ]; then
  TARGET='北京是中国的首都，也是一座历史悠久的城市'
  Q='历史悠久的城市北京'
  cat > "$TMP/texts" << TEXTS
A man is eating food.
The girl is carrying a baby.
A man is riding a horse.
A woman is playing violin.
Two men pushed carts through the woods.
A monkey is playing drums.
Invoice 2024-113 for consulting services, due in 30 days
meeting at 10am tomorrow in room 4
git push origin main --force
The quarterly report is attached, please review section 3
Remember to buy milk, eggs and coffee on the way home
Dear Anna, thank you for your letter from Vienna.
The train to Berlin leaves at 7:45 from platform 12
Password reset link expires in 24 hours
Our flight was delayed because of heavy snow
The cat sleeps on the warm windowsill all afternoon
SELECT id, name FROM users WHERE active = 1 ORDER BY name
Happy birthday! Hope you have a wonderful day
The recipe needs two cups of flour and a pinch of salt
Please call the dentist to move the appointment to Friday
$TARGET
TEXTS
  mkdir "$TMP/t" # one file a text, one import (a process per clip would cost seconds)
  awk -v d="$TMP/t" '{f = sprintf("%s/%02d.txt", d, NR); printf "%s", $0 > f; close(f)}' "$TMP/texts"
  "$BIN" add "$TMP/t" > /dev/null 2>&1
  "$BIN" index --wait > /dev/null 2>&1
  # first QUERY: the text of the first text hit, a tab, and the space its meaning came from
  first() {
    "$BIN" search "$1" --kind text --limit 1 --json 2> /dev/null |
      python3 -c "import json,sys; h=json.load(sys.stdin); print(h[0]['preview'] + '\t' + h[0].get('space', '') if h else '')" 2> /dev/null
  }
  check "without the text embedder the query does not find its target" [ "$(first "$Q" | cut -f1)" != "$TARGET" ]
  entries=$("$BIN" status --json | python3 -c "import json,sys; print(json.load(sys.stdin)['entries'])")
  # a folder that is no sentence model: refused, nothing changed
  "$BIN" model use "$FX/toyworld-clip" --text-model "$ML" --text-embedder "$FX/toyworld-eval" > /dev/null 2> "$TMP/err"
  check "bad text embedder refused" [ $? -eq 1 ]
  check "the refusal says why" grep -q "not a sentence-transformers model" "$TMP/err"
  "$BIN" status --json > "$TMP/st"
  check "history intact after the refusal" python3 -c "import json,sys; s=json.load(open(sys.argv[1])); sys.exit(s['entries'] != $entries or 'text_embedder' in s)" "$TMP/st"
  # set on the existing history: the daemon backfills the text entries in the background
  "$BIN" model use "$FX/toyworld-clip" --text-model "$ML" --text-embedder "$EMB" > "$TMP/use"
  check "model use --text-embedder" grep -q "its own space" "$TMP/use"
  pending() { "$BIN" status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print(s.get('text_pending', -1), s.get('text_entries', 0))"; }
  i=0
  while [ $i -lt 300 ] && [ "$(pending | cut -d' ' -f1)" != 0 ]; do i=$((i + 1)); sleep 0.1; done
  ntext=$(pending | cut -d' ' -f2)
  check "backfill: every text entry embedded ($(pending))" [ "$(pending | cut -d' ' -f1)" = 0 ] && [ "$ntext" -ge 21 ]
  check "the daemon loaded the embedder" grep -q "text clips embedded by" "$TMP/daemon.log"
  check "status shows the space" sh -c "'$BIN' status | grep -q 'text space.*$ntext of $ntext'"
  check "the text space finds the target (daemon)" [ "$(first "$Q")" = "$TARGET	text" ]
  check "and the CLI without the daemon" [ "$(CLIPSEEK_NO_DAEMON=1 first "$Q")" = "$TARGET	text" ]
  for g in "asdfgh jkl" "qwpoeiru" "xkcd zzz vvv" "mnbvcx" "kqzx wvtp"; do
    check "nonsense '$g' finds nothing" [ -z "$(first "$g")" ]
  done
  # a new text clip joins the space
  printf 'Die Bahn nach Hamburg fährt um acht' | "$BIN" add - > /dev/null 2>&1
  i=0
  while [ $i -lt 300 ] && [ "$(pending)" != "0 $((ntext + 1))" ]; do i=$((i + 1)); sleep 0.1; done
  check "a new text clip is embedded ($(pending))" [ "$(pending)" = "0 $((ntext + 1))" ]
  # removed: the space is no longer used
  "$BIN" model use "$FX/toyworld-clip" --text-model "$ML" --no-text-embedder > /dev/null
  i=0 # the daemon follows the setting at its next pass
  while [ $i -lt 100 ] && ! grep -q "no text embedder" "$TMP/daemon.log"; do i=$((i + 1)); sleep 0.1; done
  check "--no-text-embedder: the query no longer finds its target" [ "$(first "$Q" | cut -f1)" != "$TARGET" ]
fi
kill "$DPID"; wait "$DPID" 2> /dev/null; DPID=

# without a daemon the CLI loads the text model itself: a few queries (one a language)
export CLIPSEEK_NO_DAEMON=1
n=0 good=0
for l in en de fr es ru ja zh; do
  line=$(awk -F'\t' -v l=$l '$1 == l {print; exit}' "$TMP/queries")
  file=$(printf '%s\n' "$line" | cut -f2) query=$(printf '%s\n' "$line" | cut -f3)
  n=$((n + 1))
  "$BIN" search "$query" --kind image --limit 1 --json | grep -q "toyworld-eval/$file\"" && good=$((good + 1))
done
check "no daemon: one query a language finds its image ($good/$n)" [ "$good" -eq "$n" ] && [ "$n" -eq 7 ]

# the config's `text_model =` does the same when `model use` names none
"$BIN" model use "$FX/toyworld-clip" > /dev/null
printf 'text_model = %s\n' "$ML" > "$TMP/config"
red=$(awk -F'\t' '$3 == "ein roter Stern" {print $2}' "$TMP/queries")
check "config text_model = ($red)" sh -c "CLIPSEEK_CONFIG='$TMP/config' '$BIN' search 'ein roter Stern' --kind image --limit 1 --json | grep -q 'toyworld-eval/$red\"'"

# the config's `text_embedder =`, without a daemon: `index` fills the space, the CLI searches it
if [ -d "$EMB" ]; then
  printf 'text_embedder = %s\n' "$EMB" > "$TMP/config2"
  CLIPSEEK_CONFIG="$TMP/config2" "$BIN" index > /dev/null 2>&1
  check "config text_embedder = (CLI index and search)" [ "$(CLIPSEEK_CONFIG="$TMP/config2" first "$Q")" = "$TARGET	text" ]
fi

echo "text-product: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
