#!/usr/bin/env python3
"""Indexing benchmark through the daemon: `clipseek add --wait` of a folder of synthetic images
(and texts) with a ViT-B/32-shaped model (random weights: the real shapes, so the real time),
over a store that already holds N organised entries (bench_fill: texts with random vectors).
Reports "metric value" lines per (existing entries, dtype):
  add_<N>_<dtype>_s, add_<N>_<dtype>_items_per_s   end to end, embedding and organising included
  rss_<N>_<dtype>_mb                                 the daemon's VmRSS after the add (idle)
  rss_<N>_<dtype>_<part>_mb                          that split by smaps: anon (converted or packed
                                                     weights, workspace, heap), model_file, weights_cache,
                                                     drivers (Vulkan, LLVM), vectors, database,
                                                     libraries, other
and, as '#' lines, the daemon's resident set per mapping (smaps: the model's weights, the
vectors files, the database, the heap, libraries), largest first.

--organise N1,N2 measures the organiser and the store alone instead, without the towers: N text
entries with precomputed random vectors (bench_fill), then `clipseek organize --no-ocr` over all
of them (a first organising of an imported history: the case that grew with N^2):
  organise_<N>_ms_per_entry

  python3 bench/index_bench.py --bin build/clipseek --fill build/bench_fill --bench-clip build/bench_clip
         [--existing 1000,10000] [--images 10000] [--texts 0] [--dtypes f32] [--threads 2]
  --existing 0 starts from an empty store (the memory run: --existing 0 --images 1000 --texts 1000
  --dtypes f32,f16,q8)."""
import argparse
import os
import random
import resource
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import zlib

from benchlib import add_build_args, ensure_model


def png(path, w, h, rng):
    """A w x h RGB PNG of a few random coloured blocks (distinct bytes per image, some structure)."""
    cols = [bytes(rng.randrange(256) for _ in range(3)) for _ in range(4)]
    rows = []
    for y in range(h):
        r = bytearray(b"\0")
        for x in range(w):
            r += cols[(x * 2 // w) + 2 * (y * 2 // h)]
        rows.append(bytes(r))
    raw = b"".join(rows)

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


def wait_for(pred, what, limit_s=120):
    t0 = time.time()
    while time.time() - t0 < limit_s:
        if pred():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def smaps(pid):
    """Rss in kB per mapping name (anonymous mappings pooled as [anon])."""
    out, name = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" in parts[3]:
                name = parts[5] if len(parts) > 5 else "[anon]"
            elif parts[0] == "Rss:":
                out[name] = out.get(name, 0) + int(parts[1])
    return out


# The resident set split by what holds it (smaps mapping names), for the memory table in
# docs/performance.md: the model's weights converted or packed in anonymous memory, the weights
# file used in place, the GPU stack (Vulkan drivers and the LLVM lavapipe links), the search
# matrix, the database, the other libraries.
SPLIT = [
    ("anon", "anonymous: converted/packed weights, workspace, heap",
     lambda n: n in ("[anon]", "[heap]") or n.startswith("[anon:")),
    ("model_file", "the model's weights file, mapped (used in place)",
     lambda n: n.endswith(".safetensors") or n.endswith(".bin")),
    ("weights_cache", "converted-weights cache files (weights/*.lpw)", lambda n: n.endswith(".lpw")),
    ("drivers", "Vulkan drivers and LLVM", lambda n: "LLVM" in n or "libvulkan_" in n or "libgallium" in n),
    ("vectors", "the search matrix (vectors/)", lambda n: "/vectors/" in n),
    ("database", "the database", lambda n: ".db" in n),
    ("libraries", "other shared libraries", lambda n: ".so" in n),
]


def split(sm):
    """MB per SPLIT category (and "other") of a smaps() dict."""
    out = {k: 0.0 for k, _, _ in SPLIT}
    out["other"] = 0.0
    for name, kb in sm.items():
        key = next((k for k, _, match in SPLIT if match(name)), "other")
        out[key] += kb / 1024
    return out


def vmrss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def main():
    ap = argparse.ArgumentParser()
    add_build_args(ap)
    ap.add_argument("--existing", default="1000,10000")
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--texts", type=int, default=0)
    ap.add_argument("--dtypes", default="f32")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--top", type=int, default=8, help="mappings listed per run")
    ap.add_argument("--organise", default="", help="N1,N2: time the organiser alone over N entries")
    a = ap.parse_args()
    if a.organise:
        for n in [int(x) for x in a.organise.split(",")]:
            organise_only(a, n)
        return
    ensure_model(a)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"# machine: {cpu}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; daemon threads: {a.threads};"
          f" model: ViT-B/32 shapes, random weights; {a.images} images (64x64 PNG) + {a.texts} texts per add")
    src = tempfile.mkdtemp(prefix="clipseek-ib-src-")
    try:
        rng = random.Random(17)
        os.mkdir(os.path.join(src, "in"))
        for i in range(a.images):
            png(os.path.join(src, "in", f"img{i:06d}.png"), 64, 64, rng)
        words = ["invoice", "meeting", "kernel", "panic", "receipt", "coffee", "deploy", "token", "server", "photo"]
        for i in range(a.texts):
            with open(os.path.join(src, "in", f"txt{i:06d}.txt"), "w") as f:
                f.write(f"clip {i}: " + " ".join(rng.choice(words) for _ in range(12)) + "\n")
        for n in [int(x) for x in a.existing.split(",")]:
            for dt in a.dtypes.split(","):
                run(a, src, n, dt)
    finally:
        shutil.rmtree(src, ignore_errors=True)


def organise_only(a, n):
    tmp = tempfile.mkdtemp(prefix="clipseek-ib-")
    env = dict(os.environ, CLIPSEEK_DATA_DIR=os.path.join(tmp, "data"), CLIPSEEK_CONFIG=os.path.join(tmp, "config"),
               XDG_CONFIG_HOME=os.path.join(tmp, "xdg"))
    with open(os.path.join(tmp, "config"), "w") as f:
        f.write("ocr = false\nmax_entries = 0\nweb = false\n")
    q = dict(env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        subprocess.run([a.fill, env["CLIPSEEK_DATA_DIR"], a.model, str(n)], **q)
        subprocess.run([a.bin, "model", "use", a.model], **q)
        # the model load and the label embedding, to subtract: organising nothing
        def timed():  # wall and CPU (user + system) seconds of one organize
            r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
            subprocess.run([a.bin, "--threads", str(a.threads), "organize", "--no-ocr"], **q)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            return time.time() - t0, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime

        took, cpu = timed()
        fixed, fixed_cpu = timed()  # nothing left to organise: start, model and labels, to subtract
        print(f"# {n} entries: organize {took:.1f} s ({cpu:.1f} s CPU), of which {fixed:.1f} s ({fixed_cpu:.1f} s"
              f" CPU) start, model and labels (a second, empty run); load {os.getloadavg()[0]:.1f}")
        print(f"organise_{n}_ms_per_entry {(took - fixed) * 1e3 / n:.2f}")
        print(f"organise_{n}_cpu_ms_per_entry {(cpu - fixed_cpu) * 1e3 / n:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(a, src, n, dt):
    tmp = tempfile.mkdtemp(prefix="clipseek-ib-")
    data = os.path.join(tmp, "data")
    env = dict(os.environ, CLIPSEEK_DATA_DIR=data, CLIPSEEK_CONFIG=os.path.join(tmp, "config"),
               XDG_CONFIG_HOME=os.path.join(tmp, "xdg"))
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    with open(os.path.join(tmp, "config"), "w") as f:
        f.write("ocr = false\nmax_entries = 0\nweb = false\n")
    q = dict(env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if n:
        subprocess.run([a.fill, data, a.model, str(n)], **q)
    subprocess.run([a.bin, "model", "use", a.model, "--dtype", dt], **q)
    log = open(os.path.join(tmp, "daemon.log"), "w")
    d = subprocess.Popen([a.bin, "--threads", str(a.threads), "daemon", "--no-x11"], env=env,
                         stdout=subprocess.DEVNULL, stderr=log)
    try:
        sock = os.path.join(data, "daemon.sock")

        def answers():
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sock)
                s.close()
                return True
            except OSError:
                return False

        wait_for(answers, "the daemon's socket")
        t0 = time.time()
        subprocess.run([a.bin, "index", "--wait"], **q)  # the existing entries organised first
        ready = time.time() - t0
        t0 = time.time()
        subprocess.run([a.bin, "add", "--wait", os.path.join(src, "in")], **q)
        took = time.time() - t0
        items = a.images + a.texts
        label = f"{n // 1000}k" if n >= 1000 else str(n)
        print(f"# {n} existing entries, {dt}: organised in {ready:.1f} s before the add")
        print(f"add_{label}_{dt}_s {took:.1f}")
        print(f"add_{label}_{dt}_items_per_s {items / took:.2f}")
        print(f"rss_{label}_{dt}_mb {vmrss_kb(d.pid) / 1024:.0f}")
        sm = smaps(d.pid)
        for k, v in split(sm).items():
            what = next((w for kk, w, _ in SPLIT if kk == k), "the rest (stack, vdso, ...)")
            print(f"rss_{label}_{dt}_{k}_mb {v:.1f}  # {what}")
        for name, kb in sorted(sm.items(), key=lambda x: -x[1])[:a.top]:
            print(f"#   {kb / 1024:7.1f} MB  {name.replace(tmp, '<tmp>')}")
    finally:
        d.terminate()
        d.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
