"""A loopback stand-in for the Hugging Face hub, for tests/fetch_test.sh.

Serves /<org>/<name>/resolve/main/<file> from ROOT/<name>/<file> (ROOT = the fixtures folder),
like the hub: small files with ETag = git blob SHA-1; *.safetensors through a 302 redirect whose
response carries X-Linked-Etag = SHA-256 (Git LFS), then the bytes with Range support.
Modes (argv[3]): "ok"; "cut": the first download of each .safetensors stops halfway (connection
closed); "badsum": X-Linked-Etag is wrong. Writes its port to argv[2]; logs requests to stderr.
Binds 127.0.0.1 only and exits after 120 s.
"""
import hashlib, os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT, PORTFILE, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
cut_done = set()

class H(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("%s range=%s\n" % (self.path, self.headers.get("Range")))

    def do_GET(self):
        parts = self.path.split("/")
        if len(parts) == 6 and parts[3] == "resolve":
            name, fname, cdn = parts[2], parts[5], False
        elif len(parts) == 4 and parts[1] == "cdn":
            name, fname, cdn = parts[2], parts[3], True
        else:
            return self.send_error(404)
        path = os.path.join(ROOT, name, fname)
        if "/" in fname or ".." in fname or not os.path.isfile(path):
            return self.send_error(404)
        data = open(path, "rb").read()
        if fname.endswith(".safetensors") and not cdn:
            sha = hashlib.sha256(data).hexdigest()
            if MODE == "badsum":
                sha = "0" * 64
            self.send_response(302)
            self.send_header("Location", "/cdn/%s/%s" % (name, fname))
            self.send_header("X-Linked-Etag", '"%s"' % sha)
            self.send_header("ETag", '"%s"' % hashlib.sha1(b"not the data").hexdigest())
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
        body = data[start:]
        self.send_response(206 if start else 200)
        if not cdn:
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            self.send_header("ETag", '"%s"' % blob)
        self.send_header("Content-Length", str(len(body)))
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.end_headers()
        if MODE == "cut" and cdn and fname not in cut_done:
            cut_done.add(fname)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORTFILE, "w") as f:
    f.write(str(srv.server_address[1]))
threading.Timer(120, srv.shutdown).start()
srv.serve_forever()
