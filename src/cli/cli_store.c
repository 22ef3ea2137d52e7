/* cli_store: the clipboard-history commands that work directly on the store: add, store (for
 * wl-paste --watch), list, show, decode, delete, pin, unpin, tag, pick, stats, check, gc, copy.
 * Output formats are documented in docs/cli.md; --json output is stable. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../capture/secrets.h"
#include "../common/cs_file.h"
#include "../common/cs_utf8.h"
#include "../capture/capture.h"
#include "../capture/copyq.h"
#include "../capture/ingest.h"
#include "../capture/paste.h"
#include "../config/rules.h"
#include "../capture/textkind.h"
#include "../search/vecindex.h"
#include "../store/store.h"
#include "cli.h"

static int parse_id(const char *a, int64_t *id) {
    char *end;
    errno = 0;
    long long v = strtoll(a, &end, 10);
    if (!*a || *end || errno || v <= 0) return -1;
    *id = v;
    return 0;
}

static size_t max_clip_bytes(void) {
    capture_caps c = capture_default_caps();
    return c.max_image > c.max_text ? c.max_image : c.max_text;
}

/* ---- add ---- */

typedef struct {
    int added, bumped, skipped, total;
    int progress, quiet, flags, paused;
    const rules *rules;
    int images_only;  /* add --images-only: files whose content is not an image are passed over */
    const char *exts; /* add --ext png,jpg: only files with one of these extensions (any case) */
    int filtered;     /* files passed over by those two */
} add_stats;

/* 1 if path's extension is in the comma-separated list exts (case-insensitive). */
static int ext_wanted(const char *path, const char *exts) {
    const char *base = strrchr(path, '/'), *dot = strrchr(base ? base : path, '.');
    if (!dot || !dot[1]) return 0;
    size_t n = strlen(dot + 1);
    for (const char *p = exts; *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (*p == '.') p++, l--; /* ".png" as well as "png" */
        if (l == n && !strncasecmp(p, dot + 1, n)) return 1;
        p += l + (c ? 1 : 0);
    }
    return 0;
}

/* One clip through the ingest chain (ingest.h), the same one the daemon runs. A failure (the
 * store, or a pause flag that cannot be read) is an error; a clip not kept is counted as skipped. */
static int add_bytes(store *s, const unsigned char *d, size_t n, const char *source, const char *type_hint,
                     const char *offered, add_stats *st, const char *label) {
    capture_clip c = {d, n, type_hint, offered, source};
    ingest_result r;
    cs_err e;
    char line[1400];
    if (ingest_clip(s, st->rules, &c, st->flags, &r, &e))
        return cli_fail("%s: %s", label, ingest_describe(&r, &c, line, sizeof line));
    switch (r.decision) {
    case INGEST_STORED: st->added++; break;
    case INGEST_BUMPED: st->bumped++; break;
    case INGEST_PAUSED: st->paused++; /* fall through */
    default:
        st->skipped++;
        fprintf(stderr, "clipseek: %s: %s\n", label, ingest_describe(&r, &c, line, sizeof line));
        return 0;
    }
    if (r.note[0]) fprintf(stderr, "clipseek: %s: %s\n", label, r.note);
    /* flushed per id: an import that is interrupted still reports every id it committed */
    if (!st->quiet && (printf("%lld\n", (long long)r.id) < 0 || fflush(stdout) != 0))
        return cli_fail("writing stdout: %s", strerror(errno));
    return 0;
}

static int add_path(store *s, const char *path, add_stats *st, int depth);

static int add_dir(store *s, const char *path, add_stats *st, int depth) {
    if (depth > 32) return 0;
    struct dirent **list;
    int n = scandir(path, &list, NULL, alphasort); /* sorted: imports are reproducible */
    if (n < 0) return cli_fail("%s: %s", path, strerror(errno));
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (!rc && list[i]->d_name[0] != '.') {
            char *p = cs_path_join(path, list[i]->d_name);
            rc = p ? add_path(s, p, st, depth + 1) : cli_fail("out of memory");
            free(p);
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

static int add_path(store *s, const char *path, add_stats *st, int depth) {
    struct stat sb;
    if (stat(path, &sb) != 0) return cli_fail("%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return add_dir(s, path, st, depth);
    /* a pipe (`<(...)`, /dev/stdin) is read like stdin: to its end, within the caps */
    int stream = S_ISFIFO(sb.st_mode) || S_ISCHR(sb.st_mode);
    if (!S_ISREG(sb.st_mode) && !stream) {
        st->skipped++;
        fprintf(stderr, "clipseek: %s: not a file, a folder or a pipe, skipped\n", path);
        return 0;
    }
    if (st->exts && !ext_wanted(path, st->exts)) {
        st->filtered++;
        return 0;
    }
    st->total++;
    size_t cap = max_clip_bytes();
    if (!stream && (size_t)sb.st_size > cap) {
        st->skipped++;
        fprintf(stderr, "clipseek: %s: %lld bytes is over the size caps, skipped\n", path, (long long)sb.st_size);
        return 0;
    }
    char *buf;
    size_t len;
    cs_err e;
    if (cs_read_input(path, cap, &buf, &len, &e)) return cli_fail_err(&e);
    char real[PATH_MAX];
    const char *src = stream ? NULL : realpath(path, real) ? real : path; /* a pipe has no source file */
    if (st->images_only) { /* by content, as the import itself decides: a .png that is text is not an image */
        capture_kind k;
        capture_caps caps = rules_caps(st->rules);
        if (capture_classify((unsigned char *)buf, len, NULL, &caps, &k, NULL) || strcmp(k.kind, "image")) {
            free(buf);
            st->filtered++;
            return 0;
        }
    }
    int rc = add_bytes(s, (unsigned char *)buf, len, src, NULL, NULL, st, path);
    free(buf);
    if (st->progress && st->total % 100 == 0) fprintf(stderr, "clipseek: %d files read...\n", st->total);
    return rc;
}

int cmd_add(int argc, char **argv) {
    int wait = 0, first = 1, images_only = 0;
    const char *exts = NULL;
    /* options first, then the inputs; the inputs are compacted into argv[first..argc) */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--wait"))
            wait = 1;
        else if (!strcmp(argv[i], "--images-only"))
            images_only = 1;
        else if (!strcmp(argv[i], "--ext") && i + 1 < argc && argv[i + 1][0] && argv[i + 1][0] != '-')
            exts = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage("add: unknown option '%s' (a file whose name starts with '-': ./%s)", argv[i], argv[i]);
        else
            argv[n++] = argv[i];
    }
    argc = n;
    if (argc <= first) return cli_usage("add: give files, folders, or - for stdin");
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    add_stats st = {0};
    st.images_only = images_only;
    st.exts = exts;
    st.progress = isatty(2);
    rules *r;
    cs_err e;
    if (rules_load(NULL, &r, &e)) {
        store_close(s);
        return cli_fail_err(&e);
    }
    st.rules = r;
    int rc = CLI_OK;
    for (int i = first; i < argc && rc == CLI_OK; i++) {
        if (!strcmp(argv[i], "-")) {
            char *d;
            size_t n;
            if (cs_read_stream(stdin, max_clip_bytes(), &d, &n)) {
                rc = cli_fail("stdin: %s", strerror(errno));
                break;
            }
            rc = add_bytes(s, (unsigned char *)d, n, NULL, NULL, NULL, &st, "stdin");
            free(d);
        } else
            rc = add_path(s, argv[i], &st, 0);
    }
    fprintf(stderr, "clipseek: %d added, %d already present, %d skipped", st.added, st.bumped, st.skipped);
    if (st.filtered) fprintf(stderr, ", %d left out by --images-only/--ext", st.filtered);
    fputc('\n', stderr);
    /* paused: the user asked to store nothing, and this command stored nothing it was given */
    if (rc == CLI_OK && st.paused) rc = cli_fail("capture is paused: nothing added while paused (clipseek resume)");
    if (rc == CLI_OK && wait) rc = cli_index_all(s, NULL, 0);
    rules_free(r);
    store_close(s);
    if (fflush(stdout) != 0) return cli_fail("writing stdout: %s", strerror(errno));
    return rc;
}

/* import --from copyq FILE: the whole file is read and checked before anything is stored, so a
 * damaged or foreign file imports nothing. Each item offers its formats as a clipboard owner would
 * (capture_pick_type chooses: an image over HTML, then text), through the ingest chain as `add`
 * does; CopyQ lists the newest first, so they go in from the end and keep their order. */
int cli_import_copyq(const char *path) {
    cs_map m = {0};
    copyq_items items;
    cs_err e;
    if (cs_map_input(cs_input_path(path), &m, &e)) return cli_fail("%s (nothing imported)", e.msg);
    if (copyq_parse(m.data, m.len, &items, &e)) {
        cs_unmap(&m);
        return cli_fail("%s: %s (nothing imported)", path, e.msg);
    }
    store *s = cli_open_store();
    rules *r = NULL;
    if (!s || rules_load(NULL, &r, &e)) {
        int rc = s ? cli_fail_err(&e) : CLI_FAIL;
        store_close(s);
        copyq_items_free(&items);
        cs_unmap(&m);
        return rc;
    }
    add_stats st = {0};
    st.quiet = 1;
    st.rules = r;
    int rc = CLI_OK, unusable = 0;
    for (size_t i = items.n; i-- > 0 && rc == CLI_OK;) {
        const copyq_item *it = &items.items[i];
        char *offered = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&offered, &len);
        for (size_t k = 0; f && k < it->n; k++) fprintf(f, "%s\n", it->formats[k].mime);
        if (!f || fclose(f) != 0) {
            rc = cli_fail("out of memory");
            break;
        }
        const char *type = capture_pick_type(offered);
        const copyq_format *fmt = NULL;
        for (size_t k = 0; type && k < it->n && !fmt; k++)
            if (!strcmp(it->formats[k].mime, type)) fmt = &it->formats[k];
        char label[64];
        snprintf(label, sizeof label, "CopyQ item %zu", i + 1);
        if (!fmt) {
            unusable++;
            fprintf(stderr, "clipseek: %s: no text, image or file list among its formats, passed over\n", label);
        } else
            rc = add_bytes(s, fmt->data, fmt->len, "copyq", type, offered, &st, label);
        free(offered);
    }
    fprintf(stderr, "clipseek: %d added, %d already present, %d skipped\n", st.added, st.bumped, st.skipped + unusable);
    if (rc == CLI_OK && st.paused) rc = cli_fail("capture is paused: nothing added while paused (clipseek resume)");
    rules_free(r);
    store_close(s);
    copyq_items_free(&items);
    cs_unmap(&m);
    return rc;
}

/* `wl-paste --watch clipseek store`: one clip on stdin. wl-paste 2.2 and later set
 * CLIPBOARD_STATE: "data" (store it), "nil" or "clear" (nothing to store), "sensitive" (a password
 * manager marked it: store nothing, and do not even read it). Debian 12's wl-clipboard 2.1.0 sets
 * none of it: the daemon runs `clipseek wl-event` there instead (cli_wayland.c). */
int cmd_store(int argc, char **argv) {
    const char *type = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--type") && i + 1 < argc)
            type = argv[++i];
        else
            return cli_usage("store: unexpected argument '%s'", argv[i]);
    }
    const char *state = getenv("CLIPBOARD_STATE");
    if (state && (!strcmp(state, "sensitive") || !strcmp(state, "nil") || !strcmp(state, "clear"))) return CLI_OK;
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    /* paused (or a flag that cannot be read): stdin is not even read */
    char why[1100];
    int p = ingest_paused(s, why, sizeof why);
    if (p) {
        store_close(s);
        return p < 0 ? cli_fail("%s", why) : CLI_OK;
    }
    rules *r;
    cs_err e;
    if (rules_load(NULL, &r, &e)) {
        store_close(s);
        return cli_fail("clip not stored: %s", e.msg);
    }
    char *d;
    size_t n;
    size_t cap = max_clip_bytes();
    if (cs_read_stream(stdin, cap, &d, &n)) {
        int big = errno == EFBIG;
        rules_free(r);
        store_close(s);
        return big ? cli_fail("clip over the size caps, not stored") : cli_fail("stdin: %s", strerror(errno));
    }
    add_stats st = {0};
    st.quiet = 1; /* wl-paste --watch has no use for the id */
    st.rules = r;
    st.flags = INGEST_CAPTURED; /* captured: ignore rules, secret policy, retention */
    int rc = add_bytes(s, (unsigned char *)d, n, getenv("CLIPSEEK_SOURCE"), type, type, &st, "clip");
    rules_free(r);
    free(d);
    store_close(s);
    return rc;
}

/* ---- output helpers ---- */

static const char *age(int64_t ms, char *buf, size_t n) {
    int64_t d = (store_now_ms() - ms) / 1000;
    if (d < 60)
        snprintf(buf, n, "%llds", (long long)(d < 0 ? 0 : d));
    else if (d < 3600)
        snprintf(buf, n, "%lldm", (long long)d / 60);
    else if (d < 86400)
        snprintf(buf, n, "%lldh", (long long)d / 3600);
    else
        snprintf(buf, n, "%lldd", (long long)d / 86400);
    return buf;
}

static int list_common(int argc, char **argv, int pick) {
    store_query q = {0};
    int json = 0, reveal = 0;
    const char *coll = NULL;
    int64_t dup = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--kind") && i + 1 < argc)
            q.kind = argv[++i];
        else if (!strcmp(argv[i], "--reveal"))
            reveal = 1;
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 1 << 30, &q.limit)) return cli_usage("--limit needs a positive number");
        } else if (!strcmp(argv[i], "--pinned"))
            q.pinned_only = 1;
        else if (!strcmp(argv[i], "--collection") && i + 1 < argc)
            coll = argv[++i];
        else if (!strcmp(argv[i], "--category") && i + 1 < argc)
            q.category = argv[++i];
        else if (!strcmp(argv[i], "--duplicates-of") && i + 1 < argc) {
            if (parse_id(argv[++i], &dup)) return cli_usage("--duplicates-of needs an entry id");
        } else if (!pick && !strcmp(argv[i], "--json"))
            json = 1;
        else
            return cli_usage("%s: unexpected argument '%s'", argv[0], argv[i]);
    }
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    store_entry *es;
    size_t n;
    cs_err e;
    if (coll && store_collection_find(s, coll, &q.collection, &e)) {
        store_close(s);
        return cli_fail_err(&e);
    }
    if (store_list(s, &q, &es, &n, &e)) {
        store_close(s);
        return cli_fail_err(&e);
    }
    if (dup) { /* the group of an entry: those whose group is it, or its own group */
        store_entry g;
        int64_t root = dup;
        if (store_get(s, dup, &g, &e) == 0 && g.dup_of) root = g.dup_of;
        store_entry_free(&g);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (es[i].id == root || es[i].dup_of == root)
                es[k++] = es[i];
            else
                store_entry_free(&es[i]);
        }
        n = k;
    }
    json_t *arr = json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        int masked = !reveal && secrets_mask_entry(&es[i]);
        if (json) {
            json_t *o = store_entry_json(&es[i]);
            if (masked) secrets_mask_json(o, &es[i]);
            json_array_append_new(arr, o);
        } else {
            char *pv = store_preview(&es[i], pick ? 120 : 80);
            char ab[32];
            if (pick)
                printf("%lld\t%s\n", (long long)es[i].id, pv ? pv : "");
            else
                printf("%6lld  %-7s %4s %s%s\n", (long long)es[i].id, es[i].subkind ? es[i].subkind : es[i].kind,
                       age(es[i].last_ms, ab, sizeof ab), es[i].pinned ? "* " : "", pv ? pv : "");
            free(pv);
        }
        store_entry_free(&es[i]);
    }
    if (json) {
        cli_print_json(arr);
        json_decref(arr);
    }
    free(es);
    store_close(s);
    return fflush(stdout) == 0 ? CLI_OK : cli_fail("writing stdout: %s", strerror(errno));
}

int cmd_list(int argc, char **argv) { return list_common(argc, argv, 0); }
int cmd_pick(int argc, char **argv) { return list_common(argc, argv, 1); }

/* Opens the store and reads entry argv[1]; prints the error itself. */
static int get_entry(int argc, char **argv, store **s, store_entry *e) {
    int64_t id;
    if (argc < 2 || parse_id(argv[1], &id)) return cli_usage("%s: expected an entry id", argv[0]);
    if (!(*s = cli_open_store())) return CLI_FAIL;
    cs_err err;
    if (store_get(*s, id, e, &err)) {
        store_close(*s);
        return cli_fail_err(&err);
    }
    return CLI_OK;
}

/* prints label and s made fit for a terminal (cs_utf8_printable): clip content, source names,
 * tags and OCR text may hold escape sequences and bidi overrides */
static void show_line(const char *label, const char *s) {
    char *p = cs_utf8_printable(s ? s : "-");
    printf("%s%s\n", label, p ? p : "");
    free(p);
}

int cmd_show(int argc, char **argv) {
    int json = 0, verbose = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
            verbose = 1;
        else
            return cli_usage("show: expected ID [--json] [-v]");
    }
    store *s = NULL;
    store_entry e;
    int rc = get_entry(argc < 2 ? argc : 2, argv, &s, &e);
    if (rc) return rc;
    if (json) {
        json_t *o = store_entry_json(&e);
        if (e.text) json_object_set_new(o, "text", json_string(e.text));
        cli_print_json(o);
        json_decref(o);
    } else {
        char ab[32], bb[32];
        printf("id       %lld\nkind     %s (%s)\n", (long long)e.id, e.kind, e.mime);
        /* what the organiser made of a text: its kind (url, code, secret...) and language */
        if (e.subkind)
            printf("text     %s%s%s\n", e.subkind, e.lang ? ", " : "", e.lang ? e.lang : "");
        else if (e.lang)
            printf("language %s\n", e.lang);
        printf("size     %lld bytes\n", (long long)e.size);
        if (verbose) printf("sha256   %s\n", e.sha256);
        if (e.width) printf("pixels   %dx%d\n", e.width, e.height);
        show_line("source   ", e.source);
        printf("copied   %lld times, first %s ago, last %s ago\npinned   %s\n", (long long)e.copies,
               age(e.first_ms, ab, sizeof ab), age(e.last_ms, bb, sizeof bb), e.pinned ? "yes" : "no");
        printf("tags    ");
        for (int i = 0; i < e.ntags; i++) {
            char *t = cs_utf8_printable(e.tags[i]);
            printf(" %s", t ? t : "");
            free(t);
        }
        printf("\n");
        if (e.category) printf("category %s (%.0f%%)\n", e.category, e.category_conf * 100);
        if (e.collection) {
            store_collection *cs;
            size_t nc;
            cs_err ce;
            if (store_collections(s, &cs, &nc, &ce) == 0) {
                for (size_t i = 0; i < nc; i++) {
                    if (cs[i].id == e.collection) {
                        char *nm = cs_utf8_printable(cs[i].name);
                        printf("collection %s (%lld)\n", nm ? nm : "", (long long)e.collection);
                        free(nm);
                    }
                    store_collection_free(&cs[i]);
                }
                free(cs);
            }
        }
        if (e.dup_of) printf("near-duplicate of %lld\n", (long long)e.dup_of);
        if (e.ocr_text && *e.ocr_text) show_line("text in image:\n", e.ocr_text);
        if (e.text)
            show_line("\n", e.text);
        else if (verbose) {
            char *p = store_blob_path(s, &e);
            printf("blob     %s\n", p ? p : "-");
            free(p);
        }
    }
    store_entry_free(&e);
    store_close(s);
    return CLI_OK;
}

int cmd_decode(int argc, char **argv) {
    if (argc != 2) return cli_usage("decode: expected ID");
    store *s = NULL;
    store_entry e;
    int rc = get_entry(argc, argv, &s, &e);
    if (rc) return rc;
    unsigned char *d;
    size_t n;
    cs_err err;
    if (store_content(s, &e, &d, &n, &err))
        rc = cli_fail_err(&err);
    else {
        if (fwrite(d, 1, n, stdout) != n || fflush(stdout) != 0) rc = cli_fail("writing stdout: %s", strerror(errno));
        free(d);
    }
    store_entry_free(&e);
    store_close(s);
    return rc;
}

static int for_each_id(int argc, char **argv, int first, int (*fn)(store *, int64_t, void *), void *arg) {
    if (argc <= first) return cli_usage("%s: expected an entry id", argv[0]);
    for (int i = first; i < argc; i++) {
        int64_t id;
        if (parse_id(argv[i], &id)) return cli_usage("%s: '%s' is not an entry id", argv[0], argv[i]);
    }
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    int rc = CLI_OK;
    for (int i = first; i < argc && rc == CLI_OK; i++) {
        int64_t id = 0;
        parse_id(argv[i], &id);
        rc = fn(s, id, arg);
    }
    store_close(s);
    return rc;
}

static int do_pin(store *s, int64_t id, void *arg) {
    cs_err e;
    return store_set_pinned(s, id, *(int *)arg, &e) ? cli_fail_err(&e) : CLI_OK;
}

/* All the ids as one undo step, all or nothing (an unknown id deletes none): they go to the trash,
 * secrets excepted (store_trash). */
int cmd_delete(int argc, char **argv) {
    if (argc < 2) return cli_usage("delete: expected an entry id");
    int64_t *ids = calloc((size_t)argc, sizeof *ids);
    if (!ids) return cli_fail("out of memory");
    for (int i = 1; i < argc; i++)
        if (parse_id(argv[i], &ids[i - 1])) {
            free(ids);
            return cli_usage("delete: '%s' is not an entry id", argv[i]);
        }
    store *s = cli_open_store();
    cs_err e;
    int rc = !s ? CLI_FAIL : store_trash(s, ids, (size_t)argc - 1, NULL, &e) ? cli_fail_err(&e) : CLI_OK;
    store_close(s);
    free(ids);
    return rc;
}
int cmd_pin(int argc, char **argv) {
    int pin = !strcmp(argv[0], "pin");
    return for_each_id(argc, argv, 1, do_pin, &pin);
}

int cmd_tag(int argc, char **argv) {
    int remove = argc == 4 && !strcmp(argv[3], "--remove");
    if (argc != 3 && !remove) return cli_usage("tag: expected ID TAG [--remove]");
    int64_t id;
    if (parse_id(argv[1], &id)) return cli_usage("tag: '%s' is not an entry id", argv[1]);
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    cs_err e;
    int rc = store_tag(s, id, argv[2], !remove, &e) ? cli_fail_err(&e) : CLI_OK;
    store_close(s);
    return rc;
}

static void print_report(const store_report *r, const char *dir, int json) {
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "data_dir", json_string(dir));
        json_object_set_new(o, "entries", json_integer(r->entries));
        json_object_set_new(o, "pinned", json_integer(r->pinned));
        json_object_set_new(o, "bytes", json_integer(r->bytes));
        json_object_set_new(o, "blobs", json_integer(r->blobs));
        json_object_set_new(o, "vectors", json_integer(r->vectors));
        json_object_set_new(o, "missing_blobs", json_integer(r->missing_blobs));
        json_object_set_new(o, "orphan_blobs", json_integer(r->orphan_blobs));
        if (r->integrity_ok >= 0) json_object_set_new(o, "integrity", json_string(r->integrity));
        cli_print_json(o);
        json_decref(o);
        return;
    }
    printf("data dir       %s\nentries        %lld (%lld pinned), %.1f MB\nblobs          %lld\nvectors        %lld\n",
           dir, (long long)r->entries, (long long)r->pinned, r->bytes / 1e6, (long long)r->blobs,
           (long long)r->vectors);
    printf("missing blobs  %lld\norphan blobs   %lld\n", (long long)r->missing_blobs, (long long)r->orphan_blobs);
    if (r->integrity_ok >= 0) printf("integrity      %s\n", r->integrity);
}

int cmd_stats(int argc, char **argv) {
    int json = 0, integrity = !strcmp(argv[0], "check");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--integrity"))
            integrity = 1;
        else
            return cli_usage("%s: unexpected argument '%s'", argv[0], argv[i]);
    }
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    store_report r;
    cs_err e;
    int rc = CLI_OK;
    if (store_check(s, integrity, &r, &e))
        rc = cli_fail_err(&e);
    else {
        print_report(&r, store_dir(s), json);
        if (!strcmp(argv[0], "check") && (r.missing_blobs || r.integrity_ok == 0)) rc = CLI_FAIL;
    }
    store_close(s);
    return rc;
}

int cmd_gc(int argc, char **argv) {
    (void)argv;
    if (argc != 1) return cli_usage("gc takes no arguments");
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    int64_t n = 0;
    cs_err e;
    int64_t m = 0;
    int rc = store_gc(s, &n, &e) || vecindex_compact(s, &m, &e) ? cli_fail_err(&e) : CLI_OK;
    if (!rc)
        printf("removed %lld orphan blobs and thumbnails; compacted %lld search matrices\n", (long long)n,
               (long long)m);
    store_close(s);
    return rc;
}

/* copy ID [--paste [--keys K]]: puts an entry back on the clipboard through wl-copy (Wayland) or
 * xclip (X11), which keep serving it after we exit; --paste also types the paste keystroke into
 * the focused window. Options may come before or after the id. */
int cmd_copy(int argc, char **argv) {
    int paste = 0;
    const char *keys = NULL, *id = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--paste"))
            paste = 1;
        else if (!strcmp(argv[i], "--keys") && i + 1 < argc)
            keys = argv[++i];
        else if (!id && argv[i][0] != '-')
            id = argv[i];
        else
            return cli_usage("copy: expected ID [--paste [--keys ctrl+v]]");
    }
    if (!id || (keys && !paste)) return cli_usage("copy: expected ID [--paste [--keys ctrl+v]]");
    return cli_copy_paste(id, paste, NULL, keys);
}

int cli_copy_paste(const char *id_text, int paste, const struct paste_target *t, const char *keys) {
    char *args[] = {"copy", (char *)id_text, NULL};
    store *s = NULL;
    store_entry e;
    int rc = get_entry(2, args, &s, &e);
    if (rc) return rc;
    cs_err err;
    if (paste_entry(s, &e, &err) || (paste && paste_keys(t, keys, &err))) rc = cli_fail_err(&err);
    store_entry_free(&e);
    store_close(s);
    return rc;
}
