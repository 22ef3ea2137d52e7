#!/bin/sh
# run_parallel.sh JOBS DIR CMD...: runs the commands JOBS at a time (xargs -P), each one's output
# kept in DIR/N.out, then prints every output whole, in the order given, under "== CMD" with its
# seconds, so the log reads as if they had run one after another. Exits 1 if any command failed
# (all are run and printed first). Used by `make test` for the Criterion binaries: most of them
# wait (busy timeouts, sockets, lavapipe) as much as they compute.
set -u
jobs=$1 dir=$2
shift 2
rm -rf "$dir" && mkdir -p "$dir" || exit 1
n=0
for c in "$@"; do
  n=$((n + 1))
  printf '%s\n' "$c" > "$dir/$n.cmd"
done
seq "$n" | xargs -P "$jobs" -I{} sh -c \
  't0=$(date +%s%N); sh "$1/{}.cmd" > "$1/{}.out" 2>&1; echo $? > "$1/{}.rc"; echo $(( ($(date +%s%N) - t0) / 1000000 )) > "$1/{}.ms"' \
  sh "$dir"
rc=0
for i in $(seq "$n"); do
  ms=$(cat "$dir/$i.ms" 2> /dev/null || echo '?')
  echo "== $(cat "$dir/$i.cmd") ($((${ms:-0} / 1000)).$(printf '%03d' $((${ms:-0} % 1000))) s)"
  cat "$dir/$i.out"
  if [ "$(cat "$dir/$i.rc" 2> /dev/null)" != 0 ]; then
    echo "== FAILED (status $(cat "$dir/$i.rc" 2> /dev/null)): $(cat "$dir/$i.cmd")"
    rc=1
  fi
done
exit $rc
