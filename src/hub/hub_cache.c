/* hub_cache: the Hugging Face cache layout (see hub.h): where it is, what a snapshot holds, refs,
 * snapshot links, and where a model folder came from. No network here. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cs_json.h"
#include "../common/cs_file.h"
#include "hub_int.h"

const char *const hub_fmt_name[HUB_FMT_COUNT] = {"safetensors", "safetensors-sharded", "pytorch", "pytorch-sharded"};
const char *const hub_fmt_file[HUB_FMT_COUNT] = {"model.safetensors", "model.safetensors.index.json",
                                                 "pytorch_model.bin", "pytorch_model.bin.index.json"};

/* huggingface_hub's constants.py: "1", "ON", "YES", "TRUE" (any case) switch a flag on */
static int env_true(const char *name) {
    const char *v = getenv(name);
    return v && (!strcasecmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true"));
}

hub_params hub_default_params(void) {
    hub_params p = {0};
    p.offline = env_true("HF_HUB_OFFLINE");
    return p;
}

int hub_cache_dir(const hub_params *p, char *buf, size_t n) {
    const char *v;
    if (p && p->cache_dir) return snprintf(buf, n, "%s", p->cache_dir) < (int)n ? 0 : -1;
    if ((v = getenv("HF_HUB_CACHE")) && *v) return snprintf(buf, n, "%s", v) < (int)n ? 0 : -1;
    if ((v = getenv("HUGGINGFACE_HUB_CACHE")) && *v) return snprintf(buf, n, "%s", v) < (int)n ? 0 : -1;
    if ((v = getenv("HF_HOME")) && *v) return snprintf(buf, n, "%s/hub", v) < (int)n ? 0 : -1;
    if ((v = getenv("XDG_CACHE_HOME")) && *v) return snprintf(buf, n, "%s/huggingface/hub", v) < (int)n ? 0 : -1;
    if ((v = getenv("HOME")) && *v) return snprintf(buf, n, "%s/.cache/huggingface/hub", v) < (int)n ? 0 : -1;
    return -1;
}

int hub_repo_valid(const char *repo) {
    if (!repo || !*repo || strlen(repo) > 200 || strstr(repo, "..")) return 0;
    const char *sl = strchr(repo, '/');
    if (!sl || sl == repo || !sl[1] || strchr(sl + 1, '/')) return 0;
    if (repo[0] == '.' || sl[1] == '.' || repo[0] == '-' || sl[1] == '-') return 0;
    for (const char *c = repo; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("-_./", *c)) return 0;
    return 1;
}

int hub_revision_valid(const char *rev) {
    /* a branch, tag, refs/pr/N or commit: it becomes a path under refs/, so no "..", no leading '/' */
    if (!rev || !*rev || strlen(rev) > 255 || strstr(rev, "..") || rev[0] == '/' || rev[0] == '.' || strstr(rev, "//"))
        return 0;
    for (const char *c = rev; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("-_./", *c)) return 0;
    return rev[strlen(rev) - 1] != '/';
}

int hub_is_hex(const char *s, size_t n) {
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}

int hub_repo_dir(const hub_params *p, const char *repo, char *buf, size_t n, cs_err *err) {
    char cache[PATH_MAX];
    if (!hub_repo_valid(repo)) return cs_err_set(err, "'%s' is not a repository name like org/name", repo ? repo : "");
    if (hub_cache_dir(p, cache, sizeof cache))
        return cs_err_set(err, "no Hugging Face cache folder: set HF_HUB_CACHE or HF_HOME (HOME is not set)");
    const char *sl = strchr(repo, '/');
    /* huggingface_hub names the folder "models--" + repo_id with "/" replaced by "--" */
    if (snprintf(buf, n, "%s/models--%.*s--%s", cache, (int)(sl - repo), repo, sl + 1) >= (int)n)
        return cs_err_set(err, "%s: path too long", cache);
    return 0;
}

int hub_mkdirs(const char *path, cs_err *err) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return cs_err_set(err, "%s: path too long", path);
    for (char *c = tmp + 1;; c++) {
        if (*c == '/' || !*c) {
            char keep = *c;
            *c = 0;
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return cs_err_sys(err, errno, "%s", tmp);
            *c = keep;
            if (!keep) break;
        }
    }
    return 0;
}

int hub_read_ref(const char *rdir, const char *rev, char *commit) {
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s/refs/%s", rdir, rev) >= (int)sizeof p) return -1;
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    char line[128] = {0};
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n \t")] = 0;
    if (!ok || !hub_is_hex(line, 40)) return -1;
    memcpy(commit, line, 41);
    return 0;
}

/* Writes data to path through path.tmp.<pid>: write, fsync, rename, so readers see the old or the
 * new content, never a part. */
static int write_atomic(const char *path, const char *data, size_t len, cs_err *err) {
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return cs_err_sys(err, errno, "%s", tmp);
    int ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        if (ok) e = errno;
        unlink(tmp);
        return cs_err_sys(err, e, "%s", path);
    }
    return 0;
}

int hub_write_ref(const char *rdir, const char *rev, const char *commit, cs_err *err) {
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s/refs/%s", rdir, rev) >= (int)sizeof p)
        return cs_err_set(err, "%s: path too long", rdir);
    char *sl = strrchr(p, '/');
    *sl = 0;
    if (hub_mkdirs(p, err)) return -1;
    *sl = '/';
    return write_atomic(p, commit, strlen(commit), err); /* no newline, as huggingface_hub writes it */
}

int hub_link_snapshot(const char *rdir, const char *commit, const char *file, const char *etag, cs_err *err) {
    char link[PATH_MAX], target[PATH_MAX], tmp[PATH_MAX + 32];
    if (snprintf(link, sizeof link, "%s/snapshots/%s/%s", rdir, commit, file) >= (int)sizeof link)
        return cs_err_set(err, "%s: path too long", rdir);
    char *sl = strrchr(link, '/');
    *sl = 0;
    if (hub_mkdirs(link, err)) return -1;
    *sl = '/';
    /* relative, like huggingface_hub: ../../blobs/<etag>, one more ../ per folder in the name */
    size_t at = 0;
    for (const char *c = file; *c; c++)
        if (*c == '/') at += (size_t)snprintf(target + at, sizeof target - at, "../");
    snprintf(target + at, sizeof target - at, "../../blobs/%s", etag);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", link, (int)getpid());
    unlink(tmp);
    if (symlink(target, tmp) != 0) return cs_err_sys(err, errno, "%s", tmp);
    if (rename(tmp, link) != 0) {
        int e = errno;
        unlink(tmp);
        return cs_err_sys(err, e, "%s", link);
    }
    return 0;
}

void hub_free_names(char **names) {
    for (size_t i = 0; names && names[i]; i++) free(names[i]);
    free(names);
}

/* A shard name and where the weight_map first mentions it, sorted by name then position. */
typedef struct shard_ref {
    const char *name;
    size_t at;
} shard_ref;

static int cmp_shard(const void *a, const void *b) {
    const shard_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

static int cmp_at(const void *a, const void *b) {
    const shard_ref *x = a, *y = b;
    return (x->at > y->at) - (x->at < y->at);
}

int hub_index_shards(const char *index_path, char ***names, cs_err *err) {
    *names = NULL;
    json_t *idx = cs_json_read_object(index_path, 64u << 20, err);
    if (!idx) return -1;
    json_t *wm = json_object_get(idx, "weight_map");
    if (!json_is_object(wm)) {
        json_decref(idx);
        return cs_err_set(err, "%s: no weight_map object", index_path);
    }
    /* the map comes from the network and may hold millions of entries: duplicates are found by
     * sorting (n log n), not by comparing each name with every earlier one */
    size_t total = json_object_size(wm), n = 0, k = 0;
    shard_ref *refs = malloc((total ? total : 1) * sizeof *refs);
    char **v = calloc(total + 1, sizeof *v);
    unsigned char *first = calloc(total ? total : 1, 1);
    int rc = refs && v && first ? 0 : cs_errc(err, CS_ENOMEM, "out of memory");
    const char *key;
    json_t *val;
    json_object_foreach(wm, key, val) {
        const char *f = json_string_value(val);
        if (rc) break;
        /* a shard name comes from the network: a plain file name only, never a path */
        if (!f || !*f || strchr(f, '/') || strchr(f, '\\') || !strcmp(f, "..") || f[0] == '.') {
            rc = cs_err_set(err, "%s: tensor '%s': bad shard name", index_path, key);
            break;
        }
        refs[n] = (shard_ref){f, n};
        n++;
    }
    if (!rc) {
        qsort(refs, n, sizeof *refs, cmp_shard);
        for (size_t i = 0; i < n; i++)
            if (i == 0 || strcmp(refs[i - 1].name, refs[i].name)) first[refs[i].at] = 1;
        /* back in order of first mention: the order the shards are downloaded in */
        qsort(refs, n, sizeof *refs, cmp_at);
        for (size_t i = 0; i < n && !rc; i++)
            if (first[i] && !(v[k++] = strdup(refs[i].name))) rc = cs_errc(err, CS_ENOMEM, "out of memory");
    }
    free(refs);
    free(first);
    json_decref(idx);
    if (rc) {
        hub_free_names(v);
        return -1;
    }
    *names = v;
    return 0;
}

/* 1 if snap/<name> exists as a regular file (a snapshot link resolved to its blob). */
static int has(const char *snap, const char *name) {
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s/%s", snap, name) >= (int)sizeof p) return 0;
    return cs_is_file(p);
}

static int layout_complete(const char *snap, int fmt) {
    if (!has(snap, hub_fmt_file[fmt])) return 0;
    if (fmt == HUB_FMT_ST || fmt == HUB_FMT_BIN) return 1;
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s/%s", snap, hub_fmt_file[fmt]) >= (int)sizeof p) return 0;
    char **names;
    if (hub_index_shards(p, &names, NULL)) return 0;
    int ok = 1;
    for (size_t i = 0; names[i] && ok; i++) ok = has(snap, names[i]);
    hub_free_names(names);
    return ok;
}

int hub_snapshot_format(const char *snap, const char *const *files, int n) {
    for (int i = 0; i < n; i++)
        if (!has(snap, files[i])) return -1;
    for (int f = 0; f < HUB_FMT_COUNT; f++)
        if (layout_complete(snap, f)) return f;
    return -1;
}

static void fill(hub_model *out, const char *repo, const char *rev, const char *commit, const char *snap, int fmt) {
    snprintf(out->repo, sizeof out->repo, "%s", repo);
    snprintf(out->revision, sizeof out->revision, "%s", rev);
    snprintf(out->commit, sizeof out->commit, "%s", commit);
    snprintf(out->format, sizeof out->format, "%s", hub_fmt_name[fmt]);
    snprintf(out->dir, sizeof out->dir, "%s", snap);
    out->from_cache = 1;
}

int hub_cache_lookup(const char *repo, const char *const *files, int n, const hub_params *p, hub_model *out,
                     cs_err *err) {
    char rdir[PATH_MAX], commit[41], snap[PATH_MAX + 64];
    const char *rev = p && p->revision ? p->revision : "main";
    if (hub_repo_dir(p, repo, rdir, sizeof rdir, err)) return -1;
    if (!hub_revision_valid(rev))
        return cs_err_set(err, "'%s' is not a revision (a branch, refs/pr/N or a commit)", rev);
    memset(out, 0, sizeof *out);
    if (hub_is_hex(rev, 40))
        snprintf(commit, sizeof commit, "%s", rev);
    else if (hub_read_ref(rdir, rev, commit))
        commit[0] = 0;
    int fmt = -1;
    if (commit[0]) {
        snprintf(snap, sizeof snap, "%s/snapshots/%s", rdir, commit);
        fmt = hub_snapshot_format(snap, files, n);
        if (fmt >= 0) fill(out, repo, rev, commit, snap, fmt);
    }
    if (fmt <= HUB_FMT_ST_SHARDED && fmt >= 0) return 0;
    if (strcmp(rev, "main")) return fmt >= 0 ? 0 : 1;
    /* main without safetensors: a cached conversion pull request (refs/pr/N) wins, as it would online */
    char prs[PATH_MAX + 16];
    snprintf(prs, sizeof prs, "%s/refs/refs/pr", rdir);
    DIR *d = opendir(prs);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char ref[300], pc[41], ps[PATH_MAX + 64];
        if (de->d_name[0] == '.') continue;
        snprintf(ref, sizeof ref, "refs/pr/%s", de->d_name);
        if (hub_read_ref(rdir, ref, pc)) continue;
        snprintf(ps, sizeof ps, "%s/snapshots/%s", rdir, pc);
        int f = hub_snapshot_format(ps, files, n);
        if (f == HUB_FMT_ST || f == HUB_FMT_ST_SHARDED) {
            fill(out, repo, ref, pc, ps, f);
            fmt = f;
            break;
        }
    }
    if (d) closedir(d);
    return fmt >= 0 ? 0 : 1;
}

/* Finds the ref under refs/ (recursively) whose content is commit; writes its name into rev. */
static int find_ref(const char *base, const char *prefix, const char *commit, char *rev, size_t n) {
    DIR *d = opendir(base);
    if (!d) return -1;
    struct dirent *de;
    int found = -1;
    while (found && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[PATH_MAX], name[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", base, de->d_name);
        snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "/" : "", de->d_name);
        struct stat st;
        if (stat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            char sub[PATH_MAX];
            int r = find_ref(p, name, commit, sub, sizeof sub);
            if (r >= 0 && (found < 0 || r == 0)) {
                snprintf(rev, n, "%s", sub);
                found = r;
            }
        } else {
            char c[128] = {0};
            FILE *f = fopen(p, "r");
            if (!f) continue;
            if (fgets(c, sizeof c, f)) c[strcspn(c, "\r\n")] = 0;
            fclose(f);
            /* main first: a name is kept only if nothing better was found */
            if (!strcmp(c, commit) && (found < 0 || !strcmp(name, "main"))) {
                snprintf(rev, n, "%s", name);
                found = strcmp(name, "main") ? 1 : 0;
            }
        }
    }
    closedir(d);
    return found;
}

int hub_origin(const char *dir, hub_model *out) {
    char real[PATH_MAX];
    memset(out, 0, sizeof *out);
    if (!realpath(dir, real)) return 1;
    /* .../models--org--name/snapshots/<commit> */
    char *snap = strrchr(real, '/');
    if (!snap || !hub_is_hex(snap + 1, 40)) return 1;
    *snap = 0;
    char *s2 = strrchr(real, '/');
    if (!s2 || strcmp(s2 + 1, "snapshots")) return 1;
    *s2 = 0;
    char *rd = strrchr(real, '/');
    if (!rd || strncmp(rd + 1, "models--", 8)) return 1;
    const char *name = rd + 9, *sep = strstr(name, "--");
    if (!sep) return 1;
    snprintf(out->repo, sizeof out->repo, "%.*s/%s", (int)(sep - name), name, sep + 2);
    snprintf(out->commit, sizeof out->commit, "%s", snap + 1);
    char refs[PATH_MAX + 8];
    snprintf(refs, sizeof refs, "%s/refs", real);
    if (find_ref(refs, "", out->commit, out->revision, sizeof out->revision) < 0)
        snprintf(out->revision, sizeof out->revision, "%s", out->commit);
    *s2 = '/';
    *snap = '/';
    snprintf(out->dir, sizeof out->dir, "%s", real);
    int f = hub_snapshot_format(real, NULL, 0);
    snprintf(out->format, sizeof out->format, "%s", f >= 0 ? hub_fmt_name[f] : "incomplete");
    out->from_cache = 1;
    return 0;
}

int hub_relpath_valid(const char *p) {
    if (!p || !*p || strlen(p) > 200 || p[strlen(p) - 1] == '/') return 0;
    for (const char *part = p; part;) {
        const char *end = strchr(part, '/');
        size_t len = end ? (size_t)(end - part) : strlen(part);
        /* a part starting with '.' covers ".", ".." and hidden names */
        if (!len || part[0] == '.') return 0;
        for (size_t i = 0; i < len; i++)
            if (!isalnum((unsigned char)part[i]) && !strchr("-_.", part[i])) return 0;
        part = end ? end + 1 : NULL;
    }
    return 1;
}

/* 1 if the module type (e.g. "sentence_transformers.models.Dense") ends with ".name" or is name. */
static int type_is(const char *type, const char *name) {
    size_t lt = strlen(type), ln = strlen(name);
    return lt >= ln && !strcmp(type + lt - ln, name) && (lt == ln || type[lt - ln - 1] == '.');
}

int hub_module_dirs(const char *modules_json, char ***dirs, char **kinds, cs_err *err) {
    *dirs = NULL;
    *kinds = NULL;
    char *txt;
    size_t len;
    if (cs_read_file(modules_json, 1u << 20, &txt, &len, err)) return -1;
    int rc = hub_module_dirs_parse(txt, len, modules_json, dirs, kinds, err);
    free(txt);
    return rc;
}

int hub_module_dirs_parse(const char *txt, size_t len, const char *modules_json, char ***dirs, char **kinds,
                          cs_err *err) {
    *dirs = NULL;
    *kinds = NULL;
    json_error_t je;
    json_t *a = json_loadb(txt, len, 0, &je);
    if (!json_is_array(a)) {
        json_decref(a);
        return cs_errc(err, CS_EINVAL, "%s: not a JSON array of modules", modules_json);
    }
    size_t n = json_array_size(a), k = 0;
    char **v = calloc(n + 1, sizeof *v), *kd = calloc(n + 1, 1);
    int rc = v && kd ? 0 : cs_errc(err, CS_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *m = json_array_get(a, i);
        const char *path = json_string_value(json_object_get(m, "path"));
        const char *type = json_string_value(json_object_get(m, "type"));
        if (!json_is_object(m) || !path || !type) {
            rc = cs_errc(err, CS_EINVAL, "%s: module %zu has no \"path\" and \"type\" strings", modules_json, i);
            break;
        }
        if (!*path) continue; /* the root: fetched as the repository's own files */
        /* the path comes from the network and becomes a path in the cache: plain names only */
        if (!hub_relpath_valid(path)) {
            rc = cs_errc(err, CS_EINVAL, "%s: module path '%s' is not a plain relative folder", modules_json, path);
            break;
        }
        kd[k] = type_is(type, "Normalize") ? 'n' : type_is(type, "Dense") ? 'd' : 'o';
        if (!(v[k++] = strdup(path))) rc = cs_errc(err, CS_ENOMEM, "out of memory");
    }
    json_decref(a);
    if (rc) {
        hub_free_names(v);
        free(kd);
        return -1;
    }
    *dirs = v;
    *kinds = kd;
    return 0;
}

/* 1 if every module folder of snap/modules.json holds what its module reads. */
static int modules_complete(const char *snap) {
    char mj[PATH_MAX + 16], **dirs, *kinds;
    snprintf(mj, sizeof mj, "%s/modules.json", snap);
    if (hub_module_dirs(mj, &dirs, &kinds, NULL)) return 0;
    int ok = 1;
    for (size_t i = 0; dirs[i] && ok; i++) {
        char p[PATH_MAX + 256];
        if (kinds[i] == 'n') continue;
        snprintf(p, sizeof p, "%s/config.json", dirs[i]);
        ok = has(snap, p);
        if (ok && kinds[i] == 'd') {
            char st[PATH_MAX + 256], bin[PATH_MAX + 256];
            snprintf(st, sizeof st, "%s/model.safetensors", dirs[i]);
            snprintf(bin, sizeof bin, "%s/pytorch_model.bin", dirs[i]);
            ok = has(snap, st) || has(snap, bin);
        }
    }
    hub_free_names(dirs);
    free(kinds);
    return ok;
}

int hub_cache_lookup_layout(const char *repo, const hub_layout *layout, const hub_params *p, hub_model *out,
                            cs_err *err) {
    int r = hub_cache_lookup(repo, layout->files, layout->n, p, out, err);
    if (r == 0 && layout->modules && !modules_complete(out->dir)) return 1;
    return r;
}
