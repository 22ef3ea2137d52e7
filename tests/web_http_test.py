#!/usr/bin/env python3
"""HTTP tests of the web page's server: what a hostile web page or local user can try.

Usage: web_http_test.py PORT TOKEN_FILE TEXT_ID IMAGE_ID SECRET_ID CLIPSEEK
(CLIPSEEK: the binary, whose `web` command asks the running daemon for one-time login codes.)
Prints [PASS]/[FAIL] lines and "web-http: N passed, N failed, 0 skipped"; exits 1 on a failure.
Uses only the standard library, with raw sockets where http.client would tidy a request up."""
import http.client
import json
import re
import socket
import subprocess
import sys

from checks import check, finish

PORT = int(sys.argv[1])
TOKEN = open(sys.argv[2]).read().strip()
TEXT_ID, IMAGE_ID, SECRET_ID = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
BIN = sys.argv[6]
HOST = f"127.0.0.1:{PORT}"
ORIGIN = f"http://{HOST}"


def req(method, path, headers=None, body=None, host=HOST):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    h = {"Host": host}
    h.update(headers or {})
    c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in h.items():
        c.putheader(k, v)
    if body is not None:
        c.putheader("Content-Length", str(len(body)))
    c.endheaders(body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def raw(data, timeout=10):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    s.close()
    return out


def is_json_error(data):
    try:
        return "error" in json.loads(data)
    except ValueError:
        return False


# --- authentication ---
for path in ["/", "/app.js", "/api/status", "/api/entries", f"/api/entries/{TEXT_ID}", f"/api/entries/{IMAGE_ID}/image"]:
    st, h, d = req("GET", path)
    check(f"no token: 401 and no data ({path})", st == 401 and is_json_error(d) and b"preview" not in d, (st, d[:80]))
st, h, d = req("GET", "/api/entries", {"Cookie": "clipseek_session=" + "0" * 64})
check("bad cookie: 401", st == 401, st)
st, h, d = req("GET", "/api/entries", {"Authorization": "Bearer " + TOKEN[:-1] + ("0" if TOKEN[-1] != "0" else "1")})
check("bad bearer token: 401", st == 401, st)


def login_path():
    """A fresh one-time login path (/login?code=...) from the daemon, through `clipseek web`."""
    url = subprocess.run([BIN, "web"], capture_output=True, text=True, timeout=20).stdout.strip()
    m = re.fullmatch(rf"http://127\.0\.0\.1:{PORT}(/login\?code=[0-9a-f]{{64}})", url)
    return m.group(1) if m else None


def login():
    """Logs in with a fresh code: (status, headers, session value or None)."""
    st, h, d = req("GET", login_path() or "/login?code=none")
    m = re.match(r"clipseek_session=([0-9a-f]{64});", h.get("set-cookie", ""))
    return st, h, m.group(1) if m else None


path = login_path()
check("clipseek web prints a one-time login URL, not the token", path is not None and TOKEN not in path, path)
st, h, d = req("GET", path)
ck = h.get("set-cookie", "")
m = re.match(r"clipseek_session=([0-9a-f]{64});", ck)
SESSION = m.group(1) if m else ""
check("login sets an HttpOnly SameSite=Strict expiring session cookie and redirects",
      st == 303 and h.get("location") == "/" and "HttpOnly" in ck and "SameSite=Strict" in ck and "Max-Age=" in ck
      and SESSION, (st, h))
check("the session is not the long-lived token", SESSION and SESSION != TOKEN and TOKEN not in str(h), ck)
st, h, d = req("GET", path)
check("a login code works once", st == 401 and "set-cookie" not in h and is_json_error(d), (st, h.get("set-cookie")))
st, h, d = req("GET", "/login?code=" + "f" * 64)
check("bad login code: 401, no cookie", st == 401 and "set-cookie" not in h, (st, h.get("set-cookie")))
st, h, d = req("GET", "/login")
check("login without a code: 401", st == 401 and "set-cookie" not in h, st)
st, h, d = req("GET", "/?token=" + TOKEN)
check("the long-lived token in a URL logs nothing in", st == 401 and "set-cookie" not in h, (st, h.get("set-cookie")))
for name in ["clipseek_token", "clipseek_session"]:
    st, h, d = req("GET", "/api/entries", {"Cookie": f"{name}={TOKEN}"})
    check(f"the long-lived token as a cookie is refused ({name})", st == 401 and b"preview" not in d, st)
COOKIE = f"clipseek_session={SESSION}"
AUTH = {"Cookie": COOKIE}
POST = {"Cookie": COOKIE, "Origin": ORIGIN, "Content-Type": "application/json"}
st, h, d = req("GET", "/", AUTH)
check("page with the session cookie", st == 200 and b"<title>clipseek</title>" in d and h.get("content-type", "").startswith("text/html"))
st, h, d = req("GET", "/api/status", {"Authorization": "Bearer " + TOKEN})
check("bearer token works for scripts", st == 200 and "entries" in json.loads(d))

# --- sessions: separate, each revocable ---
st, h, s2 = login()
st, h, s3 = login()
check("each login is its own session", s2 and s3 and len({SESSION, s2, s3}) == 3, (s2, s3))
st, h, d = req("POST", "/logout", {"Cookie": f"clipseek_session={s2}", "Origin": "http://evil.example"})
check("cross-origin logout refused", st == 403, st)
st, h, d = req("POST", "/logout", {"Cookie": f"clipseek_session={s2}", "Origin": ORIGIN})
check("logout clears the cookie", st == 303 and "Max-Age=0" in h.get("set-cookie", ""), (st, h.get("set-cookie")))
st, h, d = req("GET", "/api/status", {"Cookie": f"clipseek_session={s2}"})
check("a logged-out session is refused", st == 401, st)
st, h, d = req("GET", "/api/status", {"Cookie": f"clipseek_session={s3}"})
check("other sessions live on", st == 200, st)
pending = login_path()
out = subprocess.run([BIN, "web", "--logout-all"], capture_output=True, text=True, timeout=20)
check("clipseek web --logout-all says how many sessions ended", out.returncode == 0 and re.search(r"\b2 web session", out.stderr),
      out.stderr)
for v in [SESSION, s3]:
    st, h, d = req("GET", "/api/status", {"Cookie": f"clipseek_session={v}"})
    check("--logout-all ends every session", st == 401, st)
st, h, d = req("GET", pending)
check("--logout-all ends pending login codes", st == 401 and "set-cookie" not in h, st)
st, h, SESSION = login()
check("a new login works after --logout-all", st == 303 and SESSION, st)
COOKIE = f"clipseek_session={SESSION}"
AUTH = {"Cookie": COOKIE}
POST = {"Cookie": COOKIE, "Origin": ORIGIN, "Content-Type": "application/json"}

# --- headers ---
csp = h.get("content-security-policy", "")
st, h, d = req("GET", "/", AUTH)
csp = h.get("content-security-policy", "")
check("CSP forbids inline and remote script", "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp, csp)
check("nosniff", h.get("x-content-type-options") == "nosniff")
check("no framing", "frame-ancestors 'none'" in csp and h.get("x-frame-options") == "DENY")

# --- DNS rebinding: Host must be us ---
for host in ["evil.example", f"evil.example:{PORT}", "127.0.0.1", f"127.0.0.1:{PORT + 1}", f"localhost.evil:{PORT}", ""]:
    st, h, d = req("GET", "/api/entries", AUTH, host=host)
    check(f"wrong Host refused ({host or 'empty'})", st == 421 and b"preview" not in d, st)
for host in [f"localhost:{PORT}", f"[::1]:{PORT}"]:
    st, h, d = req("GET", "/api/status", AUTH, host=host)
    check(f"loopback Host accepted ({host})", st == 200, st)

# --- cross-origin state changes ---
st, h, d = req("POST", f"/api/entries/{TEXT_ID}/pin", {"Cookie": COOKIE, "Origin": "http://evil.example",
                                                        "Content-Type": "application/json"}, b'{"pinned": true}')
check("cross-origin POST refused", st == 403, st)
st, h, d = req("POST", f"/api/entries/{TEXT_ID}/pin", {"Cookie": COOKIE, "Content-Type": "application/json"}, b'{"pinned": true}')
check("POST without Origin refused", st == 403, st)
st, h, d = req("POST", f"/api/entries/{TEXT_ID}/pin", dict(POST, **{"Sec-Fetch-Site": "cross-site"}), b'{"pinned": true}')
check("POST marked cross-site refused", st == 403, st)
st, h, d = req("DELETE", f"/api/entries/{TEXT_ID}", {"Cookie": COOKIE, "Origin": "null"})
check("DELETE from an opaque origin refused", st == 403, st)
st, h, d = req("GET", f"/api/entries/{TEXT_ID}", AUTH)
check("entry still there, not pinned", st == 200 and json.loads(d)["pinned"] is False)
st, h, d = req("GET", f"/api/entries/{TEXT_ID}/delete", AUTH)
check("GET changes nothing", st == 404, st)
st, h, d = req("PATCH", f"/api/entries/{TEXT_ID}", POST, b"{}")
check("other methods: 405", st == 405, st)
st, h, d = req("PUT", f"/api/entries/{TEXT_ID}", {k: v for k, v in POST.items() if k != "Origin"}, b'{"text": "x"}')
check("PUT (edit) needs the same origin too", st == 403, st)
st, h, d = req("POST", f"/api/entries/{TEXT_ID}/pin", POST, b'{"pinned": true}')
check("same-origin POST works", st == 200 and json.loads(d)["pinned"] is True, (st, d))
st, h, d = req("POST", f"/api/entries/{TEXT_ID}/pin", POST, b'{"pinned": false}')

# --- traversal and odd paths ---
for path in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/api/../web.token", "/web.token", "/api/entries/1/../../web.token",
             "/api/entries/..%2f..%2fweb.token", "/api/entries/-1", "/api/entries/99999999999999999999",
             "/api/entries/1x", "/api/entries/%00", "/style.css/../app.js", "/api/entries/1/image/../../x"]:
    st, h, d = req("GET", path, AUTH)
    check(f"traversal / bad path answered with a JSON error ({path})", st in (400, 404) and is_json_error(d)
          and TOKEN.encode() not in d and b"root:" not in d, (st, d[:60]))

# --- malformed and oversized ---
st, h, d = req("POST", f"/api/entries/{TEXT_ID}/tags", POST, b"x" * (17 * 1024))
check("oversized body: 413", st == 413 and is_json_error(d), st)
st, h, d = req("POST", f"/api/entries/{TEXT_ID}/tags", POST, b"{not json")
check("malformed JSON: 400", st == 400 and is_json_error(d), st)
st, h, d = req("POST", f"/api/entries/{TEXT_ID}/tags", POST, b'{"tag": 5}')
check("wrong JSON shape: 400", st == 400 and is_json_error(d), st)
st, h, d = req("POST", f"/api/entries/{TEXT_ID}/tags", POST, json.dumps({"tag": "a\nb"}).encode())
check("control character in tag: 400", st == 400, st)
st, h, d = req("GET", "/api/entries?limit=abc", AUTH)
check("bad limit: 400", st == 400 and is_json_error(d), st)
st, h, d = req("GET", "/api/entries?q=" + "x" * 3000, AUTH)
check("long query: 400", st == 400, st)
st, h, d = req("GET", "/api/entries?q=%22%28%29%20AND%20NEAR%28", AUTH)
check("FTS syntax in a query answered", st == 200 and "entries" in json.loads(d), st)
st, h, d = req("GET", "/api/entries?q=%ff%fe", AUTH)
check("non-UTF-8 query answered", st in (200, 400), st)
d = raw(b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\n\r\n")
check("huge URL refused", d.startswith(b"HTTP/1.1 414") or d.startswith(b"HTTP/1.1 4") or d == b"", d[:40])
d = raw(b"GARBAGE\r\n\r\n")
check("garbage request line answered or closed", d == b"" or d.startswith(b"HTTP/1.1 4"), d[:40])
d = raw(b"GET /api/status HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\nCookie: " + COOKIE.encode() + b"\r\n" +
        b"X-Pad: " + b"y" * 100000 + b"\r\n\r\n")
check("oversized headers refused", not d.startswith(b"HTTP/1.1 200"), d[:40])

# --- images: only from the store, by id, with their real type ---
st, h, d = req("GET", f"/api/entries/{IMAGE_ID}/image", AUTH)
check("image served with its real type", st == 200 and h.get("content-type") == "image/png" and d[:4] == b"\x89PNG", (st, h.get("content-type")))
st, h, d = req("GET", f"/api/entries/{IMAGE_ID}/thumb", AUTH)
check("thumbnail is a JPEG", st == 200 and h.get("content-type") == "image/jpeg" and d[:2] == b"\xff\xd8", st)
st, h, d = req("GET", f"/api/entries/{TEXT_ID}/image", AUTH)
check("text entry has no image", st == 404, st)

# --- the API itself ---
st, h, d = req("GET", "/api/entries?limit=2", AUTH)
j = json.loads(d)
check("paging: a next cursor", st == 200 and len(j["entries"]) == 2 and isinstance(j["next"], int), j.get("next"))
st, h, d2 = req("GET", f"/api/entries?limit=2&before={j['next']}", AUTH)
j2 = json.loads(d2)
check("paging: the next page continues", {e["id"] for e in j["entries"]}.isdisjoint({e["id"] for e in j2["entries"]}) and j2["entries"])
st, h, d = req("GET", "/api/facets", AUTH)
f = json.loads(d)
check("facets", st == 200 and any(k["name"] == "image" for k in f["kinds"]) and "collections" in f)
st, h, d = req("GET", f"/api/entries/{IMAGE_ID}/similar", AUTH)
check("similar entries", st == 200 and all(e["id"] != IMAGE_ID for e in json.loads(d)["entries"]))

# --- secrets: masked in every list, revealed only by the entry's own endpoint ---
SECRET = "ghp_"
st, h, d = req("GET", "/api/entries?limit=500", AUTH)
listed = [e for e in json.loads(d)["entries"] if e["id"] == SECRET_ID]
check("a secret's preview is masked in the list", listed and listed[0].get("masked") is True and SECRET.encode() not in d,
      listed)
check("nor its length or hash (size, sha256)", listed and "size" not in listed[0] and "sha256" not in listed[0], listed)
st, h, d = req("GET", "/api/entries?q=ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", AUTH)
hits = [e for e in json.loads(d)["entries"] if e["id"] == SECRET_ID]
check("and in search results", hits and hits[0].get("masked") is True and SECRET.encode() not in d, d[:200])
# a prefix finds it while typing, and "matched" (the entry's words to highlight) must not spell it out
st, h, d = req("GET", "/api/entries?q=a1B2c3", AUTH)
hits = [e for e in json.loads(d)["entries"] if e["id"] == SECRET_ID]
check("and found by a prefix, nothing of it in the answer", hits and "matched" not in hits[0] and b"a1B2c3D4" not in d, d[:300])
# "similar" from every entry that has the secret among its neighbours
seen = 0
for e in json.loads(req("GET", "/api/entries?limit=500", AUTH)[2])["entries"]:
    st, h, d = req("GET", f"/api/entries/{e['id']}/similar", AUTH)
    if any(x["id"] == SECRET_ID for x in json.loads(d)["entries"]):
        seen += 1
        if SECRET.encode() in d:
            seen = -1000
check("and in every similar list that holds it", seen > 0, f"{seen} lists hold it" if seen >= 0 else "unmasked")
st, h, d = req("GET", f"/api/entries/{SECRET_ID}", AUTH)
j = json.loads(d)
check("the entry's own endpoint reveals it", st == 200 and j.get("text", "").startswith(SECRET) and SECRET not in j["preview"], j)

# --- the page's extras: status, text in parts, downloads, copying what an image says ---
st, h, d = req("GET", "/api/status", AUTH)
j = json.loads(d)
check("status says whether the history is paused, and the newest entry", j.get("paused") is False
      and isinstance(j.get("latest_id"), int), j)
WIDE = "é" * 100000 + "end"  # 200,003 bytes of two-byte characters
wide_id = int(subprocess.run([BIN, "add", "-"], input=WIDE.encode(), capture_output=True).stdout)
st, h, d = req("GET", f"/api/entries/{wide_id}?text_max=11", AUTH)
j = json.loads(d)
check("text_max cuts the text on a character boundary", st == 200 and j.get("text") == "é" * 5 and j.get("text_truncated") is True
      and j.get("text_bytes") == 200003, (st, j.get("text"), j.get("text_bytes")))
st, h, d = req("GET", f"/api/entries/{wide_id}", AUTH)
check("without it the whole text", json.loads(d)["text"] == WIDE and json.loads(d)["text_truncated"] is False)
parts, off = [], 0
while off is not None and len(parts) < 100:
    st, h, d = req("GET", f"/api/entries/{wide_id}/text?offset={off}&length=65537", AUTH)
    j = json.loads(d)
    parts.append(j["text"])
    off = j["next"]
check("the text in slices, each cut on a character boundary, adds up", "".join(parts) == WIDE and len(parts) == 4
      and all(len(p.encode()) <= 65537 for p in parts), [len(p.encode()) for p in parts])
for q in ["offset=11", "offset=200004", "length=2", "offset=-1", "length=x"]:
    st, h, d = req("GET", f"/api/entries/{wide_id}/text?{q}", AUTH)
    check(f"bad slice refused ({q})", st == 400 and is_json_error(d), st)
st, h, d = req("GET", f"/api/entries/{wide_id}?text_max=0", AUTH)
check("bad text_max refused", st == 400 and is_json_error(d), st)
st, h, d = req("GET", f"/api/entries/{IMAGE_ID}/text", AUTH)
check("an image has no text slices", st == 404, st)
st, h, d = req("GET", f"/api/entries/{IMAGE_ID}/image?download=1", AUTH)
st2, h2, d2 = req("GET", f"/api/entries/{IMAGE_ID}/image", AUTH)
check("download: the original bytes, their type, a file name", st == 200 and d == d2 and h.get("content-type") == "image/png"
      and h.get("content-disposition") == f'attachment; filename="clipseek-{IMAGE_ID}.png"'
      and "content-disposition" not in h2, (st, h.get("content-disposition")))
st, h, d = req("POST", f"/api/entries/{TEXT_ID}/copy", POST, b'{"what": "everything"}')
check("copy of an unknown part refused", st == 400 and is_json_error(d), st)
st, h, d = req("POST", f"/api/entries/{TEXT_ID}/copy", POST, b'{"what": "ocr_text"}')
check("copy of the text read from an entry that has none: 404", st == 404 and is_json_error(d), st)
st, h, d = req("POST", f"/api/entries/{TEXT_ID}/copy", {"Cookie": COOKIE, "Origin": "http://evil.example",
                                                          "Content-Type": "application/json"}, b'{"what": "ocr_text"}')
check("and cross-origin: 403", st == 403, st)
subprocess.run([BIN, "delete", str(wide_id)], capture_output=True)

finish("web-http")
