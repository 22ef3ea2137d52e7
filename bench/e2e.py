#!/usr/bin/env python3
"""End-to-end search benchmark: `clipseek search QUERY --json` against a running daemon that holds
a ViT-B/32-shaped model (random weights: same shapes, so the same time), over a store of N
synthetic entries with 512-dim vectors. Reports, as "metric value" lines, the CLI's wall time per
search (median, p99; process start, socket round trip, full text, text tower, vector search,
result formatting) and, separately, the daemon's own time and the text tower's share of it.

  python3 bench/e2e.py --bin build/clipseek --fill build/bench_fill --bench-clip build/bench_clip
         [--entries 10000,100000] [--queries 30] [--threads 2]"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time


def sock_request(data_dir, line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.path.join(data_dir, "daemon.sock"))
    s.sendall(line.encode() + b"\n")
    out = b""
    while not out.endswith(b"\n"):
        b = s.recv(1 << 20)
        if not b:
            break
        out += b
    s.close()
    return out.decode()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--fill", required=True)
    ap.add_argument("--bench-clip", required=True)
    ap.add_argument("--model", default=os.environ.get("BENCH_MODEL_DIR", "/tmp/clipseek-bench-model"))
    ap.add_argument("--entries", default="10000")
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.model, "model.safetensors")):
        subprocess.run([a.bench_clip, "--keep", a.model, "--write-only"], check=True)
    # bench_clip's checkpoint has a byte-level toy vocabulary (a query costs one token per byte);
    # with the fixtures at hand, link OpenAI's real one in (read in place), so queries have their
    # real token counts
    fx = os.environ.get("CLIPSEEK_FIXTURES", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fixtures"))
    vocab = "byte-level toy vocabulary (a query costs a token per byte)"
    model = a.model
    if os.path.exists(os.path.join(fx, "clip-vocab", "vocab.json")):
        model = tempfile.mkdtemp(prefix="clipseek-e2e-model-")
        for f in ("config.json", "model.safetensors"):
            os.symlink(os.path.abspath(os.path.join(a.model, f)), os.path.join(model, f))
        for f in ("vocab.json", "merges.txt"):
            os.symlink(os.path.abspath(os.path.join(fx, "clip-vocab", f)), os.path.join(model, f))
        vocab = "OpenAI CLIP vocabulary (fixtures/clip-vocab)"
    a.model = model
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"# machine: {cpu}, {os.cpu_count()} cores; daemon threads: {a.threads}; model: ViT-B/32 shapes, random weights;"
          f" {vocab}")
    queries = ["the screenshot with the red error banner", "that receipt photo", "the IBAN from yesterday",
               "kernel panic report", "coffee meeting berlin", "deploy token server"]
    for n in [int(x) for x in a.entries.split(",")]:
        tmp = tempfile.mkdtemp(prefix="clipseek-e2e-")
        data = os.path.join(tmp, "data")
        env = dict(os.environ, CLIPSEEK_DATA_DIR=data, CLIPSEEK_CONFIG=os.path.join(tmp, "config"),
                   XDG_CONFIG_HOME=os.path.join(tmp, "xdg"))
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        open(os.path.join(tmp, "config"), "w").write("ocr = false\nmax_entries = 0\nweb = false\n")
        t0 = time.time()
        subprocess.run([a.fill, data, a.model, str(n)], check=True, env=env, stderr=subprocess.DEVNULL)
        fill_s = time.time() - t0
        d = subprocess.Popen([a.bin, "--threads", str(a.threads), "daemon", "--no-x11"], env=env,
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "daemon.log"), "w"))
        try:
            t0 = time.time()
            subprocess.run([a.bin, "index", "--wait"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ready_s = time.time() - t0
            wall, daemon_ms, embed_ms = [], [], []
            for i in range(a.queries + 2):
                q = queries[i % len(queries)]
                t0 = time.perf_counter()
                r = subprocess.run([a.bin, "search", q, "--json", "--limit", "20"], env=env, check=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                dt = (time.perf_counter() - t0) * 1e3
                hits = json.loads(r.stdout)
                if len(hits) != 20:
                    raise SystemExit(f"expected 20 hits, got {len(hits)}")
                rep = json.loads(sock_request(data, "SEARCH " + json.dumps({"q": q, "limit": 20})))
                if i >= 2:  # two warm-ups
                    wall.append(dt)
                    daemon_ms.append(rep["total_ms"])
                    embed_ms.append(rep["embed_ms"])
            label = f"{n // 1000}k" if n < 1000000 else f"{n // 1000000}m"
            print(f"# {n} entries: filled in {fill_s:.1f} s, daemon ready (organised) in {ready_s:.1f} s")
            print(f"e2e_{label}_median_ms {statistics.median(wall):.1f}")
            print(f"e2e_{label}_p99_ms {pct(wall, 99):.1f}")
            print(f"daemon_{label}_median_ms {statistics.median(daemon_ms):.1f}")
            print(f"text_tower_{label}_median_ms {statistics.median(embed_ms):.1f}")
        finally:
            d.terminate()
            d.wait()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
