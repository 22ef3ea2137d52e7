#!/bin/sh
# make bench: clipseek's tower latencies next to the ONNX Runtime anchor, in one invocation, on
# the same thread count. Prints "metric value" lines: clipseek's metrics under the anchor's names,
# the anchor's as ort_<name>, and ratio_<name> = clipseek / ONNX Runtime (below 1 is faster).
# Lines starting with '#' name the machine, threads and BLAS.
#   sh bench/run.sh BENCH_BINARY [threads]      (BENCH_THREADS also sets the thread count)
set -eu
BIN=$1
T=${2:-${BENCH_THREADS:-$(nproc)}}
ANCHOR=${ANCHOR:-../shared/anchors/ort-anchor.sh}
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "# threads: $T"
ours=$(mktemp)
theirs=$(mktemp)
trap 'rm -f "$ours" "$theirs"' EXIT
"$BIN" --threads "$T" --keep "${BENCH_MODEL_DIR:-/tmp/clipseek-bench-model}" > "$ours"
grep '^#' "$ours" || true
if [ -x "$(command -v node)" ] && [ -f "$ANCHOR" ]; then
  bash "$ANCHOR" "$T" > "$theirs" 2>/dev/null || echo "# anchor failed: see $ANCHOR (needs python3-torch and npm)"
else
  echo "# anchor not available ($ANCHOR, node)"
fi
grep '^ort threads' "$theirs" | sed 's/^/# /' || true
for m in image_b1_ms image_b8_ms_per_image text_8tok_ms text_77tok_ms; do
  a=$(awk -v m="$m" '$1 == m {print $2}' "$ours")
  b=$(awk -v m="$m" '$1 == m {print $2}' "$theirs")
  echo "$m $a"
  if [ -n "$b" ]; then
    echo "ort_$m $b"
    echo "ratio_${m%_ms*} $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')"
  fi
done
