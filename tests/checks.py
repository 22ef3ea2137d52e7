"""checks: [PASS]/[FAIL] lines and the closing "NAME: N passed, N failed, 0 skipped" line that
tests/web_test.sh adds up, shared by the Python web tests."""
import sys

_counts = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    if cond:
        _counts["passed"] += 1
        print(f"[PASS] {name}")
    else:
        _counts["failed"] += 1
        print(f"[FAIL] {name} {detail}")


def finish(suite):
    """Prints the summary line and exits, 1 if any check failed."""
    print(f"{suite}: {_counts['passed']} passed, {_counts['failed']} failed, 0 skipped")
    sys.exit(1 if _counts["failed"] else 0)
