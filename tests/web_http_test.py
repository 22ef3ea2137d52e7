#!/usr/bin/env python3
"""HTTP tests of the web page's server: what a hostile web page or local user can try.

Usage: web_http_test.py PORT TOKEN_FILE TEXT_ID IMAGE_ID
Prints [PASS]/[FAIL] lines and "web-http: N passed, N failed, 0 skipped"; exits 1 on a failure.
Uses only the standard library, with raw sockets where http.client would tidy a request up."""
import http.client
import json
import socket
import sys

PORT = int(sys.argv[1])
TOKEN = open(sys.argv[2]).read().strip()
TEXT_ID, IMAGE_ID = int(sys.argv[3]), int(sys.argv[4])
HOST = f"127.0.0.1:{PORT}"
ORIGIN = f"http://{HOST}"
COOKIE = f"clipseek_token={TOKEN}"
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"[PASS] {name}")
    else:
        failed += 1
        print(f"[FAIL] {name} {detail}")


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


AUTH = {"Cookie": COOKIE}
POST = {"Cookie": COOKIE, "Origin": ORIGIN, "Content-Type": "application/json"}


def is_json_error(data):
    try:
        return "error" in json.loads(data)
    except ValueError:
        return False


# --- authentication ---
for path in ["/", "/app.js", "/api/status", "/api/entries", f"/api/entries/{TEXT_ID}", f"/api/entries/{IMAGE_ID}/image"]:
    st, h, d = req("GET", path)
    check(f"no token: 401 and no data ({path})", st == 401 and is_json_error(d) and b"preview" not in d, (st, d[:80]))
st, h, d = req("GET", "/api/entries", {"Cookie": "clipseek_token=" + "0" * 64})
check("bad cookie: 401", st == 401, st)
st, h, d = req("GET", "/api/entries", {"Authorization": "Bearer " + TOKEN[:-1] + ("0" if TOKEN[-1] != "0" else "1")})
check("bad bearer token: 401", st == 401, st)
st, h, d = req("GET", "/?token=" + "f" * 64)
check("bad login token: 401, no cookie", st == 401 and "set-cookie" not in h, (st, h.get("set-cookie")))
st, h, d = req("GET", "/?token=" + TOKEN)
ck = h.get("set-cookie", "")
check("login sets an HttpOnly SameSite=Strict cookie and redirects",
      st == 303 and h.get("location") == "/" and "HttpOnly" in ck and "SameSite=Strict" in ck and TOKEN in ck, (st, h))
st, h, d = req("GET", "/", AUTH)
check("page with cookie", st == 200 and b"<title>clipseek</title>" in d and h.get("content-type", "").startswith("text/html"))
st, h, d = req("GET", "/api/status", {"Authorization": "Bearer " + TOKEN})
check("bearer token works for scripts", st == 200 and "entries" in json.loads(d))

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
st, h, d = req("PUT", f"/api/entries/{TEXT_ID}", POST, b"{}")
check("other methods: 405", st == 405, st)
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

print(f"web-http: {passed} passed, {failed} failed, 0 skipped")
sys.exit(1 if failed else 0)
