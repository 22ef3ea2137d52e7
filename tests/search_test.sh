#!/bin/sh
# clipseek search through the CLI: the 48 toyworld queries each find their own image
# (`search "<query>" --kind image --limit 1 --json`), words found by full text (text and tags),
# filters, similar, and hostile queries answered without error. Ends with "N passed, N failed, N skipped".
set -u
BIN=$(readlink -f "${CLIPSEEK:-build/clipseek}")
FX=${CLIPSEEK_FIXTURES:-../shared/fixtures}
. "$(dirname "$0")/testlib.sh"
TMP=$(mktemp -d /tmp/clipseek-search-XXXXXX)
trap '[ -n "${DPID:-}" ] && kill "$DPID" 2> /dev/null; rm -rf "$TMP"' EXIT
export CLIPSEEK_DATA_DIR="$TMP/data"
unset CLIPSEEK_MODEL CLIPSEEK_CONFIG

# full text works without a model
printf 'my IBAN DE89 3704 0044 0532 0130 00 for the rent' | "$BIN" add - > /dev/null 2>&1
printf 'ssh-keygen -t ed25519 -C "work laptop"' | "$BIN" add - > /dev/null 2>&1
printf 'Grüße aus Köln, café résumé' | "$BIN" add - > /dev/null 2>&1
"$BIN" tag 2 infra
check "words by full text (no model)" sh -c "'$BIN' search IBAN --json | grep -q '\"id\":1,.*\"signals\":\\[\"text\"\\]'"
check "tags are searchable" sh -c "'$BIN' search infra --limit 1 --json | grep -q '\"id\":2,'"
check "diacritics folded" sh -c "'$BIN' search 'cafe resume' --limit 1 --json | grep -q '\"id\":3,'"
# searching while typing: a prefix of the last word, one typo, a piece inside a word; picker lines
check "prefix of the last word" sh -c "[ \"\$('$BIN' search 'work lapt' --format tsv | head -1 | cut -f1)\" = 2 ]"
check "one typo (swapped letters)" sh -c "[ \"\$('$BIN' search laptpo --format tsv | head -1 | cut -f1)\" = 2 ]"
check "a piece inside a word (trigram index)" sh -c "[ \"\$('$BIN' search ygen --format tsv | head -1 | cut -f1)\" = 2 ]"
check "picker line: id, kind, preview" sh -c "'$BIN' search iban --format tsv | grep -qx '1	text	my IBAN DE89 3704 0044 0532 0130 00 for the rent'"
check "why a hit is listed" sh -c "'$BIN' search lapt --json | grep -q '\"why\":\"words\",\"match\":\"prefix\",\"matched\":\\[\"laptop\"\\]'"
check "no matches: status 1" sh -c "! '$BIN' search zzqxvkw > /dev/null 2>&1"
# secrets are masked in list, pick and search output unless --reveal (as on the web page)
sid=$(printf 'export API_TOKEN=Zk29QmVx81LpTn4RwYc7HsJd0AeUfGo5' | "$BIN" add - 2> /dev/null)
for cmd in "list" "pick" "search token" "search token --format tsv" "search token --json" "list --json"; do
  check "secret masked: $cmd" sh -c "'$BIN' $cmd > '$TMP/m.out' && grep -q '••••••••\\|u2022\\\\u2022\\\\u2022\\\\u2022\\\\u2022\\\\u2022\\\\u2022\\\\u2022' '$TMP/m.out' && ! grep -q 'Zk29QmVx' '$TMP/m.out'"
  check "secret shown with --reveal: $cmd" sh -c "'$BIN' $cmd --reveal | grep -q 'Zk29QmVx81LpTn4RwYc7HsJd0AeUfGo5'"
done
check "search --json says masked" sh -c "'$BIN' search token --json | grep -q '\"id\":$sid,.*\"matched\":\\[\\],\"masked\":true'"
# nor does a masked secret's JSON tell its length or give its hash (a short password is found by
# hashing them all); with --reveal both are there
for cmd in "search token --json" "list --json"; do
  check "a masked secret has no size or sha256: $cmd" sh -c "'$BIN' $cmd | python3 -c 'import json, sys
e = [o for o in json.load(sys.stdin) if o[\"id\"] == $sid][0]
sys.exit(\"size\" in e or \"sha256\" in e)'"
  check "and has both with --reveal: $cmd" sh -c "'$BIN' $cmd --reveal | python3 -c 'import json, sys
e = [o for o in json.load(sys.stdin) if o[\"id\"] == $sid][0]
sys.exit(not (\"size\" in e and \"sha256\" in e))'"
done
# C0 and C1 controls and bidi overrides never reach the terminal: ESC, CSI as one byte (U+009B),
# RLO (U+202E), PDI (U+2069), LRM (U+200E), ALM (U+061C)
eid=$(printf 'evil \033[31mred\033[0m \302\2332J \342\200\256gnp.exe\342\201\251 \342\200\216x\330\234y done' | "$BIN" add - 2> /dev/null)
for cmd in "list" "pick" "search evil" "search evil --format tsv" "show $eid"; do
  check "controls and bidi stripped: $cmd" sh -c "'$BIN' $cmd > '$TMP/c.out' && grep -q 'evil \\[31mred\\[0m 2J gnp.exe xy done' '$TMP/c.out' && ! LC_ALL=C grep -q \"\$(printf '\\033\\\\|\\302\\233\\\\|\\342\\200\\256\\\\|\\342\\201\\251\\\\|\\342\\200\\216\\\\|\\330\\234')\" '$TMP/c.out'"
done
# show: the text kind, and sha256 and the blob path only with -v (or --json)
check "show: text kind" sh -c "'$BIN' show $sid | grep -qx 'text     secret'"
check "show: no sha256 without -v" sh -c "! '$BIN' show $sid | grep -q sha256"
check "show -v: sha256" sh -c "'$BIN' show $sid -v | grep -q '^sha256   [0-9a-f]\\{64\\}\$'"
if command -v fzf > /dev/null; then
  # the README's fzf recipe, in fzf's non-interactive mode: the lines go through fzf and back
  check "fzf takes the picker lines" sh -c "[ \"\$('$BIN' search '' --format tsv | fzf --filter rent --delimiter '\t' --with-nth 3.. | cut -f1)\" = 1 ]"
  if command -v tmux > /dev/null && command -v Xvfb > /dev/null && command -v xclip > /dev/null; then
    # the README's recipe, its very lines, as a person runs it: in a terminal (tmux, private
    # server) on an X display (Xvfb) for `clipseek copy`. Typing reloads the list through
    # clipseek (fzf itself filters nothing); Enter copies the entry, read back with xclip.
    mkdir -p "$TMP/bin" && ln -sf "$BIN" "$TMP/bin/clipseek"
    sed -n "/^clipseek search '' --format tsv | fzf /,/xargs -r clipseek copy\$/p" "$(dirname "$0")/../README.md" > "$TMP/fzf.sh"
    check "the README has the fzf recipe" [ "$(grep -c . "$TMP/fzf.sh")" -ge 4 ]
    Xvfb -displayfd 3 -screen 0 640x480x24 -nolisten tcp 3> "$TMP/fdisplay" > /dev/null 2>&1 &
    FXPID=$!
    for _k in $(seq 50); do [ -s "$TMP/fdisplay" ] && break; sleep 0.1; done
    FD=":$(cat "$TMP/fdisplay")"
    TS="$TMP/tmux.sock"
    # the pane stays open after the recipe, as the shell a person typed it in does: xclip, which
    # holds the copied clip, is in the recipe's process group and goes with a closing terminal
    DISPLAY=$FD PATH="$TMP/bin:$PATH" tmux -S "$TS" new-session -d -x 120 -y 30 "sh '$TMP/fzf.sh'; exec cat"
    for _k in $(seq 100); do tmux -S "$TS" capture-pane -p 2> /dev/null | grep -q '[0-9]/[0-9]' && break; sleep 0.1; done
    tmux -S "$TS" send-keys -l 'lapt'
    for _k in $(seq 100); do tmux -S "$TS" capture-pane -p 2> /dev/null | grep -q ' 1/1' && break; sleep 0.1; done
    tmux -S "$TS" capture-pane -p > "$TMP/pane" 2> /dev/null
    tmux -S "$TS" send-keys Enter
    for _k in $(seq 100); do [ "$(DISPLAY=$FD xclip -selection clipboard -o 2> /dev/null)" = 'ssh-keygen -t ed25519 -C "work laptop"' ] && break; sleep 0.1; done
    check "fzf recipe in a terminal: typing searches, Enter copies the entry" \
      sh -c "grep -q 'ssh-keygen' '$TMP/pane' && [ \"\$(DISPLAY=$FD xclip -selection clipboard -o)\" = 'ssh-keygen -t ed25519 -C \"work laptop\"' ]"
    tmux -S "$TS" kill-server 2> /dev/null
    kill "$FXPID" 2> /dev/null; wait "$FXPID" 2> /dev/null
  else
    skip=$((skip + 1)); echo "[SKIP] fzf recipe in a terminal: tmux, Xvfb or xclip not installed"
  fi
else
  skip=$((skip + 1)); echo "[SKIP] fzf not installed"
fi
for q in '' '"' 'AND OR NOT' 'a"b' '(((' '*' 'NEAR(x y)' "$(printf '\377\376')" "$(head -c 100000 /dev/zero | tr '\0' x)"; do
  # answered: hits (status 0) or "no matches" (status 1, as grep), never an error
  "$BIN" search "$q" > /dev/null 2> "$TMP/err"
  rc=$?
  check "hostile query answered ($(printf '%s' "$q" | head -c 12 | od -An -c | tr -s ' ' | head -c 30))" \
    sh -c "[ $rc -le 1 ] && ! grep -v 'no matches' '$TMP/err'"
done

if [ -d "$FX/toyworld-clip" ] && [ -f "$FX/toyworld-eval/queries.json" ] && command -v python3 > /dev/null; then
  "$BIN" model use "$FX/toyworld-clip" > /dev/null
  "$BIN" add --wait "$FX/toyworld-eval" > /dev/null 2>&1
  python3 -c "import json,sys; [print(i['file'] + '\t' + i['query']) for i in json.load(open(sys.argv[1]))['items']]" \
    "$FX/toyworld-eval/queries.json" > "$TMP/queries"
  good=0 total=0
  while IFS="$(printf '\t')" read -r file query; do
    total=$((total + 1))
    "$BIN" search "$query" --kind image --limit 1 --json | grep -q "toyworld-eval/$file\"" && good=$((good + 1))
  done < "$TMP/queries"
  echo "# toyworld: $good/$total queries find their image first"
  check "every toyworld query finds its image" [ "$good" -eq 48 ] && [ "$total" -eq 48 ]
  check "kind filter" sh -c "! '$BIN' search 'a red star' --kind text --json | grep -q '\"kind\":\"image\"'"
  check "since filter" [ "$("$BIN" search 'a red star' --since 0s --json)" = "[]" ]
  id=$("$BIN" search 'a blue ring' --kind image --limit 1 --json | grep -o '"id":[0-9]*' | cut -d: -f2)
  check "similar leaves the entry itself out" sh -c "! '$BIN' similar $id --limit 3 --json | grep -q '\"id\":$id,'"
  # a query by example asks for the nearest entries: no floor, so it always lists some
  check "similar lists its nearest entries" [ "$("$BIN" similar "$id" --limit 3 --json | grep -o '"id":' | wc -l)" -eq 3 ]
  check "query by example image" sh -c "'$BIN' search --image '$FX/toyworld-eval/img00.png' --kind image --limit 1 --json | grep -q 'img00.png'"
  # nonsense finds nothing (exit status 1, as grep), while meaning alone would list 20 rows
  check "nonsense: no matches, status 1" sh -c "'$BIN' search zzqxvkw > '$TMP/n.out' 2> '$TMP/n.err'; [ \$? -eq 1 ] && [ ! -s '$TMP/n.out' ] && grep -q 'no matches' '$TMP/n.err'"
  check "an empty query lists recent entries" sh -c "[ \$('$BIN' search '   ' --format tsv | wc -l) -eq 20 ]"
  # text entries found by meaning where the words do not match: a paraphrase in the toy model's
  # world (it knows colours and shapes), and an image as the query
  for t in 'a green cross' 'a yellow ring' 'a black triangle' 'a purple square'; do printf '%s' "$t" | "$BIN" add - > /dev/null 2>&1; done
  "$BIN" index > /dev/null 2>&1
  id_gc=$("$BIN" search 'a green cross' --kind text --limit 1 --json | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)
  check "meaning and words fused" sh -c "'$BIN' search 'a green cross' --kind text --limit 1 --json | grep -q '\"id\":$id_gc,.*\"signals\":\[\"text\",\"meaning\"\]'"
  check "paraphrase finds its text entry first" sh -c "'$BIN' search 'the cross that is green' --kind text --limit 1 --json | grep -q '\"id\":$id_gc,'"
  gc_img=$(python3 -c "import json,sys; print([i['file'] for i in json.load(open(sys.argv[1]))['items'] if i['query'] == 'a green cross'][0])" "$FX/toyworld-eval/queries.json")
  check "an image finds the text that describes it" sh -c "'$BIN' search --image '$FX/toyworld-eval/$gc_img' --kind text --limit 1 --json | grep -q '\"id\":$id_gc,'"
  # the README's rofi script, called as rofi calls it (rofi-script(5)): rows with the preview, the
  # thumbnail as icon and the id as info; a custom entry (ROFI_RETV=2) searches what was typed
  rofi_sh="$(dirname "$0")/../scripts/clipseek-rofi"
  XDG_CACHE_HOME="$TMP/cache" CLIPSEEK="$BIN" ROFI_RETV=2 sh "$rofi_sh" 'a red star' > "$TMP/rofi.out"
  # (the fixture folder's queries.json, imported as text, has the words exactly: it comes first)
  rs_id=$("$BIN" search 'a red star' --format tsv | awk -F '\t' '$2 == "image" { print $1; exit }')
  check "rofi script: a search's rows with thumbnails as icons" sh -c "tr '\\000\\037' '|~' < '$TMP/rofi.out' | grep -q '^\\[image.*|icon~$TMP/cache/clipseek-rofi/$rs_id.png~info~$rs_id\$' && file '$TMP/cache/clipseek-rofi/$rs_id.png' | grep -q PNG"
  check "rofi script: recent entries first" sh -c "XDG_CACHE_HOME='$TMP/cache' CLIPSEEK='$BIN' ROFI_RETV=0 sh '$rofi_sh' | tr '\\000\\037' '|~' | sed -n 2p | grep -q 'info~'"
  # and in rofi itself, under Xvfb: type a query, Shift+Enter (rofi's custom input) runs the script
  # with it; the search's image rows bring their thumbnails, then a screenshot is taken
  if command -v rofi > /dev/null && command -v Xvfb > /dev/null && command -v xdotool > /dev/null && [ -x /usr/bin/import ]; then
    Xvfb -displayfd 3 -screen 0 800x600x24 -nolisten tcp 3> "$TMP/rdisplay" > /dev/null 2>&1 &
    XPID=$!
    for _k in $(seq 50); do [ -s "$TMP/rdisplay" ] && break; sleep 0.1; done
    RD=":$(cat "$TMP/rdisplay")"
    # rofi runs the script for the first view before it maps its window; the icons cached then
    # are removed, so one that appears afterwards can only come from the typed search
    # the README's line as written, from the project's root, with clipseek on PATH
    rofi_cmd=$(sed -n 's/^# rofi (script mode[^:]*): \(rofi .*\)$/\1/p' "$(dirname "$0")/../README.md")
    check "the README has the rofi line" sh -c "echo '$rofi_cmd' | grep -q '^rofi -show clipseek -modi clipseek:scripts/clipseek-rofi'"
    mkdir -p "$TMP/bin" && ln -sf "$BIN" "$TMP/bin/clipseek"
    (cd "$(dirname "$0")/.." && export DISPLAY=$RD XDG_CACHE_HOME="$TMP/rcache" PATH="$TMP/bin:$PATH" && exec $rofi_cmd > "$TMP/rofi.log" 2>&1) &
    RPID=$!
    for _k in $(seq 100); do DISPLAY=$RD xdotool search --class rofi > /dev/null 2>&1 && break; sleep 0.1; done
    rm -rf "$TMP/rcache/clipseek-rofi"
    DISPLAY=$RD xdotool type --delay 20 'a red star'
    DISPLAY=$RD xdotool key shift+Return
    for _k in $(seq 100); do [ -s "$TMP/rcache/clipseek-rofi/$rs_id.png" ] && break; sleep 0.1; done
    for _k in $(seq 50); do DISPLAY=$RD /usr/bin/import -window root "$TMP/rofi.png" 2> /dev/null && break; sleep 0.1; done
    check "rofi under Xvfb: the typed query searched, thumbnail fetched, screenshot taken" \
      sh -c "[ -s '$TMP/rcache/clipseek-rofi/$rs_id.png' ] && file '$TMP/rofi.png' | grep -q 'PNG image data, 800 x 600'"
    kill "$RPID" "$XPID" 2> /dev/null; wait "$RPID" "$XPID" 2> /dev/null
  else
    skip=$((skip + 1)); echo "[SKIP] rofi under Xvfb: rofi, Xvfb, xdotool or ImageMagick's import not installed"
  fi
  # a deleted entry keeps its row in the search matrix: it must never come back
  gone=$("$BIN" search 'a green cross' --kind image --limit 1 --json | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)
  "$BIN" delete "$gone"
  check "deleted entry not found (unfiltered search)" sh -c "'$BIN' search 'a green cross' --limit 20 --json > '$TMP/g.json' && grep -q '\"id\"' '$TMP/g.json' && ! grep -q '\"id\":$gone,' '$TMP/g.json'"
  check "deleted entry not found (kind filter)" sh -c "! '$BIN' search 'a green cross' --kind image --limit 20 --json | grep -q '\"id\":$gone,'"
  check "gc drops the deleted entry's row from the search matrix" sh -c "'$BIN' gc | grep -q 'compacted 1 search'"
  check "the matrix rebuilds on the next search" sh -c "'$BIN' search 'a blue ring' --kind image --limit 1 --json | grep -q 'toyworld-eval/' && [ \$('$BIN' gc | grep -c 'compacted 0') -eq 1 ]"
  # the same searches answered by a running daemon, which keeps the model loaded
  "$BIN" daemon --no-x11 --no-web > "$TMP/daemon.log" 2>&1 &
  DPID=$!
  for _k in $(seq 50); do grep -q listening "$TMP/daemon.log" 2> /dev/null && break; sleep 0.1; done
  "$BIN" index --wait > /dev/null 2>&1
  good=0
  while IFS="$(printf '\t')" read -r file query; do
    "$BIN" search "$query" --kind image --limit 1 --json | grep -q "toyworld-eval/$file\"" && good=$((good + 1))
  done < "$TMP/queries"
  check "every query through the daemon (one image deleted above)" [ "$good" -eq 47 ]
  # device "auto" looks for a GPU in a child process: a daemon that computes on the CPU (no GPU
  # here; lavapipe is a CPU implementation, which auto never takes) maps no Vulkan driver and no
  # LLVM (about 50 MB resident otherwise). Its model is loaded (it answered the searches above).
  if grep -q 'indexing with .* vulkan:[0-9]' "$TMP/daemon.log"; then
    skip=$((skip + 1)); echo "[SKIP] a CPU daemon maps no Vulkan driver: this daemon chose a GPU"
  else
    check "a CPU daemon maps no Vulkan driver and no LLVM" sh -c "grep -q libsqlite3 /proc/$DPID/maps && ! grep -qE 'libLLVM|libvulkan_(lvp|radeon|intel)' /proc/$DPID/maps"
  fi
  a=$("$BIN" search 'IBAN rent' --limit 5 --json)
  b=$(CLIPSEEK_NO_DAEMON=1 "$BIN" search 'IBAN rent' --limit 5 --json)
  check "daemon and local search agree" [ "$a" = "$b" ]
  # the newest clip is deleted while the daemon's matrix holds its row: the next clip must not
  # take its id, or a search for the deleted text returns the unrelated new clip at cosine 1
  gone=$(printf 'a purple square drawn by hand' | "$BIN" add - 2> /dev/null)
  "$BIN" index --wait > /dev/null 2>&1
  "$BIN" search 'a purple square drawn by hand' --limit 1 > /dev/null 2>&1 # the matrix takes its row
  "$BIN" delete "$gone"
  new=$(printf 'zq unrelated 4711' | "$BIN" add - 2> /dev/null)
  "$BIN" index --wait > /dev/null 2>&1
  check "a deleted clip's id is never given to the next one" [ "$new" -gt "$gone" ]
  check "a search for the deleted text does not find the new clip" \
    sh -c "'$BIN' search 'a purple square drawn by hand' --limit 1 --json > '$TMP/d.json' && grep -q '\"id\"' '$TMP/d.json' && ! grep -q '\"id\":$new,' '$TMP/d.json'"
  t0=$(date +%s%N); "$BIN" search 'a red star' > /dev/null; t1=$(date +%s%N)
  CLIPSEEK_NO_DAEMON=1 "$BIN" search 'a red star' > /dev/null; t2=$(date +%s%N)
  echo "# clipseek search end to end: $(( (t1 - t0) / 1000000 )) ms through the daemon, $(( (t2 - t1) / 1000000 )) ms loading the model itself (toyworld)"
  kill "$DPID"; wait "$DPID" 2> /dev/null; DPID=
else
  skip_fixture 1 "meaning: toyworld fixtures or python3 not found"
fi
echo "search: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
