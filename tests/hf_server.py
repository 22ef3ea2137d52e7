"""A loopback stand-in for the Hugging Face hub, for tests/fetch_test.sh.

It answers the way huggingface.co does (huggingface_hub's file_download.py / hf_api.py and
utils/_http.py hf_raise_for_status read these answers; transformers' safetensors_conversion.py
reads the discussions):

- GET|HEAD /{repo}/resolve/{rev}/{file}: {file} may hold '/' (a file in a subfolder, e.g.
  1_Pooling/config.json: hf_hub_url quotes it with safe="/"). A small file answers a relative 307 (with X-Repo-Commit)
  to /api/resolve-cache/models/{repo}/{commit}/{file}?...&etag=..., which answers 200 with ETag =
  its git blob SHA-1 (quoted) and X-Repo-Commit (in mode noapi: 200 directly); a large (Git LFS) file, *.safetensors and *.bin, answers 302 to a
  CDN on ANOTHER host and port (http://localhost:{cdn_port}/...) with X-Linked-Etag = SHA-256,
  X-Linked-Size and X-Repo-Commit; the CDN answers with its own ETag (not a hub checksum) and
  honours Range (206). {rev} is a branch, a commit SHA or refs%2Fpr%2FN (a pull request).
- An absent file: 404 with X-Error-Code: EntryNotFound. An absent revision: 404 RevisionNotFound.
  An absent repository: 401 with X-Error-Code: RepoNotFound (the hub does not tell absent from
  private). A gated repository's files: 401 GatedRepo without a token, 403 GatedRepo with a token
  that has no access, and 401 "Invalid credentials in Authorization header" for an unknown token.
- GET /api/models/{repo} and /api/models/{repo}/revision/{rev}: {"id", "sha", "siblings":
  [{"rfilename"}], "gated", "private"} (public for gated repositories too, as on the hub). The
  siblings are every file of the revision, subfolders included ("1_Pooling/config.json",
  "onnx/model.onnx"), as the hub lists them.
- GET /api/models/{repo}/discussions: {"discussions": [{"num", "title", "status", "isPullRequest",
  "author": {"name"}}], "count", "start", "numClosedDiscussions"}.

Repositories (files served from the fixtures folder ROOT in place, never copied):
  test/toyworld-clip        safetensors on main
  test/bin-only             pytorch_model.bin only (torch-checkpoints/zip-f32), no conversion PR
  test/bin-with-pr          the same, with an open SFconvertbot conversion PR (#3), plus a closed bot
                            PR (#2) and an open PR by someone else (#4) that a client must ignore
  test/sharded-bin          pytorch_model.bin.index.json + two shards (torch-checkpoints/sharded-f32)
  test/gated                toyworld-clip, gated: needs "Authorization: Bearer hf_test_token_ok"
  openai/clip-vit-base-patch32  like the real one: pytorch_model.bin on main, the conversion on
                            refs/pr/66 (tiny-clip-quickgelu-p32's model.safetensors: the same weights)
  test/st-multilingual      sentence-transformers: tiny-distilbert-multilingual with its subfolders
                            (1_Pooling, 2_Dense with both model.safetensors and pytorch_model.bin),
                            plus files a client must not fetch, as the real repositories carry them:
                            README.md, onnx/model.onnx, openvino/openvino_model.{xml,bin},
                            tf_model.h5, rust_model.ot
  test/st-minilm            sentence-transformers: tiny-bert-minilm (Normalize: no folder)
  test/st-toyworld          sentence-transformers: toyworld-multilingual (into toyworld-clip's space)
  test/st-bin-only          the layout of clip-ViT-B-32-multilingual-v1: root weights only as
                            pytorch_model.bin (GEN/st-bin-only/pytorch_model.bin, written by the test
                            from the fixture's safetensors), 2_Dense only pytorch_model.bin
  test/st-evil              tiny-bert-minilm with GEN/st-evil/modules.json (a module path "../..")
  test/not-st               a plain DistilBERT repository (config.json, vocab.txt, weights; no
                            modules.json): neither a CLIP nor a sentence-transformers model

Modes (argv[3]): "ok"; "cut": the first CDN download of each file stops halfway (connection
closed); "badsum": X-Linked-Etag is wrong; "noapi": /api/* answers a plain 404 (a mirror without
the API: clients must probe; files in subfolders are still served); "slow": the CDN sends 64 KB every 3 ms (downloads overlap); "nopr": openai/clip-vit-base-patch32 has no
conversion pull request (only pytorch_model.bin); "norange": like "cut", and the CDN then ignores
Range (a 200 with the whole file, as RFC 9110 allows); "long": a GET of a file (resolve cache or CDN)
sends 64 MB more than HEAD said (in Content-Length too), logging whether the client hung up first.
argv[4] (optional): GEN, a folder of files the test generated (served as "@gen/..."; test/st-bin-only
exists only with it). Writes "HUBPORT CDNPORT" to argv[2]. Logs one line per request to
stderr: "host=HOST METHOD PATH range=R auth=yes|no" (never the token). Binds 127.0.0.1 only and
exits after 300 s.
"""
import hashlib, json, os, sys, threading, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT, PORTFILE, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
GEN = sys.argv[4] if len(sys.argv) > 4 else None
TOKEN = "hf_test_token_ok"
BOT_TITLE = "Adding `safetensors` variant of this model"

REPOS = {
    "test/toyworld-clip": {"main": "toyworld-clip"},
    "test/bin-only": {"main": "torch-checkpoints/zip-f32"},
    "test/bin-with-pr": {"main": "torch-checkpoints/zip-f32",
                         "prs": [(2, "SFconvertbot", BOT_TITLE, "closed", "tiny-clip-quickgelu-p32"),
                                 (3, "SFconvertbot", BOT_TITLE, "open", "tiny-clip-quickgelu-p32"),
                                 (4, "someone", "Update README.md", "open", None)]},
    "test/sharded-bin": {"main": "torch-checkpoints/sharded-f32"},
    "test/gated": {"main": "toyworld-clip", "gated": True},
    "openai/clip-vit-base-patch32": {"main": "torch-checkpoints/zip-f32",
                                     "prs": [(66, "SFconvertbot", BOT_TITLE, "open", "tiny-clip-quickgelu-p32")]},
}
TOP_FILES = ["config.json", "merges.txt", "vocab.json", "preprocessor_config.json", "tokenizer_config.json",
             "special_tokens_map.json", "model.safetensors", "pytorch_model.bin", "pytorch_model.bin.index.json",
             "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
# sentence-transformers repositories: {"tree": folder served recursively, "drop": names left out,
# "add": {name: path}, "extra": files with made-up content (never fetched by a client)}
ST_EXTRA = {"README.md": b"---\nlibrary_name: sentence-transformers\n---\n",
            "onnx/model.onnx": b"onnx: not fetched", "openvino/openvino_model.xml": b"<net/>",
            "openvino/openvino_model.bin": b"openvino: not fetched", "tf_model.h5": b"tf: not fetched",
            "rust_model.ot": b"rust: not fetched"}
# the fixtures' reference outputs and evaluation sets, not repository files
NOT_SERVED = ("refs.json", "refs.safetensors", "eval-embeds.safetensors", "eval-queries.json")
REPOS["test/st-multilingual"] = {"main": "tiny-distilbert-multilingual", "tree": True, "extra": ST_EXTRA}
REPOS["test/st-minilm"] = {"main": "tiny-bert-minilm", "tree": True}
REPOS["test/st-toyworld"] = {"main": "toyworld-multilingual", "tree": True}
if GEN:
    REPOS["test/st-bin-only"] = {"main": "tiny-distilbert-multilingual", "tree": True,
                                 "drop": ("model.safetensors", "2_Dense/model.safetensors", "tokenizer.json"),
                                 "add": {"pytorch_model.bin": "@gen/st-bin-only/pytorch_model.bin"}}
if GEN:  # a modules.json whose module path leaves the snapshot (GEN/st-evil/modules.json)
    REPOS["test/st-evil"] = {"main": "tiny-bert-minilm", "tree": True,
                             "add": {"modules.json": "@gen/st-evil/modules.json"}}
REPOS["test/not-st"] = {"main": "tiny-distilbert-multilingual", "tree": True,
                        "drop": ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
                                 "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors",
                                 "2_Dense/pytorch_model.bin")}
if MODE == "nopr":  # the default repository before the conversion bot came by
    REPOS["openai/clip-vit-base-patch32"] = {"main": "torch-checkpoints/zip-f32"}
LONG_EXTRA = 64 << 20  # mode "long": the CDN sends this many bytes more than the file has
cut_done = set()
lock = threading.Lock()


def locate(rel):
    """A served file's path: relative to ROOT, or "@gen/..." under GEN."""
    if rel.startswith("@gen/"):
        return os.path.join(GEN, rel[5:])
    return os.path.join(ROOT, rel)


def walk(folder):
    """{name with '/': path} of every file under ROOT/folder (symlinks followed)."""
    out = {}
    base = os.path.join(ROOT, folder)
    for d, _dirs, files in os.walk(base, followlinks=True):
        for f in files:
            full = os.path.join(d, f)
            name = os.path.relpath(full, base)
            if name not in NOT_SERVED:
                out[name] = full
    return out


def commit_of(repo, rev):
    return hashlib.sha1(("%s@%s" % (repo, rev)).encode()).hexdigest()


def tree(repo, rev):
    """{file name: path} of a revision, or None if the revision does not exist."""
    spec = REPOS[repo]
    if spec.get("tree"):
        main = walk(spec["main"])
        for f in spec.get("drop", ()):
            main.pop(f, None)
        for f, rel in spec.get("add", {}).items():
            main[f] = locate(rel)
        for f in spec.get("extra", {}):
            main[f] = ("extra", f)
    else:
        main = {f: os.path.join(ROOT, spec["main"], f) for f in TOP_FILES
                if os.path.isfile(os.path.join(ROOT, spec["main"], f))}
    main[".gitattributes"] = None
    if rev in ("main", commit_of(repo, "main")):
        return main
    for num, _author, _title, _status, folder in spec.get("prs", []):
        ref = "refs/pr/%d" % num
        if rev in (ref, commit_of(repo, ref)):
            t = dict(main)
            if folder:  # the conversion adds model.safetensors to main's tree
                t["model.safetensors"] = os.path.join(ROOT, folder, "model.safetensors")
            return t
    return None


def canonical(repo, rev):
    for r in ["main"] + ["refs/pr/%d" % p[0] for p in REPOS[repo].get("prs", [])]:
        if rev in (r, commit_of(repo, r)):
            return r
    return None


def content(path):
    if path is None:
        return b"*.bin filter=lfs diff=lfs merge=lfs -text\n*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    if isinstance(path, tuple):  # a made-up file
        return ST_EXTRA[path[1]]
    return open(path, "rb").read()


def cdn_name(path):
    """The name a file has on the CDN: its path under ROOT, or "@gen/..." under GEN."""
    if GEN and os.path.abspath(path).startswith(os.path.abspath(GEN) + os.sep):
        return "@gen/" + os.path.relpath(path, GEN)
    return os.path.relpath(path, ROOT)


def is_lfs(name, path=None):
    if isinstance(path, tuple):  # made-up files are small text, served by the hub itself
        return False
    return name.endswith(".safetensors") or name.endswith(".bin")


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def log_req(self):
        with lock:
            sys.stderr.write("host=%s %s %s range=%s auth=%s\n" % (
                self.headers.get("Host"), self.command, self.path, self.headers.get("Range"),
                "yes" if self.headers.get("Authorization") else "no"))
            sys.stderr.flush()

    def error(self, status, code, message):
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def json(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.log_req()
        path = self.path.split("?")[0]
        if self.server is cdn:
            return self.serve_cdn(path)
        if path.startswith("/api/"):
            if MODE == "noapi":  # a static mirror: no API at all
                return self.error(404, None, "Not Found")
            return self.serve_api(path)
        parts = path.split("/")
        # /{org}/{name}/resolve/{rev}/{file, '/' kept}
        if len(parts) < 6 or parts[3] != "resolve":
            return self.error(404, None, "Not Found")
        repo, rev = parts[1] + "/" + parts[2], urllib.parse.unquote(parts[4])
        fname = urllib.parse.unquote("/".join(parts[5:]))
        if repo not in REPOS:
            return self.error(401, "RepoNotFound", "Repository not found")
        if self.refuse_gated(repo):
            return
        t = tree(repo, rev)
        if t is None:
            return self.error(404, "RevisionNotFound", "Invalid rev id: %s" % rev)
        if fname not in t:
            return self.error(404, "EntryNotFound", "Entry not found")
        data = content(t[fname])
        commit = commit_of(repo, canonical(repo, rev))
        if is_lfs(fname, t[fname]):
            sha = hashlib.sha256(data).hexdigest()
            if MODE == "badsum":
                sha = "0" * 64
            self.send_response(302)
            self.send_header("Location", "http://localhost:%d/repos/%s/%s" % (cdn.server_address[1],
                                                                              hashlib.sha256(data).hexdigest(),
                                                                              urllib.parse.quote(cdn_name(t[fname]), safe="")))
            self.send_header("X-Linked-Etag", '"%s"' % sha)
            self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("X-Repo-Commit", commit)
            # on a redirect the hub's ETag is the LFS pointer's; clients use X-Linked-Etag
            self.send_header("ETag", '"%s"' % hashlib.sha1(b"version https://git-lfs.github.com/spec/v1\n" + sha.encode()).hexdigest())
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        if MODE != "noapi":  # the hub serves small files through a relative 307 to its resolve cache
            self.send_response(307)
            self.send_header("Location", "/api/resolve-cache/models/%s/%s/%s?%s=&etag=%s" % (
                repo, commit, urllib.parse.quote(fname), urllib.parse.quote(self.path, safe=""),
                urllib.parse.quote('"%s"' % blob)))
            self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", '"%s"' % blob)
        self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def serve_api(self, path):
        parts = [urllib.parse.unquote(p) for p in path.split("/")]
        if len(parts) >= 8 and parts[2] == "resolve-cache" and parts[3] == "models":
            return self.serve_resolve_cache(parts[4] + "/" + parts[5], parts[6], "/".join(parts[7:]))
        # /api/models/{org}/{name}[/revision/{rev} | /discussions]
        if len(parts) < 5 or parts[2] != "models":
            return self.error(404, None, "Not Found")
        repo = parts[3] + "/" + parts[4]
        if repo not in REPOS:
            return self.error(401, "RepoNotFound", "Repository not found")
        rest = parts[5:]
        if rest == ["discussions"]:
            ds = [{"num": n, "title": title, "status": status, "isPullRequest": True,
                   "author": {"name": author, "type": "user"}, "repoId": {"name": repo, "type": "model"},
                   "createdAt": "2023-%02d-01T00:00:00.000Z" % (n % 12 + 1), "numComments": 1, "pinned": False}
                  for n, author, title, status, _f in sorted(REPOS[repo].get("prs", []), reverse=True)]
            return self.json({"discussions": ds, "count": len(ds), "start": 0,
                              "numClosedDiscussions": sum(d["status"] == "closed" for d in ds)})
        if rest and (len(rest) != 2 or rest[0] != "revision"):
            return self.error(404, None, "Not Found")
        rev = rest[1] if rest else "main"
        t = tree(repo, rev)
        if t is None:
            return self.error(404, "RevisionNotFound", "Invalid rev id: %s" % rev)
        gated = "manual" if REPOS[repo].get("gated") else False
        return self.json({"_id": hashlib.md5(repo.encode()).hexdigest()[:24], "id": repo, "modelId": repo,
                          "sha": commit_of(repo, canonical(repo, rev)), "private": False, "gated": gated,
                          "disabled": False, "siblings": [{"rfilename": f} for f in sorted(t)]})

    def refuse_gated(self, repo):
        """Answers as the hub does for a gated repository without access; True if it did."""
        if not REPOS[repo].get("gated"):
            return False
        auth = self.headers.get("Authorization")
        if not auth:
            self.error(401, "GatedRepo", "Access to model %s is restricted. You must have access to it "
                       "and be authenticated to access it. Please log in." % repo)
        elif auth == "Bearer hf_test_token_noaccess":
            self.error(403, "GatedRepo", "Access to model %s is restricted and you are not in the "
                       "authorized list. Visit https://huggingface.co/%s to ask for access." % (repo, repo))
        elif auth != "Bearer " + TOKEN:
            self.error(401, None, "Invalid credentials in Authorization header")
        else:
            return False
        return True

    def serve_resolve_cache(self, repo, commit, fname):
        if repo not in REPOS:
            return self.error(401, "RepoNotFound", "Repository not found")
        if self.refuse_gated(repo):
            return
        t = tree(repo, commit)
        if t is None or fname not in t or is_lfs(fname, t[fname]):
            return self.error(404, "EntryNotFound", "Entry not found")
        data = content(t[fname])
        self.send_response(200)
        self.send_header("ETag", '"%s"' % hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest())
        self.send_header("X-Repo-Commit", commit_of(repo, canonical(repo, commit)))
        extra = LONG_EXTRA if MODE == "long" and self.command != "HEAD" else 0  # HEAD tells the true size
        self.send_header("Content-Length", str(len(data) + extra))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
            self.send_extra(extra, fname)

    def serve_cdn(self, path):
        parts = path.split("/")
        if len(parts) != 4 or parts[1] != "repos":
            return self.error(404, None, "Not Found")
        rel = urllib.parse.unquote(parts[3])
        if rel.startswith("@gen/") and not GEN:
            return self.error(404, None, "Not Found")
        full = locate(rel)
        if ".." in rel.split("/") or not os.path.isfile(full):
            return self.error(404, None, "Not Found")
        data = open(full, "rb").read()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-") and MODE != "norange":
            start = int(rng[6:-1])
        if start >= len(data) and start:
            self.send_response(416)
            self.send_header("Content-Range", "bytes */%d" % len(data))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("ETag", '"%s"' % hashlib.md5(data).hexdigest())  # S3's, not a hub checksum
        self.send_header("Accept-Ranges", "bytes")
        extra = LONG_EXTRA if MODE == "long" else 0
        self.send_header("Content-Length", str(len(body) + extra))
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        key = rel
        with lock:
            cut = MODE in ("cut", "norange") and key not in cut_done
            cut_done.add(key)
        if cut:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if MODE == "slow":  # long enough for two clients to overlap
            for i in range(0, len(body), 1 << 16):
                self.wfile.write(body[i:i + (1 << 16)])
                threading.Event().wait(0.003)
            return
        self.wfile.write(body)
        self.send_extra(extra, rel)

    def send_extra(self, extra, name):
        """Mode "long": bytes past the size the hub's HEAD promised; a client should hang up first."""
        if not extra:
            return
        try:
            for _ in range(extra >> 16):
                self.wfile.write(b"\0" * (1 << 16))
            sys.stderr.write("long: sent all %d extra bytes of %s\n" % (extra, name))
        except OSError:
            sys.stderr.write("long: client hung up during the extra bytes of %s\n" % name)


hub = ThreadingHTTPServer(("127.0.0.1", 0), H)
cdn = ThreadingHTTPServer(("127.0.0.1", 0), H)
for s in (hub, cdn):
    s.daemon_threads = True
    threading.Thread(target=s.serve_forever, daemon=True).start()
tmp = PORTFILE + ".tmp"
with open(tmp, "w") as f:
    f.write("%d %d\n" % (hub.server_address[1], cdn.server_address[1]))
os.rename(tmp, PORTFILE)
threading.Event().wait(300)
