/* cli_common: the helpers every subcommand shares: messages and exit codes, the data directory
 * and the store, JSON output, choosing the model, and indexing and organising in the foreground
 * (or through a running daemon). It calls no other CLI file but cli_device.c (loading a model),
 * so the subcommand files never call each other in circles.
 *
 * The model in use is, in order: --model DIR, $CLIPSEEK_MODEL, the folder recorded by
 * `clipseek model use`, then <data dir>/models/openai--clip-vit-base-patch32 if present, then
 * openai/clip-vit-base-patch32 in the Hugging Face cache. */
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../capture/secrets.h"
#include "../common/cs_file.h"
#include "../config/rules.h"
#include "../daemon/daemon.h"
#include "../hub/hub.h"
#include "../index/indexer.h"
#include "../model/clip.h"
#include "../organize/organize.h"
#include "../store/store.h"
#include "cli.h"

#define DEFAULT_REPO "openai--clip-vit-base-patch32"

/* What a CLIP folder needs besides the weights (clip_load reads these). */
const char *const cli_clip_files[CLI_N_CLIP_FILES] = {"config.json", "vocab.json", "merges.txt"};

/* "clipseek: <message><tail>" on stderr. */
static void say(const char *fmt, va_list ap, const char *tail) {
    fputs("clipseek: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(tail, stderr);
}

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap, "\n");
    va_end(ap);
    return CLI_FAIL;
}

int cli_fail_err(const cs_err *e) {
    cli_fail("%s", e->msg);
    return cs_err_code_of(e) == CS_EBUSY ? CLI_BUSY : CLI_FAIL;
}

int cli_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap, "\n(see 'clipseek help')\n");
    va_end(ap);
    return CLI_USAGE;
}

int cli_parse_int(const char *s, int lo, int hi, int *out) {
    if (!s || !*s) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

char *cli_data_dir(void) {
    if (cli_data_dir_opt) return strdup(cli_data_dir_opt);
    const char *e = getenv("CLIPSEEK_DATA_DIR");
    if (e && *e) return strdup(e);
    const char *x = getenv("XDG_DATA_HOME");
    char buf[PATH_MAX];
    if (x && *x)
        snprintf(buf, sizeof buf, "%s/clipseek", x);
    else {
        const char *h = getenv("HOME");
        if (!h || !*h) return NULL;
        snprintf(buf, sizeof buf, "%s/.local/share/clipseek", h);
        /* ~/.local/share may not exist yet on a fresh account */
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s/.local", h);
        mkdir(parent, 0700);
        snprintf(parent, sizeof parent, "%s/.local/share", h);
        mkdir(parent, 0700);
    }
    return strdup(buf);
}

store *cli_open_store(void) {
    char *dir = cli_data_dir();
    if (!dir) {
        cli_fail("no data directory: set HOME, XDG_DATA_HOME, CLIPSEEK_DATA_DIR or --data-dir");
        return NULL;
    }
    store *s;
    cs_err e;
    int rc = store_open(dir, &s, &e);
    free(dir);
    if (rc) {
        cli_fail_err(&e);
        return NULL;
    }
    return s;
}

void cli_print_json(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s) puts(s);
    free(s);
}

char *cli_model_dir(store *s, const char *opt) {
    if (opt) return strdup(opt);
    const char *e = getenv("CLIPSEEK_MODEL");
    if (e && *e) return strdup(e);
    char *v = NULL;
    if (s && store_meta_get(s, "model_dir", &v, NULL) == 0 && v) {
        /* the store's dtype (`model use --dtype`, or an older store's), unless --dtype says otherwise */
        if (cli_dtype == CLIP_DTYPE_DEFAULT) cli_dtype = index_store_dtype(s, v);
        return v;
    }
    if (!s) return NULL;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/models/%s", store_dir(s), DEFAULT_REPO);
    char *cfg = cs_path_join(p, "config.json");
    int ok = cfg && cs_is_file(cfg);
    free(cfg);
    hub_model m; /* else the default model from the Hugging Face cache, if there */
    char *d = ok ? strdup(p) : cli_hub_cached("openai/clip-vit-base-patch32", &m) == 0 ? strdup(m.dir) : NULL;
    if (d && cli_dtype == CLIP_DTYPE_DEFAULT) cli_dtype = index_store_dtype(s, d);
    return d;
}

int cli_hub_cached(const char *repo, hub_model *m) {
    hub_params p = hub_default_params();
    return hub_cache_lookup(repo, cli_clip_files, CLI_N_CLIP_FILES, &p, m, NULL) == 0 ? 0 : -1;
}

/* Asks a running daemon to finish indexing. Returns CLI_OK/CLI_FAIL, or -1 if none runs. */
int cli_daemon_index_wait(void) {
    char *dir = cli_data_dir();
    if (!dir) return -1;
    char buf[256];
    int r = daemon_request(dir, "INDEX-WAIT", buf, sizeof buf, 0);
    free(dir);
    if (r == 1) return -1;
    if (r < 0 || strncmp(buf, "OK", 2)) return cli_fail("daemon: %s", r < 0 ? "no answer" : buf);
    fprintf(stderr, "clipseek: the daemon has indexed everything (%s entries this run)\n", buf + 3);
    return CLI_OK;
}

static void progress(const index_stats *st, void *arg) {
    (void)arg;
    if (isatty(2))
        fprintf(stderr, "\rclipseek: indexed %lld entries (%lld vectors), %lld failed", (long long)st->embedded,
                (long long)st->windows, (long long)st->failed);
}

/* Indexes everything missing vectors; used by `index` and `add --wait`. */
int cli_index_all(store *s, const char *model_opt, int quiet) {
    if (!model_opt) {
        int r = cli_daemon_index_wait();
        if (r >= 0) return r;
    }
    char *dir = cli_model_dir(s, model_opt);
    if (!dir) {
        if (!quiet)
            cli_fail("no model: use `clipseek model use DIR` or --model DIR (capture and full text work without one)");
        return CLI_FAIL;
    }
    cs_err e;
    char *id = index_model_id(dir, &e);
    if (!id) {
        free(dir);
        return cli_fail_err(&e);
    }
    clip_ctx *c;
    if (cli_clip_load(dir, cli_threads, &c, &e)) {
        free(dir);
        free(id);
        return cli_fail_err(&e);
    }
    index_stats st;
    int rc = index_run(s, c, id, 0, &st, quiet ? NULL : progress, NULL, &e) ? cli_fail_err(&e) : CLI_OK;
    if (!quiet && isatty(2)) fputc('\n', stderr);
    /* text clips into the text embedder's space too (docs/text-models.md), like the daemon */
    stm_ctx *em = NULL;
    char *em_id = NULL;
    if (rc == CLI_OK && cli_text_embedder(s, &em, &em_id, &e)) rc = cli_fail_err(&e);
    index_stats est = {0};
    if (rc == CLI_OK && em && index_run_text(s, em, em_id, 0, &est, &e)) rc = cli_fail_err(&e);
    if (rc == CLI_OK) {
        int64_t dropped = 0;
        /* everything has this model's vectors now (and the embedder's, which stay) */
        const char *keep[2] = {id, em_id};
        store_drop_vectors_except(s, keep, 2, &dropped, NULL);
        if (!quiet)
            fprintf(stderr, "clipseek: indexed %lld entries (%lld vectors, %lld could not be embedded) with %s\n",
                    (long long)st.embedded, (long long)st.windows, (long long)st.failed, id);
        /* categories, duplicates and collections come with the vectors (OCR: daemon, organize) */
        if (!quiet && em)
            fprintf(stderr, "clipseek: embedded %lld text entries with the text embedder %s\n", (long long)est.embedded,
                    em_id);
        rc = cli_organise(s, c, id, 0, 1);
    }
    stm_free(em);
    free(em_id);
    clip_free(c);
    free(dir);
    free(id);
    return rc;
}

int cli_organise(store *s, clip_ctx *c, const char *model_id, int with_ocr, int quiet) {
    rules *r = NULL;
    organizer *o = NULL;
    cs_err e;
    if (rules_load(NULL, &r, &e) || org_open(r, &o, &e) || (c && org_set_model(o, c, model_id, &e))) {
        org_close(o);
        rules_free(r);
        return cli_fail_err(&e);
    }
    org_stats st = {0};
    int rc = CLI_OK;
    for (;;) {
        org_stats before = st;
        if (org_text_kinds(o, s, 256, &st, &e) || (with_ocr && org_ocr(o, s, 16, &st, &e)) ||
            org_model(o, s, 64, &st, &e)) {
            rc = cli_fail_err(&e);
            break;
        }
        if (st.kinds == before.kinds && st.ocr == before.ocr && st.organised == before.organised) break;
    }
    if (rc == CLI_OK && !quiet)
        fprintf(stderr,
                "clipseek: organised: %lld text kinds, %lld images read, %lld entries (%lld categorised, %lld "
                "near-duplicates,"
                " %lld put in collections, %lld deleted by rules)\n",
                (long long)st.kinds, (long long)st.ocr, (long long)st.organised, (long long)st.categorised,
                (long long)st.duplicates, (long long)st.collected, (long long)st.deleted);
    org_close(o);
    rules_free(r);
    return rc;
}

