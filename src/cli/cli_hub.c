/* cli_hub: `model fetch`, `model use`, `model list [--available]`: models from the Hugging Face
 * hub and its cache (src/hub), models in clipseek's own models/ folder, and a short catalogue.
 * The progress bar is drawn here: the hub module only reports progress. */
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cs_file.h"
#include "../hub/hub.h"
#include "../index/indexer.h"
#include "../model/clip.h"
#include "../model/stmodel.h"
#include "../store/store.h"
#include "cli.h"

/* What a CLIP folder may use besides cli_clip_files (cli_common.c). */
static const char *const clip_optional[] = {"preprocessor_config.json", "tokenizer_config.json",
                                            "special_tokens_map.json"};
#define N_CLIP_OPTIONAL 3
/* A sentence-transformers repository (docs/text-models.md): the root holds the Transformer; the
 * hub fetches the module folders modules.json names (1_Pooling, 2_Dense, ...). */
static const char *const st_files[] = {"modules.json", "config.json", "vocab.txt"};
static const char *const st_optional[] = {"config_sentence_transformers.json", "sentence_bert_config.json",
                                          "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};
enum { LAYOUT_CLIP, LAYOUT_ST };
static const hub_layout layouts[] = {
    {"CLIP", cli_clip_files, CLI_N_CLIP_FILES, clip_optional, N_CLIP_OPTIONAL, 0},
    {"sentence-transformers", st_files, 3, st_optional, 5, 1},
};

typedef struct bar {
    char file[256];
    int drawn;
} bar;

static void draw(void *arg, const char *file, uint64_t done, uint64_t total) {
    bar *b = arg;
    if (strcmp(b->file, file)) {
        if (b->drawn) fputc('\n', stderr);
        snprintf(b->file, sizeof b->file, "%s", file);
    }
    b->drawn = 1;
    if (!total) {
        fprintf(stderr, "\r  %-32s %.1f MB", file, done / 1e6);
        return;
    }
    int w = done >= total ? 30 : (int)(30 * done / total);
    fprintf(stderr, "\r  %-32s [%.*s%*s] %5.1f%% of %.1f MB", file, w, "==============================", 30 - w, "",
            100.0 * (double)done / (double)total, total / 1e6);
}

/* Loads a sentence-transformers folder once (the weights are mapped, not read): proves it usable. */
static int validate_st(const char *dir, cs_err *e) {
    bert_params bp = bert_default_params();
    bp.threads = 1;
    stm_ctx *s;
    if (stm_load(dir, &bp, &s, e)) return -1;
    stm_free(s);
    return 0;
}

/* Loads the folder's headers once: proves a fetched or chosen model is usable. */
static int validate(const char *dir, cs_err *e) {
    clip_params cp = clip_default_params();
    cp.threads = 1;
    clip_ctx *c;
    if (clip_load(dir, &cp, &c, e)) return -1;
    clip_free(c);
    return 0;
}

int cli_model_fetch(int argc, char **argv) {
    const char *repo = "openai/clip-vit-base-patch32", *rev = NULL;
    int got_repo = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--revision") && i + 1 < argc)
            rev = argv[++i];
        else if (!got_repo && strncmp(argv[i], "--", 2)) {
            repo = argv[i];
            got_repo = 1;
        } else
            return cli_usage("model fetch: expected [REPO] [--revision R] (a CLIP or sentence-transformers "
                             "repository; default openai/clip-vit-base-patch32)");
    }
    if (!hub_repo_valid(repo)) return cli_usage("model fetch: '%s' is not a repository like org/name", repo);
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    hub_params hp = hub_default_params();
    hp.revision = rev;
    bar b = {{0}, 0};
    if (isatty(2)) {
        hp.progress = draw;
        hp.progress_arg = &b;
    }
    hub_model m;
    cs_err e;
    int rc = CLI_OK;
    char cache[PATH_MAX];
    if (hub_cache_dir(&hp, cache, sizeof cache)) snprintf(cache, sizeof cache, "?");
    fprintf(stderr, "clipseek: fetching %s (revision %s) into the Hugging Face cache %s\n", repo, rev ? rev : "main",
            cache);
    int which = LAYOUT_CLIP;
    int r = hub_fetch_any(repo, layouts, 2, &hp, &m, &which, &e);
    if (b.drawn) fputc('\n', stderr);
    if (r)
        rc = cli_fail_err(&e);
    else {
        fprintf(stderr, "clipseek: %s %s at %s (commit %.12s, %s weights%s)\n", repo,
                m.from_cache ? "was in the cache already" : "downloaded", m.revision, m.commit, m.format,
                which == LAYOUT_ST ? ", a sentence-transformers model" : "");
        if (which == LAYOUT_ST ? validate_st(m.dir, &e) : validate(m.dir, &e))
            rc = cli_fail("%s (%s weights) is in %s, but it is not a usable %s model here: %s", repo, m.format, m.dir,
                          layouts[which].name, e.msg);
        else if (which == LAYOUT_ST)
            fprintf(stderr, "clipseek: use it with `clipseek model use CLIP_MODEL --text-model %s`\n", repo);
    }
    if (rc == CLI_OK && which == LAYOUT_ST) /* a text model never becomes the CLIP model in use */
        printf("%s\n", m.dir);
    else if (rc == CLI_OK) {
        char *cur = NULL;
        store_meta_get(s, "model_dir", &cur, NULL);
        if (!cur) store_meta_set(s, "model_dir", m.dir, NULL); /* the first model becomes the one in use */
        printf("%s\n", m.dir);
        free(cur);
    }
    store_close(s);
    return rc;
}

/* A folder (made absolute) or a repository in the cache (l: what its snapshot must hold). */
static int resolve_model(const char *arg, const hub_layout *l, char *real, size_t n) {
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
        char tmp[PATH_MAX];
        if (!realpath(arg, tmp)) return cli_fail("%s: no such folder", arg);
        snprintf(real, n, "%s", tmp);
        return CLI_OK;
    }
    if (hub_repo_valid(arg)) {
        hub_model m;
        hub_params p = hub_default_params();
        if (hub_cache_lookup_layout(arg, l, &p, &m, NULL) != 0)
            return cli_fail("%s is not in the Hugging Face cache; download it with `clipseek model fetch %s`", arg,
                            arg);
        snprintf(real, n, "%s", m.dir);
        return CLI_OK;
    }
    return cli_fail("%s: no such folder (and not a repository name like org/name)", arg);
}

int cli_model_use(int argc, char **argv) {
    const char *clip_arg = NULL, *text_arg = NULL, *emb_arg = NULL;
    int no_emb = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--text-model") && i + 1 < argc)
            text_arg = argv[++i];
        else if (!strcmp(argv[i], "--text-embedder") && i + 1 < argc && !no_emb)
            emb_arg = argv[++i];
        else if (!strcmp(argv[i], "--no-text-embedder") && !emb_arg)
            no_emb = 1;
        else if (!clip_arg && strncmp(argv[i], "--", 2))
            clip_arg = argv[i];
        else
            clip_arg = NULL, i = argc;
    }
    if (!clip_arg)
        return cli_usage("model use: expected DIR|REPO (a CLIP model) [--text-model DIR|REPO (a sentence-transformers "
                         "text tower into the same space)] [--text-embedder DIR|REPO (a sentence model for a "
                         "second, text-only space) | --no-text-embedder]");
    char real[PATH_MAX + 512], treal[PATH_MAX + 512], ereal[PATH_MAX + 512];
    int rc = resolve_model(clip_arg, &layouts[LAYOUT_CLIP], real, sizeof real);
    if (rc) return rc;
    cs_err e;
    if (validate(real, &e)) return cli_fail_err(&e); /* reads headers, not the weights */
    if (text_arg) {
        if ((rc = resolve_model(text_arg, &layouts[LAYOUT_ST], treal, sizeof treal))) return rc;
        if (cli_text_check_space(treal, real, &e)) return cli_fail_err(&e);
    }
    if (emb_arg) { /* refused before anything is stored: the history and the settings stay as they are */
        if ((rc = resolve_model(emb_arg, &layouts[LAYOUT_ST], ereal, sizeof ereal))) return rc;
        if (cli_text_check_embedder(ereal, &e)) return cli_fail_err(&e);
    }
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    /* the dtype goes with the model choice: --dtype stores it, none stores the default; another
     * folder's vectors are all made anew, so an older store's F32 (index_store_dtype) ends there */
    char *old = NULL;
    store_meta_get(s, "model_dir", &old, NULL);
    int moved = !old || strcmp(old, real);
    free(old);
    rc = (moved && store_meta_set(s, "default_dtype", NULL, &e)) || store_meta_set(s, "model_dir", real, &e) ||
                 store_meta_set(s, "model_dtype", cli_dtype ? clip_dtype_name(cli_dtype) : NULL, &e)
             ? cli_fail_err(&e)
             : CLI_OK;
    /* a text model belongs to the CLIP model it was checked against: a new `model use` without one
     * goes back to CLIP's own text tower */
    if (!rc && store_meta_set(s, "text_model_dir", text_arg ? treal : NULL, &e)) rc = cli_fail_err(&e);
    /* the text embedder has a space of its own: it stays across CLIP model switches unless
     * replaced or removed (docs/text-models.md) */
    if (!rc && (emb_arg || no_emb) && store_meta_set(s, "text_embedder_dir", emb_arg ? ereal : NULL, &e))
        rc = cli_fail_err(&e);
    if (!rc && cli_dtype)
        printf("using %s (%s weights)\n", real, clip_dtype_name(cli_dtype));
    else if (!rc) { /* what applies without --dtype: the towers' default, or an older store's F32 */
        int dt = index_store_dtype(s, real);
        printf("using %s (%s weights, %s)\n", real, clip_dtype_name(dt ? dt : clip_dtype_default(0)),
               dt ? "as this store's vectors were made; --dtype to change" : "the default");
    }
    if (!rc && text_arg) printf("queries embedded by %s\n", treal);
    if (!rc && emb_arg) printf("text clips and queries also embedded by %s (its own space)\n", ereal);
    if (!rc && no_emb) printf("no text embedder\n");
    store_close(s);
    return rc;
}

/* The catalogue: CLIPModel-format repositories this engine runs. Numbers are ImageNet-1k
 * zero-shot top-1 as their sources state them; sizes are float32 weights (4 bytes a parameter). */
typedef struct entry {
    const char *repo, *size, *speed, *imagenet, *note;
} entry;
static const entry catalogue[] = {
    {"openai/clip-vit-base-patch32", "605 MB", "1x: 49 patches", "63.2% [1]", "the default; ViT-B/32, quick_gelu"},
    {"laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "605 MB", "1x: same shape", "66.6% [2]",
     "same cost as the default, better; gelu"},
    {"openai/clip-vit-base-patch16", "599 MB", "~4x: 196 patches", "68.3% [2]", "best here, slowest (68.6% in [1])"},
    {"wkcn/TinyCLIP-ViT-40M-32-Text-19M-LAION400M", "~240 MB", "3.5 GMACs [3]", "59.8% [3]", "smaller, close to B/32"},
    {"wkcn/TinyCLIP-ViT-8M-16-Text-3M-YFCC15M", "~45 MB", "2.0 GMACs [3]", "41.1% [3]", "the smallest; weak"},
};

static int list_available(void) {
    printf("%-46s %-8s %-17s %-10s %s\n", "REPO", "SIZE", "SPEED (image)", "IMAGENET", "NOTES");
    for (size_t i = 0; i < sizeof catalogue / sizeof *catalogue; i++) {
        const entry *c = &catalogue[i];
        hub_model m;
        int cached = cli_hub_cached(c->repo, &m) == 0;
        printf("%-46s %-8s %-17s %-10s %s%s\n", c->repo, c->size, c->speed, c->imagenet, c->note,
               cached ? " (cached)" : "");
    }
    printf("\nIMAGENET: zero-shot top-1 on ImageNet-1k. SIZE: float32 weights. SPEED: patches per image (the vision\n"
           "tower's cost grows with them) or multiply-accumulates per image-text pair.\n"
           "[1] Radford et al., Learning Transferable Visual Models From Natural Language Supervision (CLIP), 2021\n"
           "[2] OpenCLIP README, github.com/mlfoundations/open_clip (its own measurement of each checkpoint)\n"
           "[3] TinyCLIP model cards, huggingface.co/wkcn/TinyCLIP-* (\"Model Zoo\" table)\n"
           "Fetch one with `clipseek model fetch REPO`.\n");
    return CLI_OK;
}

/* Prints the Hugging Face cache's CLIP snapshots (main, or a conversion pull request). */
static void list_cache(const char *cur, int *shown_cur) {
    char cache[PATH_MAX];
    hub_params hp = hub_default_params();
    if (hub_cache_dir(&hp, cache, sizeof cache)) return;
    DIR *d = opendir(cache);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strncmp(de->d_name, "models--", 8)) continue;
        char repo[300];
        const char *name = de->d_name + 8, *sep = strstr(name, "--");
        if (!sep) continue;
        snprintf(repo, sizeof repo, "%.*s/%s", (int)(sep - name), name, sep + 2);
        hub_model m;
        if (!hub_repo_valid(repo) || cli_hub_cached(repo, &m)) continue;
        int is_cur = cur && !strcmp(cur, m.dir);
        *shown_cur |= is_cur;
        printf("%s %s  (%s at %s, %s)\n", is_cur ? "*" : " ", m.dir, repo, m.revision, m.format);
    }
    if (d) closedir(d);
}

int cli_model_list(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[2], "--available")) return list_available();
    if (argc != 2) return cli_usage("model list: expected no argument or --available");
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    char *cur = cli_model_dir(s, NULL);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/models", store_dir(s));
    DIR *d = opendir(p);
    int shown_cur = 0;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.') continue;
            char full[PATH_MAX + 256];
            snprintf(full, sizeof full, "%s/%s", p, de->d_name);
            int is_cur = cur && !strcmp(cur, full);
            shown_cur |= is_cur;
            printf("%s %s\n", is_cur ? "*" : " ", full);
        }
        closedir(d);
    }
    list_cache(cur, &shown_cur);
    if (cur && !shown_cur) printf("* %s\n", cur);
    if (!cur) fprintf(stderr, "clipseek: no model in use (see `clipseek model list --available`)\n");
    free(cur);
    store_close(s);
    return CLI_OK;
}

void cli_model_origin(const char *dir, int json) {
    hub_model m;
    int hub = hub_origin(dir, &m) == 0;
    if (json) {
        json_t *o = hub ? json_pack("{s:s,s:s,s:s,s:s}", "repo", m.repo, "revision", m.revision, "commit", m.commit,
                                    "format", m.format)
                        : NULL;
        char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
        printf(",\n \"source\": %s", t ? t : "null");
        free(t);
        json_decref(o);
    } else if (hub)
        printf("source         %s at %s (commit %s, %s weights; Hugging Face cache)\n", m.repo, m.revision, m.commit,
               m.format);
    else
        printf("source         a local folder (not from the Hugging Face cache)\n");
}
