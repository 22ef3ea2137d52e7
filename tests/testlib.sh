# Shared by the shell test scripts (sourced): counters, PASS/FAIL lines, and check NAME CMD...
# Each script ends with "NAME: N passed, N failed, N skipped", the line CI reads.
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "[PASS] $1"; }
bad() { fail=$((fail + 1)); echo "[FAIL] $1"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
