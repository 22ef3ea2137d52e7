/* cli_organize: `clipseek organize` and `clipseek collections`. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/rules.h"
#include "../index/indexer.h"
#include "../organize/organize.h"
#include "../store/store.h"
#include "cli.h"

/* organize [--no-ocr]: everything the daemon does in the background, now. */
int cmd_organize(int argc, char **argv) {
    int ocr = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-ocr"))
            ocr = 0;
        else
            return cli_usage("organize: unexpected argument '%s'", argv[i]);
    }
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    clip_ctx *c = NULL;
    char *dir = cli_model_dir(s, NULL), *id = NULL;
    cs_err e;
    int rc = CLI_OK;
    if (dir) {
        if (!(id = index_model_id(dir, &e)) || cli_clip_load(dir, cli_threads, &c, &e)) rc = cli_fail_err(&e);
    }
    if (rc == CLI_OK) rc = cli_organise(s, c, id, ocr, 0);
    clip_free(c);
    free(id);
    free(dir);
    store_close(s);
    return rc;
}

static int collections_list(store *s, int json) {
    store_collection *cs;
    size_t n;
    cs_err e;
    if (store_collections(s, &cs, &n, &e)) return cli_fail_err(&e);
    json_t *arr = json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        if (json)
            json_array_append_new(arr, json_pack("{s:I, s:s, s:I, s:b, s:I}", "id", (json_int_t)cs[i].id, "name",
                                                 cs[i].name, "members", (json_int_t)cs[i].members, "user_named",
                                                 cs[i].user_named, "created_ms", (json_int_t)cs[i].created_ms));
        else
            printf("%6lld  %5lld  %s%s\n", (long long)cs[i].id, (long long)cs[i].members, cs[i].name,
                   cs[i].user_named ? "" : " (auto)");
        store_collection_free(&cs[i]);
    }
    free(cs);
    if (json) {
        cli_print_json(arr);
        json_decref(arr);
    }
    return CLI_OK;
}

/* collections [--json] | rename C NAME | merge FROM INTO */
int cmd_collections(int argc, char **argv) {
    /* the arguments first: a usage error must not open (or create) the store */
    if (!(argc == 1 || (argc == 2 && !strcmp(argv[1], "--json")) ||
          (argc == 4 && (!strcmp(argv[1], "rename") || !strcmp(argv[1], "merge")))))
        return cli_usage("collections [--json] | collections rename C NAME | collections merge FROM INTO");
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    int rc;
    cs_err e;
    int64_t a, b;
    if (argc == 1 || (argc == 2 && !strcmp(argv[1], "--json")))
        rc = collections_list(s, argc == 2);
    else if (argc == 4 && !strcmp(argv[1], "rename")) {
        rc = store_collection_find(s, argv[2], &a, &e) || store_collection_rename(s, a, argv[3], 1, &e)
                 ? cli_fail_err(&e)
                 : CLI_OK;
    } else if (argc == 4 && !strcmp(argv[1], "merge")) {
        rc = store_collection_find(s, argv[2], &a, &e) || store_collection_find(s, argv[3], &b, &e) ||
                     store_collection_merge(s, a, b, &e)
                 ? cli_fail_err(&e)
                 : CLI_OK;
    } else
        rc = cli_usage("collections [--json] | collections rename C NAME | collections merge FROM INTO");
    store_close(s);
    return rc;
}
