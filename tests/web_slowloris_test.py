#!/usr/bin/env python3
"""Slowloris against the web server, on loopback only: N connections from 127.0.0.1 that send a
request's headers a few bytes a second and never finish them.

Checks that, while they trickle:
  - the server answers every connection: those over the per-address cap get a 503 at once
    (not a silent close);
  - a normal request from 127.0.0.1 is answered (200, or 503 while that address is at its cap)
    within a deadline;
  - a normal request from another loopback address (127.0.0.2) gets 200: one address's cap is
    below the total;
  - the server closes the slow connections at its request deadline, although each keeps sending
    bytes more often than any idle timeout would allow; then 127.0.0.1 gets 200 again.
Every socket this test opens is closed at the end, whatever happened.

Usage: web_slowloris_test.py PORT TOKEN_FILE [N]
Prints [PASS]/[FAIL] lines and "web-slowloris: N passed, N failed, 0 skipped"; exits 1 on a failure."""
import select
import socket
import sys
import time

from checks import check, finish

PORT = int(sys.argv[1])
TOKEN = open(sys.argv[2]).read().strip()
N = int(sys.argv[3]) if len(sys.argv) > 3 else 80
HOST = f"127.0.0.1:{PORT}"
ANSWER_S = 3.0     # a normal request must be answered within this
DEADLINE_S = 16.0  # the server's request deadline (10 s) with room for a loaded machine; below
                   # nothing: the trickle (every 0.5 s) keeps any idle timeout from firing


def normal_request(source="127.0.0.1", timeout=ANSWER_S):
    """GET /api/status with the token: (status or None, seconds taken, error text)."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.bind((source, 0))
        s.connect(("127.0.0.1", PORT))
        s.sendall(f"GET /api/status HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {TOKEN}\r\n"
                  "Connection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n" not in data:
            b = s.recv(4096)
            if not b:
                break
            data += b
        line = data.split(b"\r\n", 1)[0].split()
        return (int(line[1]) if len(line) > 1 and line[1].isdigit() else None), time.monotonic() - t0, repr(data[:60])
    except OSError as e:
        return None, time.monotonic() - t0, str(e)
    finally:
        s.close()


slow = []
try:
    for i in range(N):
        s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        s.setblocking(False)
        s.send(f"GET /api/status HTTP/1.1\r\nHost: {HOST}\r\n".encode())
        slow.append(s)

    # who got an answer at once: a 503 each, over the cap
    refused, t_end = set(), time.monotonic() + ANSWER_S
    while time.monotonic() < t_end and len(refused) < N:
        r, _, _ = select.select([s for s in slow if s not in refused], [], [], 0.2)
        for s in r:
            try:
                head = s.recv(4096)
            except OSError:
                head = b""
            if head.startswith(b"HTTP/1.1 503"):
                refused.add(s)
        if refused and len(refused) >= N - 32:
            break
    check(f"connections over the cap are answered 503 ({len(refused)} of {N})", len(refused) == N - 32, len(refused))
    admitted = [s for s in slow if s not in refused]

    st, took, err = normal_request()
    check(f"a normal request from 127.0.0.1 is answered during the attack ({st} in {took:.2f} s)",
          st in (200, 503) and took < ANSWER_S, err)
    st, took, err = normal_request("127.0.0.2")
    check(f"another loopback address still gets 200 (per-address cap below the total; {took:.2f} s)",
          st == 200, (st, err))

    # keep trickling; the server must cut them at its deadline
    t0 = time.monotonic()
    closed = set()
    while time.monotonic() - t0 < DEADLINE_S and len(closed) < len(admitted):
        for s in admitted:
            if s in closed:
                continue
            try:
                s.send(b"X-a: b\r\n")
                if s.recv(4096) == b"":
                    closed.add(s)
            except BlockingIOError:
                pass
            except OSError:
                closed.add(s)
        time.sleep(0.5)
    took = time.monotonic() - t0
    check(f"the server closes requests that trickle past its deadline ({len(closed)} of {len(admitted)} in {took:.1f} s)",
          len(closed) == len(admitted) and len(admitted) > 0)
    st, took, err = normal_request()
    check("after that 127.0.0.1 gets 200 again", st == 200, (st, err))
finally:
    for s in slow:
        s.close()

finish("web-slowloris")
