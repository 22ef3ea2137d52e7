/* cli_index: running the index worker in the foreground, and choosing the model.
 *
 * The model in use is, in order: --model DIR, $CLIPSEEK_MODEL, the folder recorded by
 * `clipseek model use`, then <data dir>/models/openai--clip-vit-base-patch32 if present, then
 * openai/clip-vit-base-patch32 in the Hugging Face cache. */
#include <dirent.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cs_file.h"
#include "../index/indexer.h"
#include "../hub/hub.h"
#include "../model/clip.h"
#include "../store/store.h"
#include "cli.h"

#define DEFAULT_REPO "openai--clip-vit-base-patch32"

char *cli_model_dir(store *s, const char *opt) {
    if (opt) return strdup(opt);
    const char *e = getenv("CLIPSEEK_MODEL");
    if (e && *e) return strdup(e);
    char *v = NULL;
    if (s && store_meta_get(s, "model_dir", &v, NULL) == 0 && v) {
        char *dt = NULL; /* the dtype `model use` stored with it, unless --dtype says otherwise */
        if (cli_dtype == CLIP_DTYPE_DEFAULT && store_meta_get(s, "model_dtype", &dt, NULL) == 0 && dt)
            clip_dtype_parse(dt, &cli_dtype, NULL); /* an unknown value leaves the default */
        free(dt);
        return v;
    }
    if (!s) return NULL;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/models/%s", store_dir(s), DEFAULT_REPO);
    char *cfg = cs_path_join(p, "config.json");
    int ok = cfg && cs_is_file(cfg);
    free(cfg);
    if (ok) return strdup(p);
    hub_model m; /* else the default model from the Hugging Face cache, if there */
    return cli_hub_cached("openai/clip-vit-base-patch32", &m) == 0 ? strdup(m.dir) : NULL;
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
        if (!quiet) cli_fail("no model: use `clipseek model use DIR` or --model DIR (capture and full text work without one)");
        return CLI_FAIL;
    }
    cs_err e;
    char *id = index_model_id(dir, &e);
    if (!id) { free(dir); return cli_fail("%s", e.msg); }
    clip_ctx *c;
    if (cli_clip_load(dir, cli_threads, &c, &e)) { free(dir); free(id); return cli_fail("%s", e.msg); }
    index_stats st;
    int rc = index_run(s, c, id, 0, &st, quiet ? NULL : progress, NULL, &e) ? cli_fail("%s", e.msg) : CLI_OK;
    if (!quiet && isatty(2)) fputc('\n', stderr);
    if (rc == CLI_OK) {
        int64_t dropped = 0;
        store_drop_other_vectors(s, id, &dropped, NULL); /* everything has this model's vectors now */
        if (!quiet)
            fprintf(stderr, "clipseek: indexed %lld entries (%lld vectors, %lld could not be embedded) with %s\n",
                    (long long)st.embedded, (long long)st.windows, (long long)st.failed, id);
        /* categories, duplicates and collections come with the vectors (OCR: daemon, organize) */
        rc = cli_organise(s, c, id, 0, 1);
    }
    clip_free(c);
    free(dir);
    free(id);
    return rc;
}

int cmd_index(int argc, char **argv) {
    const char *model = NULL;
    int wait = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--wait")) wait = 1;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else return cli_usage("index: unexpected argument '%s'", argv[i]);
    }
    /* a running daemon already has the model loaded: let it do the work */
    if (wait && !model) {
        int r = cli_daemon_index_wait();
        if (r >= 0) return r;
    }
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    int rc = cli_index_all(s, model, 0);
    store_close(s);
    return rc;
}
