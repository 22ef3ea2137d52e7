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
unset CLIPSEEK_MODEL CLIPSEEK_CONFIG CLIPSEEK_TEXT_MODEL
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

echo "text-product: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
