# Shared by the shell test scripts (sourced): counters, PASS/FAIL lines, and check NAME CMD...
# Each script ends with "NAME: N passed, N failed, N skipped", the line CI reads.
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "[PASS] $1"; }
bad() { fail=$((fail + 1)); echo "[FAIL] $1"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
# skip_fixture N REASON: N checks cannot run because a fixture (or what reads it) is missing.
# With CLIPSEEK_REQUIRE_FIXTURES=1 (CI) that is a failure, never a silent skip.
skip_fixture() {
  if [ "${CLIPSEEK_REQUIRE_FIXTURES:-}" = 1 ]; then bad "$2 (CLIPSEEK_REQUIRE_FIXTURES=1)"; else skip=$((skip + $1)); echo "[SKIP] $2"; fi
}
# wait_for N CMD...: retries CMD every tenth of a second, for up to N tenths
wait_for() { _w=$1; shift; for _j in $(seq "$_w"); do "$@" && return 0; sleep 0.1; done; return 1; }
# start_xvfb: an X server of the test's own ($TMP must exist): Xvfb picks a free display and
# writes its number; sets XPID (to end it by) and exports DISPLAY
start_xvfb() {
  Xvfb -displayfd 3 -screen 0 800x600x24 -nolisten tcp 3> "$TMP/display" > /dev/null 2>&1 &
  XPID=$!
  wait_for 50 test -s "$TMP/display"
  export DISPLAY=":$(cat "$TMP/display")"
}
