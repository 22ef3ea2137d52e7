/* cli_search: `clipseek search` and `clipseek similar` (search.h has the ranking). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../daemon/daemon.h"
#include "../index/indexer.h"
#include "../model/clip.h"
#include "../search/search.h"
#include "../search/search_json.h"
#include "../search/search_neutral.h"
#include "../search/vecindex.h"
#include "../store/store.h"
#include "../common/cs_file.h"
#include "cli.h"

/* "90s", "30m", "2h", "3d", "1w", or plain seconds: that long ago, in Unix ms. */
static int parse_since(const char *s, int64_t *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0) return -1;
    long long mul = 1;
    if (!strcmp(end, "") || !strcmp(end, "s")) mul = 1;
    else if (!strcmp(end, "m")) mul = 60;
    else if (!strcmp(end, "h")) mul = 3600;
    else if (!strcmp(end, "d")) mul = 86400;
    else if (!strcmp(end, "w")) mul = 604800;
    else return -1;
    *out = store_now_ms() - v * mul * 1000;
    return 0;
}

typedef struct opened { clip_ctx *c; char *model_id; vecindex *vi; } opened;

/* Loads the model in use and its search matrix; a store without a model gives {0}. */
static int open_model(store *s, const char *opt, opened *o) {
    memset(o, 0, sizeof *o);
    char *dir = cli_model_dir(s, opt);
    if (!dir) return CLI_OK;
    cs_err e;
    int rc = CLI_OK;
    if (!(o->model_id = index_model_id(dir, &e)) || cli_clip_load(dir, cli_threads, &o->c, &e) || vecindex_open(s, o->model_id, &o->vi, &e))
        rc = cli_fail("%s", e.msg);
    else if (vecindex_stale(o->vi)) /* the results still come, from what was indexed */
        fprintf(stderr, "clipseek: %s\n", vecindex_stale(o->vi));
    free(dir);
    return rc;
}

static void close_model(opened *o) {
    vecindex_close(o->vi);
    clip_free(o->c);
    free(o->model_id);
}

enum { OUT_HUMAN, OUT_JSON, OUT_TSV, OUT_REVEAL = 8 /* a flag: secrets unmasked (--reveal) */ };

/* Prints the hits; "no matches" (exit status 1, as grep) when there are none. */
static int print_hits(store *s, const search_hit *h, size_t n, int fmt, const char *query) {
    int reveal = fmt & OUT_REVEAL;
    fmt &= ~OUT_REVEAL;
    json_t *arr = fmt == OUT_JSON ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        store_entry e;
        if (store_get(s, h[i].id, &e, NULL)) continue;
        /* masked before anything is printed: the matched words come from the masked text too */
        int masked = !reveal && cli_mask_secret(&e);
        if (fmt == OUT_JSON) {
            json_t *o = store_entry_json(&e);
            search_hit_json(o, &h[i], &e, query);
            if (masked) json_object_set_new(o, "masked", json_true());
            json_array_append_new(arr, o);
        } else if (fmt == OUT_TSV) {
            char *line = search_pick_line(&h[i], &e, 200);
            if (line) printf("%s\n", line);
            free(line);
        } else {
            char *pv = store_preview(&e, 80);
            const char *why = search_why(&h[i], !strcmp(e.kind, "image")), *m = search_match_name(h[i].match);
            char how[40];
            snprintf(how, sizeof how, "%s%s%s", why ? why : "recent",
                     (h[i].signals & SEARCH_TEXT) && m ? ":" : "", (h[i].signals & SEARCH_TEXT) && m ? m : "");
            if ((h[i].signals & SEARCH_TEXT) && (h[i].signals & SEARCH_MEANING)) strncat(how, "+means", sizeof how - strlen(how) - 1);
            printf("%6lld  %-5s %.4f %-16s %s\n", (long long)e.id, e.kind, h[i].score, how, pv ? pv : "");
            free(pv);
        }
        store_entry_free(&e);
    }
    if (fmt == OUT_JSON) {
        cli_print_json(arr);
        json_decref(arr);
    }
    if (!n && fmt == OUT_HUMAN) fprintf(stderr, "clipseek: no matches\n");
    return n ? CLI_OK : CLI_FAIL;
}

/* Runs q and prints its hits; the common tail of search and similar. */
static int run_and_print(store *s, const search_query *q, int fmt) {
    search_hit *h;
    size_t n;
    cs_err e;
    if (search_run(s, q, &h, &n, &e)) return cli_fail("%s", e.msg);
    int rc = print_hits(s, h, n, fmt, q->text);
    free(h);
    return rc;
}

/* Asks a running daemon (which has the model loaded) to search. Returns CLI_OK/CLI_FAIL, or -1
 * when no daemon answers, so the caller searches itself. */
static int search_via_daemon(store *s, const search_query *q, int fmt) {
    json_t *req = json_pack("{s:s, s:I, s:i}", "q", q->text, "since_ms", (json_int_t)q->since_ms, "limit", q->limit);
    if (q->kind) json_object_set_new(req, "kind", json_string(q->kind));
    if (q->collection) json_object_set_new(req, "collection", json_integer(q->collection));
    if (q->category) json_object_set_new(req, "category", json_string(q->category));
    char *body = json_dumps(req, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(req);
    if (!body || strlen(body) > 60000) { free(body); return -1; }
    size_t reqlen = strlen(body) + 8;
    char *line = malloc(reqlen), *buf = malloc(1 << 20);
    if (!line || !buf) { free(body); free(line); free(buf); return -1; }
    snprintf(line, reqlen, "SEARCH %s", body);
    free(body);
    int r = daemon_request(store_dir(s), line, buf, 1 << 20, 30000);
    free(line);
    if (r != 0) { free(buf); return -1; }
    json_t *rep = json_loads(buf, 0, NULL), *hits = json_object_get(rep, "hits");
    free(buf);
    if (!json_is_array(hits)) {
        const char *m = json_string_value(json_object_get(rep, "error"));
        int rc = m ? cli_fail("daemon: %s", m) : -1;
        json_decref(rep);
        return rc;
    }
    const char *warn = json_string_value(json_object_get(rep, "warning"));
    if (warn) fprintf(stderr, "clipseek: %s\n", warn); /* e.g. index out of date: disk full */
    size_t n = json_array_size(hits);
    search_hit *h = calloc(n ? n : 1, sizeof *h);
    for (size_t i = 0; h && i < n; i++) {
        json_t *a = json_array_get(hits, i);
        h[i].id = json_integer_value(json_array_get(a, 0));
        h[i].score = json_number_value(json_array_get(a, 1));
        h[i].signals = (int)json_integer_value(json_array_get(a, 2));
        h[i].cosine = (float)json_number_value(json_array_get(a, 3));
        h[i].match = (int)json_integer_value(json_array_get(a, 4));
        h[i].standout = (float)json_number_value(json_array_get(a, 5));
    }
    json_decref(rep);
    int rc = h ? print_hits(s, h, n, fmt, q->text) : cli_fail("out of memory");
    free(h);
    return rc;
}

int cmd_search(int argc, char **argv) {
    search_query q = {0};
    q.limit = 20;
    const char *model = NULL, *image = NULL, *text = NULL, *coll = NULL;
    int json = OUT_HUMAN, reveal = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--kind") && i + 1 < argc) q.kind = argv[++i];
        else if (!strcmp(argv[i], "--since") && i + 1 < argc) {
            if (parse_since(argv[++i], &q.since_ms)) return cli_usage("--since takes 30m, 2h, 3d, 1w or seconds");
        } else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 100000, &q.limit)) return cli_usage("--limit needs a positive number");
        } else if (!strcmp(argv[i], "--json")) json = OUT_JSON;
        else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            const char *f = argv[++i];
            if (!strcmp(f, "tsv")) json = OUT_TSV;
            else if (!strcmp(f, "json")) json = OUT_JSON;
            else if (!strcmp(f, "human")) json = OUT_HUMAN;
            else return cli_usage("--format is human, json or tsv");
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--image") && i + 1 < argc) image = cs_input_path(argv[++i]);
        else if (!strcmp(argv[i], "--collection") && i + 1 < argc) coll = argv[++i];
        else if (!strcmp(argv[i], "--category") && i + 1 < argc) q.category = argv[++i];
        else if (!strcmp(argv[i], "--reveal")) reveal = OUT_REVEAL;
        else if (!text) text = argv[i];
        else return cli_usage("search: one QUERY (quote it), got also '%s'", argv[i]);
    }
    if (!text && !image) return cli_usage("search: expected QUERY or --image FILE");
    json |= reveal;
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    cs_err ce;
    if (coll && store_collection_find(s, coll, &q.collection, &ce)) { store_close(s); return cli_fail("%s", ce.msg); }
    if (!model && !image && q.limit <= 1000 && !getenv("CLIPSEEK_NO_DAEMON")) {
        q.text = text;
        int r = search_via_daemon(s, &q, json);
        if (r >= 0) {
            store_close(s);
            return r;
        }
    }
    opened o;
    int rc = open_model(s, model, &o);
    float *qv = NULL, *neutral = NULL;
    cs_err e;
    if (!rc && o.c) {
        int P = clip_get_info(o.c)->projection_dim;
        qv = malloc((size_t)P * sizeof *qv);
        const char *t = text ? text : "";
        if (!qv) rc = cli_fail("out of memory");
        else if (image ? clip_image_files_embed(o.c, &image, 1, 1, qv, &e) : clip_texts_embed(o.c, &t, 1, 1, qv, &e))
            rc = cli_fail("%s", e.msg);
        else if (!image && search_neutral_embed(o.c, &neutral, &e))
            rc = cli_fail("%s", e.msg);
        else if (vecindex_dim(o.vi) && vecindex_dim(o.vi) != P)
            rc = cli_fail("the search matrix has %d dimensions, the model %d", vecindex_dim(o.vi), P);
    } else if (!rc && image)
        rc = cli_fail("search --image needs a model (`clipseek model use DIR`)");
    if (!rc) {
        q.text = image ? NULL : text;
        q.qvec = qv;
        q.vecs = o.vi;
        q.neutral = neutral;
        q.n_neutral = neutral ? SEARCH_NEUTRAL_N : 0;
        rc = run_and_print(s, &q, json);
    }
    free(qv);
    free(neutral);
    close_model(&o);
    store_close(s);
    return rc;
}

int cmd_similar(int argc, char **argv) {
    search_query q = {0};
    q.limit = 20;
    int json = 0;
    int64_t id = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 100000, &q.limit)) return cli_usage("--limit needs a positive number");
        } else if (!strcmp(argv[i], "--json")) json = OUT_JSON;
        else if (!strcmp(argv[i], "--kind") && i + 1 < argc) q.kind = argv[++i];
        else if (!id) {
            char *end;
            id = strtoll(argv[i], &end, 10);
            if (*end || id <= 0) return cli_usage("similar: '%s' is not an entry id", argv[i]);
        } else return cli_usage("similar: unexpected argument '%s'", argv[i]);
    }
    if (!id) return cli_usage("similar: expected an entry id");
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    opened o;
    int rc = open_model(s, NULL, &o);
    if (!rc && !o.c) rc = cli_fail("similar needs a model (`clipseek model use DIR`)");
    float *qv = NULL;
    cs_err e;
    if (!rc) {
        int P = clip_get_info(o.c)->projection_dim;
        qv = malloc((size_t)P * sizeof *qv);
        int r = qv ? store_get_vector(s, id, o.model_id, 0, qv, P, &e) : -1;
        if (r) rc = cli_fail("entry %lld has no vector yet (run `clipseek index`)", (long long)id);
    }
    if (!rc) {
        q.qvec = qv;
        q.vecs = o.vi;
        q.exclude = id;
        rc = run_and_print(s, &q, json);
    }
    free(qv);
    close_model(&o);
    store_close(s);
    return rc;
}
