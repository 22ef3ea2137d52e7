"""The web server out of file descriptors: connections queue up that accept() cannot take (EMFILE),
and poll keeps reporting them; the acceptor must pause instead of spinning. Run by web_test.sh
against `clipseek web` started under `prlimit --nofile=40`: argv[1] port, argv[2] the server's PID.
Opens 30 connections to 127.0.0.1 (more than the process has descriptors left), then measures the
server's CPU time over 2 s: a spinning acceptor uses a whole core (2 s), a paused one almost none.
Closes every connection it opened."""
import os, socket, sys, time

port, pid = int(sys.argv[1]), sys.argv[2]


def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


socks = []
for _ in range(30):
    try:
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        pass
# evidence that the server is at its limit: its open descriptors reach the soft limit (40, less the
# one-off slack of the count), polled for at most 5 s
for _ in range(100):
    if len(os.listdir(f"/proc/{pid}/fd")) >= 39:
        break
    time.sleep(0.05)
else:
    print("[FAIL] out of descriptors: the server never reached its descriptor limit")
    sys.exit(1)
c0 = cpu()
time.sleep(2)
used = cpu() - c0
for s in socks:
    s.close()
ok = used < 0.5
print(f"[{'PASS' if ok else 'FAIL'}] out of descriptors: the acceptor pauses ({used:.2f} CPU s in 2 s, {len(socks)} connections)")
sys.exit(0 if ok else 1)
