#!/usr/bin/env python3
"""End-to-end search benchmark: `clipseek search QUERY --json` against a running daemon that holds
a ViT-B/32-shaped model (random weights: same shapes, so the same time), over a store of N
synthetic entries with 512-dim vectors. Reports, as "metric value" lines, the CLI's wall time per
search (median, p99; process start, socket round trip, full text, text tower, vector search,
result formatting) and, separately, the daemon's own time and the text tower's share of it; and
`clipseek help`'s wall time (the front binary's start).

--old-daemon (with --compare): OLD runs its own daemon too, on a copy of the filled store, so the
pairs compare the whole search (front, engine server, daemon) before and after a change; each
query's hits from both daemons must be identical. Also printed: each daemon's CPU time per search
(all threads, from /proc; less noisy than wall time on a loaded machine) and the new daemon's
per-phase medians (the SEARCH reply's phases_ms).

--compare OLD: another build's clipseek (e.g. main's, built in a scratch copy) runs the same
searches against the same daemon (the SEARCH request has not changed), each query by both
binaries in turn, the order alternating: paired and interleaved, so the machine's load hits both
alike; prints the old medians and the median of the per-pair ratios new/old. --dtype: the
daemon's weights (q8: the text tower's share with 8-bit weights).

  python3 bench/e2e.py --bin build/clipseek --fill build/bench_fill --bench-clip build/bench_clip
         [--entries 10000,100000] [--queries 30] [--threads 2] [--compare OLD] [--dtype q8]"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

from benchlib import add_build_args, ensure_model


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


def proc_cpu(pid):
    """CPU ms of a daemon (all its threads) and of its engine server's requests (the server's own
    time plus its reaped children: the processes that ran the fronts' commands)."""
    tick = 1000.0 / os.sysconf("SC_CLK_TCK")

    def fields(p):
        with open(f"/proc/{p}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()

    own = fields(pid)
    kids = set()
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            kids.update(open(f"/proc/{pid}/task/{t}/children").read().split())
        except OSError:
            pass
    server = 0.0
    for k in kids:
        try:
            f = fields(k)
            server += sum(int(x) for x in f[11:15])
        except OSError:
            pass
    return (int(own[11]) + int(own[12])) * tick, server * tick


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    add_build_args(ap)
    ap.add_argument("--entries", default="10000")
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--compare", help="another build's clipseek, run paired and interleaved")
    ap.add_argument("--dtype", help="the daemon's --dtype (f32, f16, q8)")
    ap.add_argument("--old-daemon", action="store_true",
                    help="with --compare: the old binary gets its own daemon on a copy of the same store (before/after"
                         " of the daemon's search too); both daemons must rank every query the same")
    a = ap.parse_args()
    ensure_model(a)
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
          f" {vocab}; load average {os.getloadavg()[0]:.1f}")
    bins = [a.bin] + ([a.compare] if a.compare else [])
    help_ms = {b: [] for b in bins}
    for i in range(2 * a.queries):
        for b in (bins if i % 2 == 0 else bins[::-1]):
            t0 = time.perf_counter()
            subprocess.run([b, "help"], check=True, stdout=subprocess.DEVNULL)
            help_ms[b].append((time.perf_counter() - t0) * 1e3)
    print(f"help_median_ms {statistics.median(help_ms[a.bin]):.2f}")
    if a.compare:
        print(f"help_old_median_ms {statistics.median(help_ms[a.compare]):.2f}")
        print(f"help_ratio_median {statistics.median(x / y for x, y in zip(help_ms[a.bin], help_ms[a.compare])):.3f}")
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
        dt_opt = ["--dtype", a.dtype] if a.dtype else []
        # --old-daemon: the old binary answers from its own daemon, on a copy of the same store
        envs = {b: env for b in bins}
        if a.old_daemon:
            shutil.copytree(data, data + "-old", symlinks=True)
            envs[a.compare] = dict(env, CLIPSEEK_DATA_DIR=data + "-old")
        daemons = {}
        try:
            for b in (bins if a.old_daemon else [a.bin]):
                daemons[b] = subprocess.Popen([b, "--threads", str(a.threads)] + dt_opt + ["daemon", "--no-x11"],
                                              env=envs[b], stdout=subprocess.DEVNULL,
                                              stderr=open(os.path.join(tmp, f"daemon{len(daemons)}.log"), "w"))
            t0 = time.time()
            for b in daemons:
                subprocess.run([b, "index", "--wait"], env=envs[b], check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            ready_s = time.time() - t0
            wall, nhits = {b: [] for b in bins}, []
            daemon_ms, embed_ms, phases = {b: [] for b in daemons}, {b: [] for b in daemons}, {}
            cpu0 = {b: proc_cpu(daemons[b].pid) for b in daemons}
            for i in range(a.queries + 2):
                q = queries[i % len(queries)]
                for b in (bins if i % 2 == 0 else bins[::-1]):
                    t0 = time.perf_counter()
                    r = subprocess.run([b, "search", q, "--json", "--limit", "20"], env=envs[b],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                    dt = (time.perf_counter() - t0) * 1e3
                    # exit 1 with [] is "no matches" (random weights: a query may pass no threshold)
                    if r.returncode not in (0, 1):
                        raise SystemExit(f"{b} search: exit {r.returncode}: {r.stderr.decode().strip()}")
                    hits = json.loads(r.stdout)
                    if len(hits) > 20 or (r.returncode == 1) != (not hits):
                        raise SystemExit(f"{b} search: exit {r.returncode} with {len(hits)} hits")
                    nhits.append(len(hits))
                    if i >= 2:  # two warm-ups
                        wall[b].append(dt)
                reps = {}
                for b in (list(daemons) if i % 2 == 0 else list(daemons)[::-1]):
                    reps[b] = json.loads(sock_request(envs[b]["CLIPSEEK_DATA_DIR"],
                                                      "SEARCH " + json.dumps({"q": q, "limit": 20})))
                    if i >= 2:
                        daemon_ms[b].append(reps[b]["total_ms"])
                        embed_ms[b].append(reps[b]["embed_ms"])
                        for k, v in reps[b].get("phases_ms", {}).items():
                            if b == a.bin:
                                phases.setdefault(k, []).append(v)
                if len(reps) == 2 and reps[a.bin].get("hits") != reps[a.compare].get("hits"):
                    raise SystemExit(f"the two daemons rank {q!r} differently")
            cpu = {b: [(x - y) / (2 * (a.queries + 2)) for x, y in zip(proc_cpu(daemons[b].pid), cpu0[b])]
                   for b in daemons}
            label = f"{n // 1000}k" if n < 1000000 else f"{n // 1000000}m"
            print(f"# {n} entries: filled in {fill_s:.1f} s, daemon ready (organised) in {ready_s:.1f} s;"
                  f" {statistics.mean(nhits):.1f} hits a search on average")
            print(f"e2e_{label}_median_ms {statistics.median(wall[a.bin]):.1f}")
            print(f"e2e_{label}_p99_ms {pct(wall[a.bin], 99):.1f}")
            if a.compare:
                old = wall[a.compare]
                print(f"e2e_{label}_old_median_ms {statistics.median(old):.1f}")
                print(f"e2e_{label}_ratio_median {statistics.median(x / y for x, y in zip(wall[a.bin], old)):.3f}")
            for b in daemons:
                sfx = "_old" if b != a.bin else ""
                print(f"daemon_{label}{sfx}_median_ms {statistics.median(daemon_ms[b]):.1f}")
                print(f"text_tower_{label}{sfx}_median_ms {statistics.median(embed_ms[b]):.1f}")
                # CPU per search (each query is asked twice of each daemon: by the front, on the socket)
                print(f"daemon_{label}{sfx}_cpu_ms_per_search {cpu[b][0]:.1f}")
                print(f"engine_server_{label}{sfx}_cpu_ms_per_search {cpu[b][1]:.1f}")
            for k, v in phases.items():
                print(f"phase_{label}_{k}_median_ms {statistics.median(v):.2f}")
        finally:
            for d in daemons.values():
                d.terminate()
                d.wait()
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"# load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
