/* cli_search: `clipseek search` and `clipseek similar` (search.h has the ranking). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../capture/secrets.h"
#include "../ipc/ipc_search.h"
#include "../index/indexer.h"
#include "../model/clip.h"
#include "../model/stmodel.h"
#include "../search/search.h"
#include "../search/search_cmd.h"
#include "../search/search_model.h"
#include "../store/store.h"
#include "../common/cs_file.h"
#include "cli.h"

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

/* Prints the hits (freeing them) as `clipseek search` does: search_cmd_print, secrets masked. */
static int print_result(store *s, const search_cmd *c, const search_query *q, search_hit *h, size_t n) {
    int rc = search_cmd_print(stdout, stderr, s, c, q, h, n, secrets_mask_entry, secrets_mask_json);
    free(h);
    return rc;
}

/* Searches with the model in o (if any) and prints the hits; the common tail of search and
 * similar. */
static int run_and_print(store *s, const opened *o, const search_cmd *c, search_query *q, const char *image) {
    search_hit *h;
    size_t n;
    cs_err e;
    if (search_with_models(s, o->c, o->tm, o->model_id, o->em ? &o->emb : NULL, q, image, &h, &n, NULL, &e))
        return cli_fail_err(&e);
    return print_result(s, c, q, h, n);
}

/* Asks a running daemon (which has the model loaded) to search. Returns CLI_OK/CLI_FAIL, or -1
 * when no daemon answers, so the caller searches itself. */
static int search_via_daemon(store *s, const search_cmd *c, search_query *q) {
    search_hit *h;
    size_t n;
    cs_err e;
    int r = ipc_search(store_dir(s), q, &h, &n, &e);
    if (r == 1) return -1;
    return r ? cli_fail_err(&e) : print_result(s, c, q, h, n);
}

int cmd_search(int argc, char **argv) {
    search_cmd c;
    size_t mn = 200; /* room for the message and the longest word it may quote */
    for (int i = 1; i < argc; i++) mn = strlen(argv[i]) + 200 > mn ? strlen(argv[i]) + 200 : mn;
    char *msg = malloc(mn);
    if (!msg) return cli_fail("out of memory");
    const char *bad = search_cmd_parse(argc, argv, &c, msg, mn);
    if (bad) {
        int rc = cli_usage("%s", bad);
        free(msg);
        return rc;
    }
    free(msg);
    search_query q = c.q;
    const char *image = c.image ? cs_input_path(c.image) : NULL, *text = c.text;
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    cs_err ce;
    if (c.coll && store_collection_find(s, c.coll, &q.collection, &ce)) {
        store_close(s);
        return cli_fail_err(&ce);
    }
    if (!c.model && !image && q.limit <= 1000 && !getenv("CLIPSEEK_NO_DAEMON")) {
        q.text = text;
        int r = search_via_daemon(s, &c, &q);
        if (r >= 0) {
            store_close(s);
            return r;
        }
    }
    opened o;
    int rc = open_model(s, c.model, &o);
    if (!rc && image && !o.c) rc = cli_fail("search --image needs a model (`clipseek model use DIR`)");
    if (!rc) {
        q.text = text;
        rc = run_and_print(s, &o, &c, &q, image);
    }
    close_model(&o);
    store_close(s);
    return rc;
}

int cmd_similar(int argc, char **argv) {
    search_query q = {0};
    q.limit = 20;
    search_cmd c = {0}; /* its output: human or JSON, secrets masked */
    int64_t id = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 100000, &q.limit)) return cli_usage("--limit needs a positive number");
        } else if (!strcmp(argv[i], "--json"))
            c.format = SEARCH_OUT_JSON;
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
        rc = run_and_print(s, &o, &c, &q, NULL);
    }
    close_model(&o);
    store_close(s);
    return rc;
}
