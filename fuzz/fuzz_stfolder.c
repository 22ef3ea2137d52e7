/* Fuzz target: the files of a sentence-transformers folder that fuzz_stconfig does not reach,
 * read the way stm_load reads them from disk: modules.json with the module folders it names,
 * 1_Pooling/config.json, 2_Dense/config.json and sentence_bert_config.json. The input is split at
 * NUL bytes into those four files in that order (a missing part: no file). They are written into
 * a folder whose encoder is the tiny-bert-minilm fixture ($CLIPSEEK_FIXTURES, else
 * ../shared/fixtures; linked, not copied), with a Dense weight file of 64 -> 8 plus bias, so a
 * well-formed Dense config loads fully. A folder that loads must embed a text into stm_dim
 * finite numbers. Without the fixture every input is skipped (said once). FUZZ_STFOLDER_VERBOSE=1
 * prints what each input loads as (or why not), for writing seeds. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/model/stmodel.h"

static char dir[64];
static int ready; /* 1 set up, -1 no fixture */

static void cleanup(void) {
    static const char *const files[] = {"config.json",           "vocab.txt",           "model.safetensors",
                                        "tokenizer_config.json", "modules.json",        "sentence_bert_config.json",
                                        "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors"};
    char p[256];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/1_Pooling", dir);
    rmdir(p);
    snprintf(p, sizeof p, "%s/2_Dense", dir);
    rmdir(p);
    rmdir(dir);
}

/* A safetensors file with linear.weight [8, 64] and linear.bias [8], small values. */
static int write_dense(const char *path) {
    char h[256];
    int hl = snprintf(h, sizeof h,
                      "{\"linear.weight\":{\"dtype\":\"F32\",\"shape\":[8,64],\"data_offsets\":[0,2048]},"
                      "\"linear.bias\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[2048,2080]}}");
    while (hl % 8) h[hl++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint64_t len = (uint64_t)hl;
    fwrite(&len, 8, 1, f);
    fwrite(h, 1, (size_t)hl, f);
    for (int i = 0; i < 520; i++) {
        float v = (float)((i * 37) % 19 - 9) / 90.0f;
        fwrite(&v, 4, 1, f);
    }
    return fclose(f);
}

static int setup(void) {
    const char *fx = getenv("CLIPSEEK_FIXTURES");
    char src[4096], real[4096], p[256];
    snprintf(src, sizeof src, "%s/tiny-bert-minilm", fx && *fx ? fx : "../shared/fixtures");
    if (!realpath(src, real)) return -1;
    snprintf(dir, sizeof dir, "/tmp/fuzz-stfolder-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    atexit(cleanup);
    static const char *const linked[] = {"config.json", "vocab.txt", "model.safetensors", "tokenizer_config.json"};
    for (size_t i = 0; i < 4; i++) {
        char s[4200];
        snprintf(s, sizeof s, "%s/%s", real, linked[i]);
        snprintf(p, sizeof p, "%s/%s", dir, linked[i]);
        if (symlink(s, p)) return -1;
    }
    snprintf(p, sizeof p, "%s/1_Pooling", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/2_Dense", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/2_Dense/model.safetensors", dir);
    return write_dense(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ready) {
        ready = setup() == 0 ? 1 : -1;
        if (ready < 0) fprintf(stderr, "fuzz_stfolder: no tiny-bert-minilm fixture: inputs skipped\n");
    }
    if (ready < 0) return 0;
    static const char *const names[] = {"modules.json", "1_Pooling/config.json", "2_Dense/config.json",
                                        "sentence_bert_config.json"};
    const uint8_t *at = data, *end = data + size;
    for (int i = 0; i < 4; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
        if (at > end || (at == end && i)) continue;
        const uint8_t *z = memchr(at, 0, (size_t)(end - at));
        size_t n = z ? (size_t)(z - at) : (size_t)(end - at);
        FILE *f = fopen(p, "wb");
        if (!f) abort();
        if (n) fwrite(at, 1, n, f);
        fclose(f);
        at += n + 1;
    }
    bert_params bp = bert_default_params();
    bp.threads = 1;
    stm_ctx *s;
    cs_err e;
    int r = stm_load(dir, &bp, &s, &e);
    if (getenv("FUZZ_STFOLDER_VERBOSE")) /* for writing seeds: what each input loads as */
        fprintf(stderr, "%s\n", r == 0 ? stm_describe(s) : e.msg);
    if (r == 0) {
        int d = stm_dim(s);
        if (d < 1 || d > 64 * 4) abort();
        float *v = malloc((size_t)d * sizeof *v);
        const char *t = "hello world";
        if (!v) abort();
        if (stm_embed_texts(s, &t, 1, 0, v, &e) == 0)
            for (int i = 0; i < d; i++)
                if (!isfinite(v[i])) abort();
        free(v);
        stm_free(s);
    } else if (!e.msg[0])
        abort(); /* an error always says why */
    return 0;
}
