#!/bin/sh
# gpu_bundle.sh: the programs bench/gpu_check.sh needs, for a GPU machine that cannot build them
# (no compiler or -dev packages there): bench_gpu, bench_clip and the Vulkan conformance tests,
# built portable (ARCH=, BLAS=blis: no -march=native, BLIS picks its kernels at run time), plus
# every shared library they load except the C library's own and the GPU driver's, into DIR
# (default gpu-bundle/): DIR/bin, DIR/lib. About 20 MB.
#   sh bench/gpu_bundle.sh [DIR]
set -eu
DIR=${1:-gpu-bundle}
B=build-gpu-portable
make --no-print-directory -j"${JOBS:-2}" BUILD=$B ARCH= BLAS=blis $B/bench_gpu $B/bench_clip $B/tests/test_vulkan
rm -rf "$DIR"
mkdir -p "$DIR/bin" "$DIR/lib"
cp $B/bench_gpu $B/bench_clip $B/tests/test_vulkan "$DIR/bin/"
for f in "$DIR"/bin/*; do ldd "$f"; done | awk '$3 ~ /^\// {print $3}' | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libresolv.so*) ;; # the C library's own
    *) cp -L "$lib" "$DIR/lib/" ;;
  esac
done
du -sh "$DIR"
