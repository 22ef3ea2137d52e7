#!/bin/sh
# make bench: clipseek's tower latencies next to the ONNX Runtime anchor, in one invocation, on
# the same thread count. Prints "metric value" lines: clipseek's metrics under the anchor's names,
# the anchor's as ort_<name>, and ratio_<name> = clipseek / ONNX Runtime (below 1 is faster).
# Lines starting with '#' name the machine, threads and BLAS, and each round's ratios.
#   sh bench/run.sh BENCH_BINARY [threads]      (BENCH_THREADS also sets the thread count)
# Rounds: BENCH_ROUNDS (default 5) pairs of runs, clipseek then the anchor, back to back (about
# 15 s a pair). This machine's speed drifts by 10-40% over seconds (one round's image batch-8
# ratio ranged 0.51-1.41 in an hour, on the same code), so one pair can land on both sides of a
# slow spell; each metric reports the median over rounds, and its ratio the median of the
# rounds' ratios (each taken from one pair, run back to back).
# Dtypes: BENCH_DTYPES (default "f32 f16 q8"), the CPU weights; each round runs every dtype, then
# the anchor, so all of them are interleaved with it. Metrics and ratios carry the dtype:
# f16_image_b1_ms, ratio_f16_image_b1 (the anchor is always ONNX Runtime fp32).
set -eu
BIN=$1
T=${2:-${BENCH_THREADS:-$(nproc)}}
R=${BENCH_ROUNDS:-5}
DTYPES=${BENCH_DTYPES:-f32 f16 q8}
ANCHOR=${ANCHOR:-../shared/anchors/ort-anchor.sh}
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "# threads: $T, rounds: $R, dtypes: $DTYPES"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
anchor=1
if ! [ -x "$(command -v node)" ] || ! [ -f "$ANCHOR" ]; then
  echo "# anchor not available ($ANCHOR, node)"
  anchor=0
fi
i=1
while [ "$i" -le "$R" ]; do
  for dt in $DTYPES; do
    "$BIN" --threads "$T" --keep "${BENCH_MODEL_DIR:-/tmp/clipseek-bench-model}" --dtype "$dt" > "$dir/ours.$dt.$i"
  done
  if [ "$anchor" = 1 ] && ! bash "$ANCHOR" "$T" > "$dir/theirs.$i" 2>/dev/null; then
    echo "# anchor failed: see $ANCHOR (needs python3-torch and npm)"
    anchor=0
  fi
  i=$((i + 1))
done
for dt in $DTYPES; do grep -h '^#' "$dir/ours.$dt.1" || true; done
[ "$anchor" = 1 ] && grep -h '^ort threads' "$dir/theirs.1" | sed 's/^/# /'
# median of the numbers on stdin, one per line
median() { sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
for m in image_b1_ms image_b8_ms_per_image text_8tok_ms text_77tok_ms; do
  [ "$anchor" = 1 ] && echo "ort_$m $(awk -v m="$m" '$1 == m {print $2}' "$dir"/theirs.* | median)"
  for dt in $DTYPES; do
    echo "${dt}_$m $(awk -v m="$m" '$1 == m {print $2}' "$dir"/ours."$dt".* | median)"
    [ "$anchor" = 1 ] || continue
    rs=""
    i=1
    while [ "$i" -le "$R" ]; do
      a=$(awk -v m="$m" '$1 == m {print $2}' "$dir/ours.$dt.$i")
      b=$(awk -v m="$m" '$1 == m {print $2}' "$dir/theirs.$i")
      rs="$rs $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')"
      i=$((i + 1))
    done
    echo "# ratio_${dt}_${m%_ms*} by round:$rs"
    echo "ratio_${dt}_${m%_ms*} $(echo "$rs" | tr ' ' '\n' | grep . | median)"
  done
done
