#!/usr/bin/env python3
"""Same answers, less time: two builds' daemons (NEW and OLD) on copies of one filled store answer
the same varied queries (prefixes, typos, several words, stop words, nonsense, non-ASCII,
punctuation, filters); every query's hits (ids, order, scores, signals) must be identical. Then
the queries are asked again for timing, each of both daemons in turn, the order alternating
(paired and interleaved, so the machine's load hits both alike), and the medians of each
daemon's own time (the SEARCH reply's total_ms and phases_ms) and of the per-pair ratios
new/old are printed as "metric value" lines. The CLI's `search --json` output is compared too.

The store: bench_fill's N synthetic entries plus a few dozen varied texts (added with
`clipseek add -`, embedded by the daemon), filled once into --store and reused when it is there.

  python3 bench/search_same.py --bin build/clipseek --old OLD/clipseek --fill build/bench_fill
         --bench-clip build/bench_clip [--entries 10000] [--store DIR] [--rounds 3] [--dtype q8]"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import add_build_args, ensure_model
from e2e import sock_request

TEXTS = [
    "Quarterly invoice for Müller GmbH, due 2024-03-31, IBAN DE89 3704 0044 0532 0130 00",
    "meeting notes: validate the validity of the validation step before deploy",
    "kernel: BUG: unable to handle page fault at ffff8880; panic in ext4_writepages",
    "Café Crème in Zürich with Zoë, 14:00 — bring the draft budget",
    "gnome-shell crashed; gnomovision prints the licence banner",
    "The quick brown fox jumps over the lazy dog",
    "password reset token: 7f3a9c (expires yesterday)",
    "東京の天気は晴れです。明日は雨が降るでしょう。",
    "Привет, как дела? Встреча в Берлине в пятницу.",
    "SELECT id, kind FROM entries WHERE kind = 'image' ORDER BY id;",
    "https://example.org/receipts/2024/coffee-berlin.png",
    "def search(query): return [hit for hit in index if query in hit]",
    "screenshot of the red error banner: connection refused (ECONNREFUSED)",
    "Receipt: 2x espresso, 1x croissant — total 7.80 EUR",
    "python rust vector index benchmark results: 3.2 ms median",
    "deployment server token rotated; see the report from yesterday",
    "invoicing invoices invoiced invoicer",
    "a the of and to in is it",
    "naïve résumé coöperate façade",
    "emoji test 🎉🚀 party rocket",
    "meting mettings meeeting (typos on purpose)",
    "clipboard manager clipseek searches words and meaning",
    "address: 221B Baker Street, London NW1 6XE",
    "budget 2025 draft v3 FINAL final2",
    "The screenshot shows a banner that reads ERROR in red",
]

QUERIES = [
    "invoice", "invo", "in", "i", "inv", "invoic", "invoices", "invoce", "invoise", "invioce",
    "meeting", "meting", "meet", "coffee meeting berlin", "coffee meet", "coffee meeting ", "berlin coffee",
    "the screenshot with the red error banner", "that receipt photo", "the IBAN from yesterday",
    "kernel panic report", "deploy token server", "kernel pan", "kernal panik", "panic kernel",
    "valid", "valid ", "validi", "gnom", "gnome", "quarterl", "quarterly invoice",
    "müller", "zürich", "café crème", "zoe", "東京", "天気", "берлин", "встреча", "naive resume", "façade",
    "🎉", "xqzvbnm", "asdfghjkl qwerty", "lorem ipsum dolor", "zzzz", "the", "a the of", "of",
    "note 42", "note 4", "42", "9999", "100", "note", "notes", "\"quoted words\"", "kind:image OR 1=1",
    "AND OR NOT", "*", "x*", "invoice AND", "-deploy", "deploy.", "deploy,server", "server token deploy photo",
    "python rust", "rust", "vector index bench", "vec", "ind", "SELECT id", "https example org", "221b baker",
    "budget draft", "budget draft final", "emoji party", "reset token", "espresso croissant", "quick brown fox",
    "lazy dogs", "connection refused", "econnrefused", "clipseek", "clipboard", "board", "ipbo",
]
FILTERS = [{}, {"kind": "text"}, {"kind": "image"}]


def start(b, env, threads, dtype, log):
    opt = ["--dtype", dtype] if dtype else []
    d = subprocess.Popen([b, "--threads", str(threads)] + opt + ["daemon", "--no-x11"], env=env,
                         stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    subprocess.run([b, "index", "--wait"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return d


def main():
    ap = argparse.ArgumentParser()
    add_build_args(ap)
    ap.add_argument("--old", required=True, help="the other build's clipseek")
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--store", default=None, help="a filled store to reuse (filled here when missing)")
    ap.add_argument("--rounds", type=int, default=3, help="timing rounds over every query")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--dtype", default=None)
    a = ap.parse_args()
    ensure_model(a)
    fx = os.environ.get("CLIPSEEK_FIXTURES", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fixtures"))
    model = a.model
    if os.path.exists(os.path.join(fx, "clip-vocab", "vocab.json")):  # real token counts, as e2e.py
        model = tempfile.mkdtemp(prefix="clipseek-same-model-")
        for f in ("config.json", "model.safetensors"):
            os.symlink(os.path.abspath(os.path.join(a.model, f)), os.path.join(model, f))
        for f in ("vocab.json", "merges.txt"):
            os.symlink(os.path.abspath(os.path.join(fx, "clip-vocab", f)), os.path.join(model, f))
    tmp = tempfile.mkdtemp(prefix="clipseek-same-")
    store = a.store or os.path.join(tmp, "store")

    def env_for(data):
        e = dict(os.environ, CLIPSEEK_DATA_DIR=data, CLIPSEEK_CONFIG=os.path.join(tmp, "config"),
                 XDG_CONFIG_HOME=os.path.join(tmp, "xdg"))
        e.pop("DISPLAY", None)
        e.pop("WAYLAND_DISPLAY", None)
        return e

    open(os.path.join(tmp, "config"), "w").write("ocr = false\nmax_entries = 0\nweb = false\n")
    if not os.path.exists(os.path.join(store, "filled")):
        shutil.rmtree(store, ignore_errors=True)
        subprocess.run([a.fill, store, model, str(a.entries)], check=True, env=env_for(store),
                       stderr=subprocess.DEVNULL)
        for t in TEXTS:
            subprocess.run([a.bin, "add", "-"], input=t.encode(), env=env_for(store), check=True,
                           stdout=subprocess.DEVNULL)
        d = start(a.bin, env_for(store), a.threads, a.dtype, os.path.join(tmp, "fill.log"))
        d.terminate()
        d.wait()
        open(os.path.join(store, "filled"), "w").write("")
    bins = {"new": a.bin, "old": a.old}
    envs, daemons = {}, {}
    try:
        for k, b in bins.items():
            data = os.path.join(tmp, "data-" + k)
            shutil.copytree(store, data, symlinks=True)
            envs[k] = env_for(data)
            daemons[k] = start(b, envs[k], a.threads, a.dtype, os.path.join(tmp, f"daemon-{k}.log"))
        print(f"# {len(QUERIES)} queries x {len(FILTERS)} filters; {a.entries} + {len(TEXTS)} entries;"
              f" load average {os.getloadavg()[0]:.1f}")
        # same answers: every query, every filter, through the socket and through the CLI
        differ, nhits, asked = 0, 0, 0
        for q in QUERIES:
            for flt in FILTERS:
                reps = {k: json.loads(sock_request(envs[k]["CLIPSEEK_DATA_DIR"],
                                                   "SEARCH " + json.dumps(dict({"q": q, "limit": 20}, **flt))))
                        for k in bins}
                asked += 1
                nhits += len(reps["new"].get("hits", []))
                if "hits" not in reps["new"] or reps["new"].get("hits") != reps["old"].get("hits"):
                    differ += 1
                    print(f"DIFFERENT {q!r} {flt}: new {reps['new'].get('hits', reps['new'])}"
                          f" old {reps['old'].get('hits', reps['old'])}", file=sys.stderr)
            outs = {k: subprocess.run([bins[k], "search", q, "--json", "--limit", "20"], env=envs[k],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in bins}
            if (outs["new"].returncode, outs["new"].stdout) != (outs["old"].returncode, outs["old"].stdout):
                differ += 1
                print(f"DIFFERENT CLI {q!r}", file=sys.stderr)
        print(f"same_answers_searches {asked}")
        print(f"same_answers_hits_total {nhits}")
        print(f"same_answers_differ {differ}")
        # timing: paired, interleaved
        total = {k: [] for k in bins}
        phases = {k: {} for k in bins}
        for r in range(a.rounds):
            for i, q in enumerate(QUERIES):
                order = list(bins) if (i + r) % 2 == 0 else list(bins)[::-1]
                for k in order:
                    rep = json.loads(sock_request(envs[k]["CLIPSEEK_DATA_DIR"],
                                                  "SEARCH " + json.dumps({"q": q, "limit": 20})))
                    total[k].append(rep["total_ms"])
                    for p, v in rep.get("phases_ms", {}).items():
                        phases[k].setdefault(p, []).append(v)
        for k in bins:
            print(f"daemon_{k}_median_ms {statistics.median(total[k]):.2f}")
            for p, v in phases[k].items():
                print(f"phase_{k}_{p}_median_ms {statistics.median(v):.2f}")
        print(f"daemon_ratio_median {statistics.median(x / y for x, y in zip(total['new'], total['old'])):.3f}")
        # the daemon's own time less the text tower's (not this work's part)
        nx = [x - y for x, y in zip(total["new"], phases["new"]["embed"])]
        ox = [x - y for x, y in zip(total["old"], phases["old"]["embed"])]
        print(f"daemon_less_embed_new_median_ms {statistics.median(nx):.2f}")
        print(f"daemon_less_embed_old_median_ms {statistics.median(ox):.2f}")
        print(f"daemon_less_embed_ratio_median {statistics.median(x / y for x, y in zip(nx, ox)):.3f}")
        print(f"# load average at the end {os.getloadavg()[0]:.1f}")
        return 1 if differ else 0
    finally:
        for d in daemons.values():
            d.terminate()
            d.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
