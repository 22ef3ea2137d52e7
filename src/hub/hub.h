/* hub: Hugging Face hub downloads into the Hugging Face cache, and lookups in that cache (the one
 * network access clipseek makes, and only when asked).
 *
 * Terms: a "repo" is "org/name"; a "revision" is a branch ("main"), a pull request
 * ("refs/pr/66") or a commit SHA; a "snapshot" is the cache folder of one commit, whose files are
 * symlinks into the repository's blobs:
 *
 *   $HF_HUB_CACHE/models--org--name/blobs/<etag>           the bytes, named by the hub's checksum
 *                                   refs/<revision>         the commit SHA that revision had
 *                                   snapshots/<commit>/<file> -> ../../blobs/<etag>
 *
 * the layout huggingface_hub writes, so models are shared with Python tools both ways. The cache
 * folder is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
 * ~/.cache/huggingface/hub.
 *
 * Weights are resolved the way transformers' from_pretrained does, first found wins:
 * model.safetensors on the revision; model.safetensors.index.json and its shards; the open pull
 * request by SFconvertbot that adds a safetensors copy (the hub's conversion bot; all files then
 * come from that pull request); pytorch_model.bin; pytorch_model.bin.index.json and its shards.
 * One listing call (GET /api/models/{repo}/revision/{rev}: "sha" and "siblings") decides; an
 * endpoint without the API (a mirror set with HF_ENDPOINT) is probed file by file instead.
 *
 * Downloads: a HEAD on the hub gives the file's checksum (X-Linked-Etag, the SHA-256 of a Git LFS
 * file, else ETag, the git blob SHA-1) and the commit (X-Repo-Commit); a blob already in the cache
 * is not downloaded again. Bytes go to blobs/<etag>.incomplete, resumed with a Range request
 * after an interruption, verified against the checksum, fsync'd and renamed; then the snapshot
 * symlink and the ref are written (temporary name, fsync, rename). A download holds an flock on
 * <cache>/.locks/models--org--name/<etag>.lock (huggingface_hub's lock file). Redirects are followed here,
 * not by curl: the token is sent only to the endpoint's own scheme, host and port, never to the
 * CDN a large file redirects to. Files and folders this module creates are 0600 / 0700.
 *
 * Token: hub_params.token, else $HF_TOKEN, else the file $HF_TOKEN_PATH or $HF_HOME/token
 * (huggingface-cli login writes it). It is sent as an Authorization header, never put on a
 * command line or into an error message.
 *
 * Threading: one call at a time per process (curl's global init is done per call). */
#ifndef HUB_H
#define HUB_H

#include <limits.h>
#include <stdint.h>

#include "../common/cs_err.h"

/* Called while a file downloads (done and total in bytes; total 0 if unknown). Must not fail. */
typedef void (*hub_progress_fn)(void *arg, const char *file, uint64_t done, uint64_t total);

typedef struct hub_params {
    const char *endpoint;     /* NULL: $HF_ENDPOINT, else https://huggingface.co */
    const char *revision;     /* NULL: "main" */
    const char *cache_dir;    /* NULL: the cache folder above */
    const char *token;        /* NULL: $HF_TOKEN, else the token file */
    int offline;              /* 1: the cache only, no network (default: $HF_HUB_OFFLINE is 1/true/yes/on) */
    hub_progress_fn progress; /* NULL: none */
    void *progress_arg;
} hub_params;

/* Defaults, with offline read from $HF_HUB_OFFLINE. Other NULL fields are resolved per call. */
hub_params hub_default_params(void);

/* A resolved model snapshot. */
typedef struct hub_model {
    char repo[256];           /* "org/name" */
    char revision[320];       /* what the files came from: "main", "refs/pr/66", or a commit */
    char commit[64];          /* the commit SHA (40 hex) */
    char format[32];          /* "safetensors", "safetensors-sharded", "pytorch", "pytorch-sharded" */
    char dir[PATH_MAX + 512]; /* the snapshot folder: load the model from here */
    int from_cache;           /* 1: everything was in the cache already; nothing was downloaded */
} hub_model;

/* Makes repo's model available in the cache and fills *out. `files` (n of them) must exist in the
 * repository (e.g. config.json, vocab.json); `optional` (nopt) are fetched when present; the
 * weights are resolved as described above. A snapshot already complete in the cache is used with
 * no network request at all. Returns 0, or -1 with err set: not a repo name, not found (a 401
 * RepoNotFound: absent or private), gated (what to do: accept the licence, set HF_TOKEN), revision
 * or file missing, offline and not cached, network failure (what was downloaded is kept, and the
 * next call resumes), checksum mismatch (the download is deleted). */
int hub_fetch(const char *repo, const char *const *files, int n, const char *const *optional, int nopt,
              const hub_params *p, hub_model *out, cs_err *err);

/* A kind of repository hub_fetch_any can recognise by its root files. */
typedef struct hub_layout {
    const char *name;         /* "CLIP", "sentence-transformers": named in messages */
    const char *const *files; /* must all exist at the root of the revision */
    int n;
    const char *const *optional; /* root files fetched when present */
    int nopt;
    int modules; /* 1: a sentence-transformers repository: also the module folders below */
} hub_layout;

/* Like hub_fetch, for a repository of one of nl layouts: the first layout whose `files` are all in
 * the revision's listing is fetched (without the listing API: the first whose files all exist).
 * *which (may be NULL) gets its index. With layout.modules, modules.json (one of `files`) is read
 * after the root files and the root weights, and each module folder it names (a relative path such
 * as "1_Pooling"; "" is the root) gets the files sentence-transformers reads from it, when the
 * revision has them: config.json, vocab.txt, tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, sentence_bert_config.json, and the weights model.safetensors, else
 * pytorch_model.bin. Nothing else is downloaded (no onnx/, openvino/, TensorFlow, Flax or Rust
 * weights, no README). Errors as hub_fetch, plus: none of the layouts (the message names what each
 * needs), a module path that is not a plain relative folder (CS_EINVAL), modules.json not a JSON
 * array of objects (CS_EINVAL). */
int hub_fetch_any(const char *repo, const hub_layout *layouts, int nl, const hub_params *p, hub_model *out, int *which,
                  cs_err *err);

/* hub_cache_lookup for one layout: with layout->modules, the snapshot must also hold every module
 * folder modules.json names (config.json in each folder except a Normalize module's, and the
 * weights of a Dense module). Returns 0 found, 1 not in the cache, -1 error. */
int hub_cache_lookup_layout(const char *repo, const hub_layout *layout, const hub_params *p, hub_model *out,
                            cs_err *err);

/* Looks repo up in the cache only (never the network): the snapshot of p->revision (default main)
 * if it holds `files` and complete weights; for main, a cached conversion pull request with
 * model.safetensors is preferred over a main that only has pytorch_model.bin, as hub_fetch would.
 * Returns 0 found (*out filled, from_cache 1), 1 not in the cache, -1 error (err set). */
int hub_cache_lookup(const char *repo, const char *const *files, int n, const hub_params *p, hub_model *out,
                     cs_err *err);

/* Where a model folder came from, derived from its path: a snapshot folder inside a Hugging Face
 * cache (.../models--org--name/snapshots/<commit>) fills repo, commit, revision (the ref that
 * points at that commit, else the commit) and format (from the weight files present).
 * Returns 0 if dir is such a snapshot, 1 if not (a plain folder). */
int hub_origin(const char *dir, hub_model *out);

/* The cache folder in effect (p->cache_dir or the environment), written into buf. Returns 0, or -1
 * when no folder can be determined (no HOME). */
int hub_cache_dir(const hub_params *p, char *buf, size_t n);

/* 1 if rev is a well-formed revision (letters, digits, '-', '_', '.', '/'; no "..", no leading
 * '/' or '.'): it names a file under refs/. */
int hub_revision_valid(const char *rev);

/* 1 if repo is a well-formed "org/name" (letters, digits, '-', '_', '.'; no "..", no leading '.'). */
int hub_repo_valid(const char *repo);

#endif
