"""What the end-to-end benches share (e2e.py, index_bench.py): the command line's head naming the
build's programs and the ViT-B/32-shaped model, and writing that model once."""
import os
import subprocess


def add_build_args(ap):
    """--bin (the build's clipseek), --fill (bench_fill: the synthetic history), --bench-clip
    (bench_clip: writes the model) and --model (its folder, shared between runs)."""
    ap.add_argument("--bin", required=True)
    ap.add_argument("--fill", required=True)
    ap.add_argument("--bench-clip", required=True)
    ap.add_argument("--model", default=os.environ.get("BENCH_MODEL_DIR", "/tmp/clipseek-bench-model"))


def ensure_model(a):
    """Writes the random-weight model into a.model with bench_clip, unless it is there already."""
    if not os.path.exists(os.path.join(a.model, "model.safetensors")):
        subprocess.run([a.bench_clip, "--keep", a.model, "--write-only"], check=True)
