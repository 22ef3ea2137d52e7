#!/usr/bin/python3
"""Relevance benchmark for `clipseek search` (not a timed test): builds a labelled history of 500+
entries (the 48 toy-world images, images with rendered text for OCR, code, URLs, e-mail
addresses, prose paragraphs, long files and secret-looking lines, taken from the fixtures and from
text Debian installs), runs 200+ labelled queries through the CLI and prints a table:

  exact      a word found in one entry only              target first (aim >= 95 %)
  prefix     every prefix of 3+ letters of such a word    target in the top 3 (aim >= 95 %)
  typo       the word with one edit (5+ letters)          target in the top 3 (aim >= 95 %)
  toy        the 48 toy-world descriptions, every kind    target first (aim 48/48)
  nonsense   strings that match nothing                   no result (aim >= 95 %)

and MRR@10 and recall@5 per group. Deterministic (seeded); the labels are written next to the
history so a run can be inspected.

  /usr/bin/python3 bench/relevance.py --bin build/clipseek [--keep DIR [--reuse]] [--fixtures DIR]
      [--groups prefix,toy] [--show prefix]

Needs python3-pil and fonts-dejavu-core (rendered text), tesseract (OCR, through `clipseek
organize`) and the toy-world fixtures."""
import argparse
import glob
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

WORD = re.compile(r"[A-Za-z0-9]+")

# text rendered into images, read back by OCR: (file stem, text)
RENDERED = [
    ("shot-invoice", "INVOICE 4471\nTotal due 320 EUR"),
    ("shot-budget", "Quarterly budget review\nmarketing spend"),
    ("shot-error", "Error: connection refused\nport 5432"),
    ("shot-meeting", "Meeting notes\nroadmap planning"),
    ("shot-boarding", "Boarding pass\nGate B12 seat 14C"),
    ("shot-receipt", "Grocery receipt\nbananas apples"),
    ("shot-wifi", "Guest network\npassphrase on request"),
    ("shot-dashboard", "Latency dashboard\nthroughput graph"),
    ("shot-warning", "Warning: disk almost full"),
    ("shot-welcome", "Welcome aboard\nonboarding checklist"),
    ("shot-shipping", "Shipping label\ntracking parcel"),
    ("shot-calendar", "Calendar reminder\ndentist appointment"),
]

NOTES = [
    ("note-fib", "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"),
    ("note-alice", "alice@example.com"),
    ("note-tmp", "tmp-1234"),
    ("note-splash", "#!/bin/sh\n# boot splash: show the logo while services start\nplymouth show-splash\n"),
    ("note-rent", "my IBAN DE89 3704 0044 0532 0130 00 for the rent"),
    ("note-standup", "standup moved to 10:30, bring the sprint burndown"),
    ("note-pasta", "pasta recipe: garlic, chilli, olive oil, parsley"),
    ("note-flight", "flight LH 1234 departs 07:15 from terminal 2"),
]


def words_of(text):
    return [w.lower() for w in WORD.findall(text)]


def render(path, text):
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 36)
    img = Image.new("RGB", (900, 220), "white")
    d = ImageDraw.Draw(img)
    d.multiline_text((30, 40), text, fill="black", font=font, spacing=20)
    img.save(path)


def build_history(root, fx, rng):
    """Writes the history's files under root; returns {file name: text or None} (None: image)."""
    items = {}
    os.makedirs(root)
    for p in sorted(glob.glob(os.path.join(fx, "toyworld-eval", "img*.png"))):
        shutil.copy(p, os.path.join(root, os.path.basename(p)))
        items[os.path.basename(p)] = None
    for stem, text in RENDERED:
        render(os.path.join(root, stem + ".png"), text)
        items[stem + ".png"] = text
    texts = []
    for stem, text in NOTES:
        texts.append((stem, text))
    # code: functions of the Python standard library as installed by Debian
    funcs = []
    for p in sorted(glob.glob("/usr/lib/python3.11/*.py"))[:60]:
        src = open(p, encoding="utf-8", errors="replace").read()
        for m in re.finditer(r"\ndef [^\n]*\n(?:(?:    [^\n]*)?\n){2,30}", src):
            funcs.append(m.group(0).strip("\n"))
    rng.shuffle(funcs)
    texts += [("code-%03d" % i, f) for i, f in enumerate(funcs[:150])]
    # prose paragraphs and long files: the licences Debian ships
    paras = []
    for p in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        body = open(p, encoding="utf-8", errors="replace").read()
        for para in re.split(r"\n\s*\n", body):
            para = " ".join(para.split())
            if 200 <= len(para) <= 1500:
                paras.append(para)
    rng.shuffle(paras)
    texts += [("prose-%03d" % i, t) for i, t in enumerate(paras[:170])]
    for i, p in enumerate(["Apache-2.0", "GPL-3", "LGPL-2.1", "MPL-2.0", "Artistic", "GFDL-1.3"]):
        texts.append(("long-%02d" % i, open("/usr/share/common-licenses/" + p, encoding="utf-8").read()))
    # URLs and e-mail addresses from Debian's copyright files
    urls, mails = set(), set()
    for p in sorted(glob.glob("/usr/share/doc/*/copyright"))[:400]:
        body = open(p, encoding="utf-8", errors="replace").read()
        urls.update(re.findall(r"https?://[A-Za-z0-9./_~-]{12,80}", body))
        mails.update(re.findall(r"[A-Za-z0-9._-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+[A-Za-z]", body))
    urls, mails = sorted(urls), sorted(mails)
    rng.shuffle(urls)
    rng.shuffle(mails)
    texts += [("url-%03d" % i, u) for i, u in enumerate(urls[:60])]
    texts += [("mail-%03d" % i, m) for i, m in enumerate(mails[:40])]
    # secret-looking lines
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    for i in range(15):
        tok = "".join(rng.choice(alnum) for _ in range(32))
        line = rng.choice(["AWS_SECRET_ACCESS_KEY=%s", "password: %s", "Authorization: Bearer %s",
                           "ghp_%s", "export API_TOKEN=%s"]) % tok
        texts.append(("secret-%02d" % i, line))
    for stem, t in texts:
        with open(os.path.join(root, stem + ".txt"), "w", encoding="utf-8") as f:
            f.write(t)
        items[stem + ".txt"] = t
    return items


def one_edit(w, rng):
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = rng.randrange(1, len(w) - 1)
    op = rng.choice(["sub", "del", "ins", "swap"])
    if op == "sub":
        return w[:i] + rng.choice([c for c in letters if c != w[i]]) + w[i + 1:]
    if op == "del":
        return w[:i] + w[i + 1:]
    if op == "ins":
        return w[:i] + rng.choice(letters) + w[i:]
    if w[i] == w[i + 1]:
        return w[:i] + w[i + 1:]
    return w[:i] + w[i + 1] + w[i] + w[i + 2:]


def make_queries(items, fx, rng):
    """[(group, query, target file name or None)]"""
    docs = {}
    for name, text in items.items():
        # the words the full-text index sees: the text (OCR text for rendered images) and the
        # source path's own name
        docs[name] = set(words_of(text or "")) | set(words_of(name))
    df = {}
    for ws in docs.values():
        for w in ws:
            df[w] = df.get(w, 0) + 1
    vocab = set(df)
    q = []
    cands = []
    for name in sorted(items):
        if name.startswith(("long-", "secret-")) or items[name] is None:
            continue
        uniq = sorted(w for w in docs[name] if df[w] == 1 and w.isalpha() and 5 <= len(w) <= 12 and w not in words_of(name))
        if uniq:
            cands.append((name, rng.choice(uniq)))
    rng.shuffle(cands)
    for name, w in cands[:60]:
        q.append(("exact", w, name))
    for name, w in cands[:20]:
        for k in range(3, len(w)):
            q.append(("prefix", w[:k], name))
    n = 0
    for name, w in cands:
        t = one_edit(w, rng)
        if t in vocab:
            continue
        q.append(("typo", t, name))
        n += 1
        if n == 40:
            break
    for it in json.load(open(os.path.join(fx, "toyworld-eval", "queries.json")))["items"]:
        q.append(("toy", it["query"], it["file"]))
    consonants = "bcdfghjklmnpqrstvwxz"
    n = 0
    while n < 40:
        s = "".join(rng.choice(consonants) for _ in range(rng.randrange(5, 10)))
        if any(v.startswith(s[:3]) or s in v for v in vocab):
            continue  # not nonsense in this history
        q.append(("nonsense", s, None))
        n += 1
    return q


def run_query(binary, env, query):
    r = subprocess.run([binary, "search", query, "--limit", "10", "--json"], env=env, capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit("search %r failed: %s" % (query, r.stderr))
    out = r.stdout.strip()
    hits = json.loads(out) if out else []
    return [os.path.basename(h.get("source") or "") for h in hits]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--fixtures", default=os.environ.get("CLIPSEEK_FIXTURES",
                                                         os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fixtures")))
    ap.add_argument("--keep", help="build the history in this folder and keep it")
    ap.add_argument("--reuse", action="store_true", help="with --keep: search the history built there before")
    ap.add_argument("--show", default="", help="print the ranking of the queries of these groups (comma list)")
    ap.add_argument("--groups", default="", help="run only the queries of these groups (comma list)")
    a = ap.parse_args()
    rng = random.Random(14)
    work = a.keep or tempfile.mkdtemp(prefix="clipseek-relevance-")
    binary = os.path.abspath(a.bin)
    env = dict(os.environ, CLIPSEEK_DATA_DIR=os.path.join(work, "data"), CLIPSEEK_NO_DAEMON="1")
    env.pop("CLIPSEEK_MODEL", None)
    env.pop("CLIPSEEK_CONFIG", None)
    try:
        hist = os.path.join(work, "history")
        if a.reuse:  # the labels from the history's files as they were added
            items = {}
            rendered = dict(RENDERED)
            for name in sorted(os.listdir(hist)):
                if name.endswith(".txt"):
                    items[name] = open(os.path.join(hist, name), encoding="utf-8").read()
                else:
                    items[name] = rendered.get(name[:-4])
        else:
            items = build_history(hist, a.fixtures, rng)
            subprocess.run([binary, "model", "use", os.path.join(a.fixtures, "toyworld-clip")], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run([binary, "add", "--wait", hist], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run([binary, "organize"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stats = subprocess.run([binary, "stats", "--json"], env=env, check=True, capture_output=True, text=True).stdout
        # its own generator: the history's depends on what Debian has installed
        queries = make_queries(items, a.fixtures, random.Random(15))
        with open(os.path.join(work, "labels.tsv"), "w") as f:
            for g, qq, t in queries:
                f.write("%s\t%s\t%s\n" % (g, qq, t or ""))
        show = set(a.show.split(",")) if a.show else set()
        res = {}
        only = set(a.groups.split(",")) if a.groups else None
        for g, qq, t in queries:
            if only and g not in only:
                continue
            got = run_query(binary, env, qq)
            res.setdefault(g, []).append((qq, t, got))
            if g in show:
                print("%-8s %-24s %-18s %s" % (g, qq, t, " ".join(got[:5])))
        n_entries = json.loads(stats).get("entries", "?")
        print("history: %s entries (%d files), %d queries" % (n_entries, len(items), len(queries)))
        print("| group | queries | aim | met | MRR@10 | recall@5 | top 1 | top 3 | no result |")
        print("|---|---|---|---|---|---|---|---|---|")
        for g, aim in (("exact", "top 1"), ("prefix", "top 3"), ("typo", "top 3"), ("toy", "top 1"), ("nonsense", "no result")):
            rows = res.get(g, [])
            if not rows:
                continue
            n = len(rows)
            rr = r5 = t1 = t3 = empty = 0.0
            for qq, t, got in rows:
                empty += not got
                if t is None:
                    continue
                if t in got[:10]:
                    rr += 1.0 / (got.index(t) + 1)
                r5 += t in got[:5]
                t1 += got[:1] == [t]
                t3 += t in got[:3]
            share = {"top 1": t1, "top 3": t3, "no result": empty}[aim] / n
            if g == "nonsense":
                print("| %s | %d | %s | %.1f %% | - | - | - | - | %.1f %% |" % (g, n, aim, 100 * share, 100 * empty / n))
            else:
                print("| %s | %d | %s | %.1f %% | %.3f | %.3f | %.1f %% | %.1f %% | %.1f %% |" % (
                    g, n, aim, 100 * share, rr / n, r5 / n, 100 * t1 / n, 100 * t3 / n, 100 * empty / n))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
