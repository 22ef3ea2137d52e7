/* test_hub: the Hugging Face cache side of src/hub, no network: names that become paths are
 * validated, a cache laid out as huggingface_hub writes it is found (and a conversion pull request
 * preferred to a .bin-only main), incomplete snapshots are not, and a snapshot's origin is read
 * back from its path. (Downloads: tests/fetch_test.sh against tests/hf_server.py.) */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/hub/hub.h"
#include "../src/hub/hub_int.h"

static const char *const files[] = {"config.json"};

static void put(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* A snapshot as huggingface_hub makes it: blob files, relative links, a ref. */
static void snapshot(const char *rdir, const char *ref, const char *commit, const char *const *names, int n) {
    char p[PATH_MAX], t[PATH_MAX];
    snprintf(p, sizeof p, "mkdir -p '%s/blobs' '%s/snapshots/%s' \"$(dirname '%s/refs/%s')\"", rdir, rdir, commit, rdir, ref);
    cr_assert_eq(system(p), 0);
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/blobs/%s%d", rdir, commit, i);
        put(p, "{}");
        snprintf(p, sizeof p, "%s/snapshots/%s/%s", rdir, commit, names[i]);
        snprintf(t, sizeof t, "../../blobs/%s%d", commit, i);
        cr_assert_eq(symlink(t, p), 0);
    }
    snprintf(p, sizeof p, "%s/refs/%s", rdir, ref);
    put(p, commit);
}

static char cache[64];
static void mk_cache(void) {
    snprintf(cache, sizeof cache, "/tmp/clipseek-test-hub-XXXXXX");
    cr_assert_not_null(mkdtemp(cache));
}
static void rm_cache(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
    cr_assert_eq(system(cmd), 0);
}

Test(hub, names_that_become_paths_are_checked) {
    cr_assert(hub_repo_valid("openai/clip-vit-base-patch32"));
    cr_assert(hub_repo_valid("laion/CLIP-ViT-B-32-laion2B-s34B-b79K"));
    cr_assert_not(hub_repo_valid("notarepo"));
    cr_assert_not(hub_repo_valid("a/b/c"));
    cr_assert_not(hub_repo_valid("../x"));
    cr_assert_not(hub_repo_valid("a/.."));
    cr_assert_not(hub_repo_valid("/abs"));
    cr_assert_not(hub_repo_valid("a/b c"));
    cr_assert(hub_revision_valid("main"));
    cr_assert(hub_revision_valid("refs/pr/66"));
    cr_assert(hub_revision_valid("0123456789abcdef0123456789abcdef01234567"));
    cr_assert_not(hub_revision_valid("../../etc"));
    cr_assert_not(hub_revision_valid("refs/../../x"));
    cr_assert_not(hub_revision_valid("/etc/passwd"));
    cr_assert_not(hub_revision_valid("refs/pr/"));
    cr_assert_not(hub_revision_valid(""));
}

Test(hub, cache_folder_follows_the_environment) {
    char b[PATH_MAX];
    hub_params p = {0};
    setenv("HF_HUB_CACHE", "/x/hub-cache", 1);
    setenv("HF_HOME", "/y/home", 1);
    cr_assert_eq(hub_cache_dir(&p, b, sizeof b), 0);
    cr_assert_str_eq(b, "/x/hub-cache");
    unsetenv("HF_HUB_CACHE");
    unsetenv("HUGGINGFACE_HUB_CACHE");
    cr_assert_eq(hub_cache_dir(&p, b, sizeof b), 0);
    cr_assert_str_eq(b, "/y/home/hub");
    unsetenv("HF_HOME");
    setenv("XDG_CACHE_HOME", "/z", 1);
    cr_assert_eq(hub_cache_dir(&p, b, sizeof b), 0);
    cr_assert_str_eq(b, "/z/huggingface/hub");
    p.cache_dir = "/given";
    cr_assert_eq(hub_cache_dir(&p, b, sizeof b), 0);
    cr_assert_str_eq(b, "/given");
    setenv("HF_HUB_OFFLINE", "TRUE", 1);
    cr_assert_eq(hub_default_params().offline, 1);
    setenv("HF_HUB_OFFLINE", "0", 1);
    cr_assert_eq(hub_default_params().offline, 0);
}

Test(hub, lookup_prefers_the_conversion_pr_and_skips_incomplete_snapshots, .init = mk_cache, .fini = rm_cache) {
    char rdir[256];
    snprintf(rdir, sizeof rdir, "%s/models--openai--clip-vit-base-patch32", cache);
    hub_params p = {0};
    p.cache_dir = cache;
    hub_model m;
    cr_assert_eq(hub_cache_lookup("openai/clip-vit-base-patch32", files, 1, &p, &m, NULL), 1, "empty cache");

    const char *main_files[] = {"config.json", "pytorch_model.bin"};
    const char *main_c = "1111111111111111111111111111111111111111";
    snapshot(rdir, "main", main_c, main_files, 2);
    cr_assert_eq(hub_cache_lookup("openai/clip-vit-base-patch32", files, 1, &p, &m, NULL), 0);
    cr_assert_str_eq(m.format, "pytorch");
    cr_assert_str_eq(m.commit, main_c);

    /* a conversion pull request with model.safetensors wins over the .bin on main */
    const char *pr_files[] = {"config.json", "model.safetensors"};
    const char *pr_c = "2222222222222222222222222222222222222222";
    snapshot(rdir, "refs/pr/66", pr_c, pr_files, 2);
    cr_assert_eq(hub_cache_lookup("openai/clip-vit-base-patch32", files, 1, &p, &m, NULL), 0);
    cr_assert_str_eq(m.format, "safetensors");
    cr_assert_str_eq(m.revision, "refs/pr/66");
    cr_assert_str_eq(m.commit, pr_c);
    cr_assert(m.from_cache);

    /* a required file missing: not found */
    const char *const need[] = {"config.json", "vocab.json"};
    cr_assert_eq(hub_cache_lookup("openai/clip-vit-base-patch32", need, 2, &p, &m, NULL), 1);

    /* an index whose shard is missing is not complete weights */
    const char *sh_files[] = {"config.json", "model.safetensors.index.json"};
    const char *sh_c = "3333333333333333333333333333333333333333";
    char rdir2[256], idx[512];
    snprintf(rdir2, sizeof rdir2, "%s/models--a--sharded", cache);
    snapshot(rdir2, "main", sh_c, sh_files, 2);
    snprintf(idx, sizeof idx, "%s/blobs/%s1", rdir2, sh_c);
    put(idx, "{\"weight_map\": {\"w\": \"model-00001-of-00001.safetensors\"}}");
    cr_assert_eq(hub_cache_lookup("a/sharded", files, 1, &p, &m, NULL), 1);
    snprintf(idx, sizeof idx, "%s/snapshots/%s/model-00001-of-00001.safetensors", rdir2, sh_c);
    put(idx, "x");
    cr_assert_eq(hub_cache_lookup("a/sharded", files, 1, &p, &m, NULL), 0);
    cr_assert_str_eq(m.format, "safetensors-sharded");

    /* a shard name that is a path is refused, never followed (this one would reach a real file) */
    snprintf(idx, sizeof idx, "%s/blobs/%s1", rdir2, sh_c);
    put(idx, "{\"weight_map\": {\"w\": \"../../blobs/3333333333333333333333333333333333333333" "0\"}}");
    cr_assert_eq(hub_cache_lookup("a/sharded", files, 1, &p, &m, NULL), 1);
}

Test(hub, origin_is_read_from_the_snapshot_path, .init = mk_cache, .fini = rm_cache) {
    char rdir[256], snap[512];
    snprintf(rdir, sizeof rdir, "%s/models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K", cache);
    const char *c = "4444444444444444444444444444444444444444";
    const char *fs[] = {"config.json", "model.safetensors"};
    snapshot(rdir, "main", c, fs, 2);
    snprintf(snap, sizeof snap, "%s/snapshots/%s", rdir, c);
    hub_model m;
    cr_assert_eq(hub_origin(snap, &m), 0);
    cr_assert_str_eq(m.repo, "laion/CLIP-ViT-B-32-laion2B-s34B-b79K");
    cr_assert_str_eq(m.commit, c);
    cr_assert_str_eq(m.revision, "main");
    cr_assert_str_eq(m.format, "safetensors");
    cr_assert_eq(hub_origin(cache, &m), 1, "a plain folder has no hub origin");
}

/* An index's weight_map comes from the network and may name up to 64 MB of entries: 300,000
 * distinct shard names must be read in well under the timeout (a pairwise duplicate check took
 * minutes, and did it again at every cache lookup), in order of first mention, each once. */
Test(hub, index_with_many_shard_names_is_read_quickly, .init = mk_cache, .fini = rm_cache, .timeout = 30) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", cache);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    enum { N = 300000 };
    fprintf(f, "{\"weight_map\": {\"a\": \"s-b\", \"b\": \"s-a\", \"c\": \"s-b\"");
    for (int i = 0; i < N; i++) fprintf(f, ", \"t%d\": \"x%07d\"", i, N - i);
    fprintf(f, "}}");
    cr_assert_eq(fclose(f), 0);
    char **names;
    cs_err e = {0};
    cr_assert_eq(hub_index_shards(path, &names, &e), 0, "%s", e.msg);
    size_t n = 0;
    while (names[n]) n++;
    cr_expect_eq(n, (size_t)N + 2);
    cr_expect_str_eq(names[0], "s-b");
    cr_expect_str_eq(names[1], "s-a");
    cr_expect_str_eq(names[2], "x0300000");
    cr_expect_str_eq(names[n - 1], "x0000001");
    hub_free_names(names);
}

/* Names in a message come from the network or a file (here an index key with a terminal escape
 * that would clear the screen and retitle the terminal, and a bell); main prints the message
 * as-is, so no control character may reach it. */
Test(hub, control_characters_never_reach_a_message, .init = mk_cache, .fini = rm_cache) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", cache);
    put(path, "{\"weight_map\": {\"w\\u001b[2J\\u001b]0;pwned\\u0007\\r\\n\": \"../x\"}}");
    char **names;
    cs_err e = {0};
    cr_assert_eq(hub_index_shards(path, &names, &e), -1);
    cr_expect(strstr(e.msg, "bad shard name"), "%s", e.msg);
    for (const char *c = e.msg; *c; c++)
        cr_expect((unsigned char)*c >= 0x20 && *c != 0x7f, "control byte 0x%02x in '%s'", (unsigned char)*c, e.msg);
    cs_err p = {0};
    cs_err_set(&p, "inner \x1b[31m");
    cs_err_prefix(&p, "outer\a %s", "\x1b]0;x\x07");
    for (const char *c = p.msg; *c; c++) cr_expect((unsigned char)*c >= 0x20 && *c != 0x7f, "prefix: 0x%02x", (unsigned char)*c);
}

/* modules.json comes from the network: its module paths become paths in the cache and in URLs */
Test(hub, module_folders_from_modules_json_are_plain_relative_paths) {
    static const char good[] = "[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
                               " {\"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"},"
                               " {\"path\": \"2_Dense\", \"type\": \"sentence_transformers.models.Dense\"},"
                               " {\"path\": \"3_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"}]";
    char **dirs, *kinds;
    cs_err e;
    cr_assert_eq(hub_module_dirs_parse(good, strlen(good), "modules.json", &dirs, &kinds, &e), 0, "%s", e.msg);
    cr_assert_str_eq(dirs[0], "1_Pooling");
    cr_assert_str_eq(dirs[1], "2_Dense");
    cr_assert_str_eq(dirs[2], "3_Normalize");
    cr_assert_null(dirs[3], "the root (\"\") is not a module folder");
    cr_assert_eq(memcmp(kinds, "odn", 3), 0);
    hub_free_names(dirs);
    free(kinds);
    static const char *const bad[] = {"[{\"path\": \"../x\", \"type\": \"Pooling\"}]",
                                      "[{\"path\": \"/etc\", \"type\": \"Pooling\"}]",
                                      "[{\"path\": \"a/../../b\", \"type\": \"Dense\"}]",
                                      "[{\"path\": \"a//b\", \"type\": \"Dense\"}]",
                                      "[{\"path\": \".hidden\", \"type\": \"Dense\"}]",
                                      "[{\"path\": \"a\\\\b\", \"type\": \"Dense\"}]",
                                      "[{\"type\": \"sentence_transformers.models.Pooling\"}]",
                                      "{\"path\": \"1_Pooling\"}",
                                      "[1]",
                                      "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(hub_module_dirs_parse(bad[i], strlen(bad[i]), "modules.json", &dirs, &kinds, &e), -1, "%s",
                     bad[i]);
        cr_assert_eq(e.code, CS_EINVAL, "%s", bad[i]);
        cr_assert(strstr(e.msg, "modules.json"), "%s", e.msg);
        cr_assert_null(dirs);
    }
    cr_assert(hub_relpath_valid("0_Transformer/sub"));
    static const char *const paths[] = {"", ".", "..", "a/..", "a/", "/a", "a b", "a/.b"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) cr_assert(!hub_relpath_valid(paths[i]), "%s", paths[i]);
}

/* a sentence-transformers snapshot is complete only with every module folder's files */
Test(hub, st_snapshot_needs_its_module_files, .init = mk_cache, .fini = rm_cache) {
    char rdir[256], p[1024];
    snprintf(rdir, sizeof rdir, "%s/models--st--multi", cache);
    static const char *const st_files[] = {"modules.json", "config.json", "vocab.txt"};
    const hub_layout l = {"sentence-transformers", st_files, 3, NULL, 0, 1};
    const char *names[] = {"modules.json", "config.json", "vocab.txt", "model.safetensors"};
    const char *c = "4444444444444444444444444444444444444444";
    snprintf(p, sizeof p, "mkdir -p '%s/snapshots/%s/1_Pooling' '%s/snapshots/%s/2_Dense'", rdir, c, rdir, c);
    cr_assert_eq(system(p), 0);
    snapshot(rdir, "main", c, names, 4);
    snprintf(p, sizeof p, "%s/snapshots/%s/1_Pooling/config.json", rdir, c);
    put(p, "{}");
    snprintf(p, sizeof p, "%s/snapshots/%s/modules.json", rdir, c);
    put(p, "[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
           " {\"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"},"
           " {\"path\": \"2_Dense\", \"type\": \"sentence_transformers.models.Dense\"},"
           " {\"path\": \"3_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"}]");
    hub_params hp = {0};
    hp.cache_dir = cache;
    hub_model m;
    cr_assert_eq(hub_cache_lookup_layout("st/multi", &l, &hp, &m, NULL), 1, "2_Dense/config.json missing");
    snprintf(p, sizeof p, "%s/snapshots/%s/2_Dense/config.json", rdir, c);
    put(p, "{}");
    cr_assert_eq(hub_cache_lookup_layout("st/multi", &l, &hp, &m, NULL), 1, "2_Dense's weights missing");
    snprintf(p, sizeof p, "%s/snapshots/%s/2_Dense/pytorch_model.bin", rdir, c);
    put(p, "x");
    cr_assert_eq(hub_cache_lookup_layout("st/multi", &l, &hp, &m, NULL), 0, "complete: Normalize needs no folder");
    cr_assert_str_eq(m.commit, c);
    /* the same snapshot is no CLIP model */
    static const char *const clip[] = {"config.json", "vocab.json", "merges.txt"};
    const hub_layout cl = {"CLIP", clip, 3, NULL, 0, 0};
    cr_assert_eq(hub_cache_lookup_layout("st/multi", &cl, &hp, &m, NULL), 1);
}
