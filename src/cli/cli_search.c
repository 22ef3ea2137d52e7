/* cli_search: `clipseek search` and `clipseek similar` (search.h has the ranking). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ipc/ipc_search.h"
#include "../index/indexer.h"
#include "../model/clip.h"
#include "../model/stmodel.h"
#include "../search/search.h"
#include "../search/search_json.h"
#include "../search/search_model.h"
#include "../store/store.h"
#include "../common/cs_file.h"
#include "cli.h"

/* "90s", "30m", "2h", "3d", "1w", or plain seconds: that long ago, in Unix ms. */
static int parse_since(const char *s, int64_t *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0) return -1;
    long long mul = 1;
    if (!strcmp(end, "") || !strcmp(end, "s"))
        mul = 1;
    else if (!strcmp(end, "m"))
        mul = 60;
    else if (!strcmp(end, "h"))
        mul = 3600;
    else if (!strcmp(end, "d"))
        mul = 86400;
    else if (!strcmp(end, "w"))
        mul = 604800;
    else
        return -1;
    *out = store_now_ms() - v * mul * 1000;
    return 0;
}

typedef struct opened {
    clip_ctx *c;
    char *model_id;
    stm_ctx *tm;
    stm_ctx *em; /* the text embedder (its own space), or NULL */
    char *em_id;
    search_embedder emb;
} opened;

/* Loads the model in use; a store without a model gives {0}. */
static int open_model(store *s, const char *opt, opened *o) {
    memset(o, 0, sizeof *o);
    char *dir = cli_model_dir(s, opt);
    if (!dir) return CLI_OK;
    cs_err e;
    int rc = CLI_OK;
    if (!(o->model_id = index_model_id(dir, &e)) || cli_clip_load(dir, cli_threads, &o->c, &e))
        rc = cli_fail_err(&e);
    else if (cli_text_query_model(s, &o->tm, &e))
        rc = cli_fail_err(&e); /* queries through a text model into CLIP's space */
    else if (cli_text_embedder(s, &o->em, &o->em_id, &e))
        rc = cli_fail_err(&e); /* the text embedder's space (docs/text-models.md) */
    o->emb = (search_embedder){o->em, o->em_id, NULL};
    free(dir);
    return rc;
}

static void close_model(opened *o) {
    clip_free(o->c);
    stm_free(o->tm);
    stm_free(o->em);
    free(o->em_id);
    free(o->model_id);
}

enum { OUT_HUMAN, OUT_JSON, OUT_TSV, OUT_REVEAL = 8 /* a flag: secrets unmasked (--reveal) */ };

/* Prints the hits; "no matches" (exit status 1, as grep) when there are none. */
static int print_hits(store *s, const search_hit *h, size_t n, int fmt, const char *query) {
    int reveal = fmt & OUT_REVEAL;
    fmt &= ~OUT_REVEAL;
    json_t *arr = fmt == OUT_JSON ? json_array() : NULL;
    /* one snapshot and one WAL read lock for all the hits' rows, not a lock and unlock per row */
    int rt = store_read_begin(s, NULL);
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
            snprintf(how, sizeof how, "%s%s%s", why ? why : "recent", (h[i].signals & SEARCH_TEXT) && m ? ":" : "",
                     (h[i].signals & SEARCH_TEXT) && m ? m : "");
            if ((h[i].signals & SEARCH_TEXT) && (h[i].signals & SEARCH_MEANING))
                strncat(how, "+means", sizeof how - strlen(how) - 1);
            printf("%6lld  %-5s %.4f %-16s %s\n", (long long)e.id, e.kind, h[i].score, how, pv ? pv : "");
            free(pv);
        }
        store_entry_free(&e);
    }
    if (rt == 1) store_read_end(s);
    if (fmt == OUT_JSON) {
        cli_print_json(arr);
        json_decref(arr);
    }
    if (!n && fmt == OUT_HUMAN) fprintf(stderr, "clipseek: no matches\n");
    return n ? CLI_OK : CLI_FAIL;
}

/* Prints hits (freeing them), after the warning search left in q, if any. */
static int print_result(store *s, const search_query *q, search_hit *h, size_t n, int fmt) {
    if (q->warning[0]) fprintf(stderr, "clipseek: %s\n", q->warning); /* e.g. index out of date: disk full */
    int rc = print_hits(s, h, n, fmt, q->text);
    free(h);
    return rc;
}

/* Searches with the model in o (if any) and prints the hits; the common tail of search and
 * similar. */
static int run_and_print(store *s, const opened *o, search_query *q, const char *image, int fmt) {
    search_hit *h;
    size_t n;
    cs_err e;
    if (search_with_models(s, o->c, o->tm, o->model_id, o->em ? &o->emb : NULL, q, image, &h, &n, NULL, &e))
        return cli_fail_err(&e);
    return print_result(s, q, h, n, fmt);
}

/* Asks a running daemon (which has the model loaded) to search. Returns CLI_OK/CLI_FAIL, or -1
 * when no daemon answers, so the caller searches itself. */
static int search_via_daemon(store *s, search_query *q, int fmt) {
    search_hit *h;
    size_t n;
    cs_err e;
    int r = ipc_search(store_dir(s), q, &h, &n, &e);
    if (r == 1) return -1;
    return r ? cli_fail_err(&e) : print_result(s, q, h, n, fmt);
}

int cmd_search(int argc, char **argv) {
    search_query q = {0};
    q.limit = 20;
    const char *model = NULL, *image = NULL, *text = NULL, *coll = NULL;
    int json = OUT_HUMAN, reveal = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--kind") && i + 1 < argc)
            q.kind = argv[++i];
        else if (!strcmp(argv[i], "--since") && i + 1 < argc) {
            if (parse_since(argv[++i], &q.since_ms)) return cli_usage("--since takes 30m, 2h, 3d, 1w or seconds");
        } else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 100000, &q.limit)) return cli_usage("--limit needs a positive number");
        } else if (!strcmp(argv[i], "--json"))
            json = OUT_JSON;
        else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            const char *f = argv[++i];
            if (!strcmp(f, "tsv"))
                json = OUT_TSV;
            else if (!strcmp(f, "json"))
                json = OUT_JSON;
            else if (!strcmp(f, "human"))
                json = OUT_HUMAN;
            else
                return cli_usage("--format is human, json or tsv");
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--image") && i + 1 < argc)
            image = cs_input_path(argv[++i]);
        else if (!strcmp(argv[i], "--collection") && i + 1 < argc)
            coll = argv[++i];
        else if (!strcmp(argv[i], "--category") && i + 1 < argc)
            q.category = argv[++i];
        else if (!strcmp(argv[i], "--reveal"))
            reveal = OUT_REVEAL;
        else if (!strcmp(argv[i], "--") && i + 1 < argc && !text)
            text = argv[++i]; /* a query that starts with - */
        else if (argv[i][0] == '-' && argv[i][1] && !(argv[i][1] >= '0' && argv[i][1] <= '9'))
            return cli_usage("search: unknown option '%s' (a query starting with '-' goes after --)", argv[i]);
        else if (!text)
            text = argv[i];
        else
            return cli_usage("search: one QUERY (quote it), got also '%s'", argv[i]);
    }
    if (!text && !image) return cli_usage("search: expected QUERY or --image FILE");
    json |= reveal;
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    cs_err ce;
    if (coll && store_collection_find(s, coll, &q.collection, &ce)) {
        store_close(s);
        return cli_fail_err(&ce);
    }
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
    if (!rc && image && !o.c) rc = cli_fail("search --image needs a model (`clipseek model use DIR`)");
    if (!rc) {
        q.text = text;
        rc = run_and_print(s, &o, &q, image, json);
    }
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
        } else if (!strcmp(argv[i], "--json"))
            json = OUT_JSON;
        else if (!strcmp(argv[i], "--kind") && i + 1 < argc)
            q.kind = argv[++i];
        else if (!id) {
            char *end;
            id = strtoll(argv[i], &end, 10);
            if (*end || id <= 0) return cli_usage("similar: '%s' is not an entry id", argv[i]);
        } else
            return cli_usage("similar: unexpected argument '%s'", argv[i]);
    }
    if (!id) return cli_usage("similar: expected an entry id");
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    opened o;
    int rc = open_model(s, NULL, &o);
    if (!rc && !o.c) rc = cli_fail("similar needs a model (`clipseek model use DIR`)");
    if (!rc) {
        q.exclude = id;
        rc = run_and_print(s, &o, &q, NULL, json);
    }
    close_model(&o);
    store_close(s);
    return rc;
}
