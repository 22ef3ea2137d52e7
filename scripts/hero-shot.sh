#!/bin/sh
# The README's screenshots of the web page (docs/img/web.png, light; docs/img/web-dark.png, dark),
# made from a realistic history rather than test fixtures: screenshots, a chart and a receipt
# photo drawn with ImageMagick, links, code, commands and prose. Runs the daemon on a temporary
# data directory under Xvfb, on 127.0.0.1, and drives Debian's chromium with playwright-core
# (tests/web/hero.mjs; `cd tests/web && npm ci` first).
#   scripts/hero-shot.sh [OUTDIR]      (default docs/img; CLIPSEEK=build/clipseek)
# HERO_PREFIX=web-before writes OUTDIR/web-before.png only (the light page, as it is now).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(readlink -f "${CLIPSEEK:-$ROOT/build/clipseek}")
OUT=$(mkdir -p "${1:-$ROOT/docs/img}" && cd "${1:-$ROOT/docs/img}" && pwd)
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -x "$BIN" ] || { echo "hero-shot: build clipseek first (make)" >&2; exit 1; }
[ -n "$CHROMIUM" ] && [ -d "$ROOT/tests/web/node_modules/playwright-core" ] ||
  { echo "hero-shot: needs chromium and playwright-core (cd tests/web && npm ci)" >&2; exit 1; }
command -v convert > /dev/null && command -v Xvfb > /dev/null || { echo "hero-shot: needs imagemagick and xvfb" >&2; exit 1; }

TMP=$(mktemp -d /tmp/clipseek-hero-XXXXXX)
export CLIPSEEK_DATA_DIR="$TMP/data" CLIPSEEK_CONFIG="$TMP/config" XDG_CONFIG_HOME="$TMP/xdg"
unset CLIPSEEK_MODEL WAYLAND_DISPLAY
: > "$TMP/config"
DPID="" XPID=""
finish() {
  [ -n "$DPID" ] && kill "$DPID" 2> /dev/null
  [ -n "$XPID" ] && kill "$XPID" 2> /dev/null
  rm -rf "$TMP"
}
trap finish EXIT

# ---- the images ----
F=DejaVu-Sans M=DejaVu-Sans-Mono
# a terminal with a failed deploy (a screenshot)
convert -size 900x520 xc:'#1e1f29' \
  -fill '#2b2d3a' -draw 'rectangle 0,0 900,34' -fill '#ff5f57' -draw 'circle 20,17 26,17' \
  -fill '#febc2e' -draw 'circle 40,17 46,17' -fill '#28c840' -draw 'circle 60,17 66,17' \
  -font $F -pointsize 14 -fill '#9aa0b4' -annotate +380+23 'deploy — ssh' \
  -font $M -pointsize 17 -fill '#c8d0e8' \
  -annotate +20+80 '$ ./deploy.sh production' \
  -annotate +20+110 '==> building release 4.12.0' \
  -annotate +20+140 '==> uploading 38 files (12.4 MB)' \
  -annotate +20+170 '==> running migrations' \
  -fill '#ff6b6b' -annotate +20+200 'ERROR: relation "invoices_2024" does not exist' \
  -annotate +20+230 'LINE 1: ALTER TABLE invoices_2024 ADD COLUMN vat_rate ...' \
  -fill '#c8d0e8' -annotate +20+260 '==> rolling back' \
  -fill '#ffd166' -annotate +20+290 'deploy failed after 41 s' \
  -fill '#7ee787' -annotate +20+330 '$ _' "$TMP/terminal.png"
# a settings dialog with a red error banner (a screenshot)
convert -size 760x480 xc:'#f3f3f5' \
  -fill white -stroke '#d0d0d8' -draw 'roundrectangle 40,30 720,450 10,10' -stroke none \
  -fill '#e5484d' -draw 'rectangle 41,70 719,120' \
  -font $F -pointsize 20 -fill '#222' -annotate +64+58 'Network settings' \
  -font $F -pointsize 17 -fill white -annotate +64+102 'Could not connect to the VPN: certificate expired' \
  -font $F -pointsize 16 -fill '#333' -annotate +64+170 'Server' -annotate +64+220 'Protocol' -annotate +64+270 'Username' \
  -fill white -stroke '#c5c5ce' -draw 'rectangle 200,150 690,180' -draw 'rectangle 200,200 690,230' -draw 'rectangle 200,250 690,280' \
  -stroke none -fill '#555' -annotate +210+172 'vpn.example.org' -annotate +210+222 'WireGuard' -annotate +210+272 'alex' \
  -fill '#2f6feb' -draw 'roundrectangle 560,390 690,426 6,6' -fill white -annotate +596+414 'Retry' \
  -fill '#e2e2e8' -draw 'roundrectangle 420,390 545,426 6,6' -fill '#222' -annotate +452+414 'Cancel' "$TMP/dialog.png"
# a bar chart (a screenshot from a report)
convert -size 640x400 xc:white -font $F -pointsize 18 -fill '#222' -annotate +24+36 'Monthly active users (thousands)' \
  -stroke '#ccc' -draw 'line 60,340 610,340' -stroke none \
  -fill '#4c8bf5' -draw 'rectangle 80,250 140,340' -draw 'rectangle 170,215 230,340' -draw 'rectangle 260,190 320,340' \
  -draw 'rectangle 350,150 410,340' -draw 'rectangle 440,120 500,340' -fill '#f59e0b' -draw 'rectangle 530,80 590,340' \
  -pointsize 14 -fill '#555' -annotate +96+362 'Jan' -annotate +186+362 'Feb' -annotate +276+362 'Mar' \
  -annotate +366+362 'Apr' -annotate +456+362 'May' -annotate +546+362 'Jun' "$TMP/chart.png"
# a receipt photographed on a table: paper, slightly turned, on wood, with grain
convert -size 300x520 xc:'#fbfaf5' -font $M -pointsize 15 -fill '#2a2a2a' \
  -annotate +70+40 'CORNER CAFE' -annotate +50+62 '12 Harbour Street' \
  -annotate +20+110 '2 Flat white      7.00' -annotate +20+134 '1 Croissant       3.20' \
  -annotate +20+158 '1 Banana bread    4.10' -annotate +20+182 '1 Orange juice    3.90' \
  -annotate +20+220 '------------------------' -annotate +20+250 'TOTAL EUR        18.20' \
  -annotate +20+274 'VAT 10%           1.65' -annotate +20+310 'CARD ****4821' \
  -annotate +20+350 '2026-11-28  09:42' -annotate +60+420 'Thank you!' \
  -background none -rotate -6 "$TMP/paper.png"
convert -size 420x600 xc:'#7a5238' -attenuate 0.6 +noise Multiplicative -blur 0x1.5 "$TMP/paper.png" -gravity center -composite \
  -attenuate 0.25 +noise Gaussian -quality 88 "$TMP/receipt.jpg"
# a photo: evening over hills
convert -size 720x460 gradient:'#ffb36b'-'#4b3a7a' -fill '#ffe8a3' -draw 'circle 520,250 520,200' \
  -fill '#2d2b4f' -draw 'polygon 0,460 0,330 160,270 330,340 470,290 720,360 720,460' \
  -fill '#1d1b36' -draw 'polygon 0,460 0,390 210,350 420,410 600,370 720,400 720,460' -quality 85 "$TMP/evening.jpg"

# ---- the history, oldest first ----
add() { printf '%s' "$2" > "$TMP/t"; id=$("$BIN" add "$TMP/t" 2> /dev/null); echo "$id $1" >> "$TMP/sources"; }
addf() { id=$("$BIN" add "$2" 2> /dev/null); echo "$id $1" >> "$TMP/sources"; }
addf firefox "$TMP/evening.jpg"
add firefox 'https://www.sqlite.org/wal.html'
add code 'static int parse_port(const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 1 || v > 65535) return -1;
    *out = (int)v;
    return 0;
}'
add thunderbird 'Hi Sam, thanks for the notes from Tuesday. I moved the review to Thursday at 10:30 so that Priya can join; the agenda is unchanged. Could you bring the numbers for the October invoices?'
addf org.gnome.Screenshot "$TMP/chart.png"
add foot 'git log --oneline --since=2.weeks -- src/web'
add firefox 'https://developer.mozilla.org/en-US/docs/Web/CSS/grid-template-columns'
add code '{"name": "clipseek", "port": 7717, "ocr": true, "max_entries": 10000}'
addf org.gnome.Screenshot "$TMP/dialog.png"
add thunderbird 'The train leaves Lyon Part-Dieu at 07:04 and arrives in Geneva at 08:52. Seat 64, coach 12.'
add foot 'sudo systemctl restart nginx && journalctl -u nginx -n 50 --no-pager'
add firefox 'https://github.com/libmicrohttpd/libmicrohttpd/blob/master/ChangeLog'
add org.gnome.TextEditor 'Shopping: oat milk, lemons, basil, two tins of tomatoes, rice, coffee beans.'
addf signal "$TMP/receipt.jpg"
add code 'def moving_average(xs, n=7):
    out, acc = [], 0.0
    for i, x in enumerate(xs):
        acc += x
        if i >= n:
            acc -= xs[i - n]
        out.append(acc / min(i + 1, n))
    return out'
add firefox 'alex.moreau@example.org'
add org.gnome.TextEditor '#2f6feb'
add foot '~/projects/clipseek/src/web/assets/app.js'
add thunderbird 'Reminder: the office is closed on Friday. Deliveries go to the reception of building B.'
addf org.gnome.Screenshot "$TMP/terminal.png"
add firefox 'https://en.wikipedia.org/wiki/Reciprocal_rank_fusion'
add code 'SELECT kind, count(*) FROM entries WHERE last_ms > strftime('"'"'%s'"'"', '"'"'now'"'"', '"'"'-7 days'"'"') * 1000 GROUP BY kind;'
add thunderbird 'Could we move the 1:1 to 15:00? The design review ran long and I would like to finish the notes first.'
add foot 'ffmpeg -i talk.mkv -vf scale=1280:-2 -c:v libx264 -crf 23 talk-720p.mp4'
n=$(wc -l < "$TMP/sources")
# the source applications, and copy times spread over two days (newest last), as capture under
# sway records them; `clipseek add` has no --source, so they are set in the store directly while
# no daemon runs
python3 - "$TMP/data/clipseek.db" "$TMP/sources" << 'EOF'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
rows = [l.split() for l in open(sys.argv[2])]
now = int(time.time() * 1000)
ages = [2, 6, 11, 19, 27, 41, 58, 75, 95, 130, 170, 220, 300, 380, 460, 600, 800, 1000, 1300, 1600, 2000, 2400, 2700, 2880]
for i, (eid, src) in enumerate(rows):
    age = ages[len(rows) - 1 - i] * 60 * 1000 if len(rows) - 1 - i < len(ages) else (3000 + i) * 60000
    db.execute("UPDATE entries SET source = ?, first_ms = ?, last_ms = ? WHERE id = ?", (src, now - age, now - age, int(eid)))
db.execute("UPDATE entries SET pinned = 1 WHERE id IN (?, ?)", (int(rows[3][0]), int(rows[13][0])))
db.commit()
EOF

# text kinds and the text in the screenshots and the receipt (OCR), now rather than in the
# daemon's background, so that every shot has them
"$BIN" organize > /dev/null 2>&1
Xvfb -displayfd 3 -screen 0 640x480x24 -nolisten tcp 3> "$TMP/display" > /dev/null 2>&1 & XPID=$!
for _k in $(seq 100); do [ -s "$TMP/display" ] && break; sleep 0.05; done
export DISPLAY=":$(cat "$TMP/display")"
"$BIN" daemon --web-port 0 > /dev/null 2> "$TMP/daemon.log" & DPID=$!
for _k in $(seq 200); do grep -q "web page on" "$TMP/daemon.log" 2> /dev/null && break; sleep 0.05; done
grep -q "web page on" "$TMP/daemon.log" || { cat "$TMP/daemon.log" >&2; exit 1; }
LOGIN_URL=$("$BIN" web) LOGIN_URL2=$("$BIN" web) OUT="$OUT" PREFIX="${HERO_PREFIX:-web}" CHROMIUM="$CHROMIUM" \
  node "$ROOT/tests/web/hero.mjs"
echo "hero-shot: $n entries; $(ls "$OUT"/"${HERO_PREFIX:-web}"*.png | tr '\n' ' ')"
