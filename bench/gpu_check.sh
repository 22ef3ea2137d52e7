#!/bin/bash
# gpu_check.sh: on a machine with a real GPU, in one go (under 6 minutes):
#   1. prints the Vulkan devices (and nvidia-smi's view, if present);
#   2. runs the Vulkan conformance tests (tests/test_vulkan.c) on that GPU;
#   3. runs the GPU benchmark next to the CPU (make bench-gpu's metrics: image batch 1, batch 32 per
#      image and images/s, text of 8 and 77 tokens, upload time, device memory; then the same under
#      a 2 GB device-memory cap; then transformers fp16 where it is installed).
# When there is no Vulkan driver for the GPU, it says so plainly and stops. Everything goes to
# stdout and, when $OUT is set, to $OUT/gpu_check.txt.
#
# Programs: build/ (a `make build/bench_gpu build/bench_clip build/tests/test_vulkan` here), else
# gpu-bundle/ (bench/gpu_bundle.sh: portable binaries and their libraries, for a machine without a
# compiler), else it tries to build. A Vulkan loader (libvulkan.so.1) may also come from an
# unpacked libvulkan1 .deb under .gl/. DEVICE=vulkan:N names the GPU (default: the first discrete
# GPU, then the first integrated one). Fixtures for the model tests: $CLIPSEEK_FIXTURES, else
# ../shared/fixtures or shared/fixtures (without them those tests are skipped, and say so).
set -u
cd "$(dirname "$0")/.." || exit 1
if [ -n "${OUT:-}" ]; then mkdir -p "$OUT"; exec > >(tee "$OUT/gpu_check.txt") 2>&1; fi
T0=$(date +%s)
say() { echo "== $*"; }
say "gpu_check $(date -u +%FT%TZ) on $(uname -n): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"

# --- programs and libraries
BIN=""
if [ -x build/bench_gpu ] && [ -x build/tests/test_vulkan ] && [ -x build/bench_clip ]; then
  BIN=build; TESTBIN=build/tests/test_vulkan
elif [ -x gpu-bundle/bin/bench_gpu ]; then
  BIN=gpu-bundle/bin; TESTBIN=gpu-bundle/bin/test_vulkan
  export LD_LIBRARY_PATH="$PWD/gpu-bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
elif command -v cc >/dev/null && command -v glslc >/dev/null; then
  say "building (no build/ or gpu-bundle/ here)"
  make -j"$(nproc)" build/bench_gpu build/bench_clip build/tests/test_vulkan >/dev/null && BIN=build && TESTBIN=build/tests/test_vulkan
fi
if [ -z "$BIN" ]; then say "RESULT: no programs to run (carry build/ or gpu-bundle/, or install a compiler and glslc)"; exit 1; fi
for d in .gl/usr/lib/x86_64-linux-gnu .gl/lib/x86_64-linux-gnu $(ls -d .gl/*/usr/lib/x86_64-linux-gnu 2>/dev/null); do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$PWD/$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
# the NVIDIA driver's Vulkan ICD may sit outside the loader's search path (containers)
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
  for j in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
           /etc/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$j" ]; then export VK_ICD_FILENAMES="$j"; break; fi
  done
fi
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
say "programs: $BIN; VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-(loader default)}; LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
"$BIN/bench_gpu" --help >/dev/null 2>&1
if [ $? -ne 2 ]; then
  say "RESULT: $BIN/bench_gpu does not start here:"; "$BIN/bench_gpu" --help 2>&1 | head -5; exit 1
fi

# --- 1. devices
say "1. devices"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -5
LIST=$("$BIN/bench_gpu" --list 2>&1); rc=$?
echo "$LIST"
if [ $rc -ne 0 ]; then
  say "RESULT: no Vulkan driver for this machine's GPU: $LIST"
  say "nothing was measured on a GPU"
  exit 0
fi
if [ -z "${DEVICE:-}" ]; then
  N=$(echo "$LIST" | grep -m1 'discrete GPU' | sed 's/^vulkan:\([0-9]*\).*/\1/')
  [ -z "$N" ] && N=$(echo "$LIST" | grep -m1 'integrated GPU' | sed 's/^vulkan:\([0-9]*\).*/\1/')
  if [ -z "$N" ]; then say "RESULT: no GPU among the Vulkan devices (a CPU implementation only); nothing measured on a GPU"; exit 0; fi
  DEVICE=vulkan:$N
fi
say "device: $DEVICE"

# --- 2. conformance on that device
say "2. conformance tests on $DEVICE"
if [ -z "${CLIPSEEK_FIXTURES:-}" ]; then
  for f in ../shared/fixtures shared/fixtures; do [ -d "$f" ] && export CLIPSEEK_FIXTURES="$PWD/$f" && break; done
fi
echo "fixtures: ${CLIPSEEK_FIXTURES:-none (the model tests skip; the kernel tests run)}"
CLIPSEEK_TEST_VK_DEVICE=$DEVICE timeout 150 "$TESTBIN" --jobs 1 --verbose 2>&1 | grep -E '^\[(PASS|FAIL|SKIP|----|====)' | grep -v '^\[----\] *$'
echo "conformance exit status: ${PIPESTATUS[0]}"

# --- 3. benchmark next to the CPU
say "3. benchmark (ViT-B/32 shape, random weights) on $DEVICE next to the CPU"
M=${BENCH_MODEL_DIR:-/tmp/clipseek-bench-model}
[ -f "$M/model.safetensors" ] || timeout 120 "$BIN/bench_clip" --keep "$M" --write-only || say "could not write the model to $M"
timeout 150 "$BIN/bench_gpu" --model "$M" --device "$DEVICE" --cpu-reps 3
rc=$?; echo "bench_gpu exit status: $rc"
if [ $rc -ge 128 ] && [ $rc -ne 137 ]; then # crashed: once more with the pass submitted in parts (diagnosis)
  say "3a. crashed: again with CLIPSEEK_VK_SPLIT=16 (the pass in parts of 16 dispatches)"
  CLIPSEEK_VK_SPLIT=16 timeout 150 "$BIN/bench_gpu" --model "$M" --device "$DEVICE" --cpu-reps 2
  echo "split run exit status: $?"
fi
say "3a'. layer norms as dispatches of their own (CLIPSEEK_VK_NOFUSE=1): the before of the fusion, same run"
CLIPSEEK_VK_NOFUSE=1 timeout 60 "$BIN/bench_gpu" --model "$M" --device "$DEVICE" --gpu-only
echo "unfused run exit status: $?"
say "3b. the same GPU capped at 2 GB of device memory (F16)"
CLIPSEEK_VK_MEMORY_MB=2048 timeout 60 "$BIN/bench_gpu" --model "$M" --device "$DEVICE" --gpu-only
echo "capped run exit status: $?"
if [ $(( $(date +%s) - T0 )) -lt 240 ]; then
  say "3c. F32 weights (--dtype f32)"
  timeout 60 "$BIN/bench_gpu" --model "$M" --device "$DEVICE" --dtype f32 --gpu-only
fi
if [ $(( $(date +%s) - T0 )) -lt 280 ]; then
  say "3d. transformers fp16 on the same GPU (if installed)"
  timeout 70 python3 bench/hf_gpu.py || true
fi
say "done in $(( $(date +%s) - T0 )) s"
