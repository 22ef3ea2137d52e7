#!/usr/bin/python3
"""Load time and memory of a PyTorch checkpoint (pytorch_model.bin, zip and legacy layouts) against
the same weights as model.safetensors, on the ViT-B/32-shaped random checkpoint bench_clip writes
(~600 MB of float32).

Needs Debian's python3-torch (torch.save writes the .bin files exactly as PyTorch does) and
python3-numpy; run it with the system interpreter:
    make build/clipseek build/bench_clip && /usr/bin/python3 bench/torch_load.py

For each layout, in fresh processes: `clipseek model info` with the weights file evicted from the
page cache first (posix_fadvise DONTNEED on that file only: "cold-ish", other files stay cached),
then warm `model info` and `embed --text` (median of 3), with wall time and peak RSS from
/usr/bin/time."""
import argparse
import collections
import json
import os
import statistics
import struct
import subprocess

import numpy
import torch

DT = {"F32": numpy.float32, "F16": numpy.float16, "I64": numpy.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    sd = collections.OrderedDict()
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        arr = numpy.frombuffer(data[b:e], dtype=DT[t["dtype"]]).reshape(t["shape"])
        sd[name] = torch.from_numpy(arr.copy())
    return sd


def write_bins(model, out):
    sd = read_safetensors(os.path.join(model, "model.safetensors"))
    # pre-2023 transformers checkpoints carry these int64 buffers; the loader ignores them
    sd["text_model.embeddings.position_ids"] = torch.arange(77).unsqueeze(0)
    sd["vision_model.embeddings.position_ids"] = torch.arange(50).unsqueeze(0)
    dirs = {}
    for layout, zipped in (("zip", True), ("legacy", False)):
        d = os.path.join(out, layout)
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, "pytorch_model.bin")
        if not os.path.exists(p):
            torch.save(sd, p, _use_new_zipfile_serialization=zipped)
        for f in ("config.json", "vocab.json", "merges.txt", "preprocessor_config.json"):
            src = os.path.join(os.path.abspath(model), f)
            if os.path.exists(src) and not os.path.lexists(os.path.join(d, f)):
                os.symlink(src, os.path.join(d, f))
        dirs[layout] = (d, p)
    return dirs


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def timed(cmd):
    r = subprocess.run(["/usr/bin/time", "-f", "@@ %e %M"] + cmd, capture_output=True, text=True, check=True)
    line = [l for l in r.stderr.splitlines() if l.startswith("@@ ")][-1].split()
    return float(line[1]), int(line[2]) / 1024  # seconds, MB


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/clipseek")
    ap.add_argument("--bench-clip", default="build/bench_clip")
    ap.add_argument("--model", default=os.environ.get("BENCH_MODEL_DIR", "/tmp/clipseek-bench-model"))
    ap.add_argument("--out", default="/tmp/clipseek-bench-torch")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.model, "model.safetensors")):
        subprocess.run([a.bench_clip, "--keep", a.model, "--write-only"], check=True)
    dirs = write_bins(a.model, a.out)
    cases = [("safetensors", a.model, os.path.join(a.model, "model.safetensors"))]
    cases += [("pytorch " + k, d, p) for k, (d, p) in dirs.items()]
    env_threads = os.environ.get("CLIPSEEK_THREADS", "")
    print(f"# {os.cpu_count()} cores, CLIPSEEK_THREADS={env_threads or 'unset'}; torch {torch.__version__} wrote the .bin files")
    print("| weights | file MB | cold model info s | cold peak RSS MB | warm model info s | embed --text s | embed peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for name, d, p in cases:
        evict(p)
        cold_s, cold_rss = timed([a.bin, "model", "info", d])
        info = [timed([a.bin, "model", "info", d]) for _ in range(3)]
        emb = [timed([a.bin, "embed", "--model", d, "--text", "a photo of a cat"]) for _ in range(3)]
        print(f"| {name} | {os.path.getsize(p) / 1e6:.0f} | {cold_s:.2f} | {cold_rss:.0f} | "
              f"{statistics.median(x[0] for x in info):.2f} | {statistics.median(x[0] for x in emb):.2f} | "
              f"{statistics.median(x[1] for x in emb):.0f} |")


if __name__ == "__main__":
    main()
