/* bench_clip: latency of the CLIP towers, in the ONNX Runtime anchor's metrics.
 *
 *   bench_clip [--model DIR] [--threads N] [--keep DIR] [--dtype f32|f16|q8] [--fidelity N]
 *
 * Without --model it writes a ViT-B/32-shaped checkpoint (vision 768 wide, 12 layers, 12 heads,
 * patch 32 at 224 px; text 512 wide, 12 layers, 8 heads; projection 512) with random weights to a
 * temporary folder, so no download is needed: speed does not depend on the values. It then times,
 * after one warm-up call each: image batch 1 (10 runs), image batch 8 per image (3 runs), text of
 * 8 tokens (20 runs) and of 77 tokens (10 runs); the same inputs and repetition counts as
 * ../shared/anchors/ort_bench.mjs. Prints "metric value" lines (milliseconds) and a few
 * informational lines starting with '#'. --dtype: the CPU weights (default: each tower's default).
 *
 * --fidelity N: instead of timing, embeds N random images and N random texts (4 to 77 tokens)
 * with the dtype and with F32, and prints the min and median cosine between the two per tower
 * ("fidelity_image_min 0.99990" ...), for the table in docs/performance.md. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../src/model/clip.h"
#include "../src/model/ops.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* xorshift64*, uniform in [-1, 1) */
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return (float)((rng * 2685821657736338717ull) >> 40) / (float)(1 << 23) - 1.0f;
}

typedef struct { char name[128]; int64_t shape[4]; int nd; float scale; } spec;

static int nspecs;
static spec specs[512];

static void add(const char *name, int nd, int64_t a, int64_t b, int64_t c, int64_t d, float scale) {
    spec *s = &specs[nspecs++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->nd = nd;
    s->shape[0] = a; s->shape[1] = b; s->shape[2] = c; s->shape[3] = d;
    s->scale = scale;
}

static void tower_specs(const char *pre, int layers, int H, int I) {
    char n[128];
    const char *pr[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    for (int l = 0; l < layers; l++) {
        for (int k = 0; k < 4; k++) {
            snprintf(n, sizeof n, "%s.encoder.layers.%d.self_attn.%s.weight", pre, l, pr[k]); add(n, 2, H, H, 0, 0, 0.02f);
            snprintf(n, sizeof n, "%s.encoder.layers.%d.self_attn.%s.bias", pre, l, pr[k]); add(n, 1, H, 0, 0, 0, 0.01f);
        }
        snprintf(n, sizeof n, "%s.encoder.layers.%d.layer_norm1.weight", pre, l); add(n, 1, H, 0, 0, 0, -1);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.layer_norm1.bias", pre, l); add(n, 1, H, 0, 0, 0, 0.01f);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.layer_norm2.weight", pre, l); add(n, 1, H, 0, 0, 0, -1);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.layer_norm2.bias", pre, l); add(n, 1, H, 0, 0, 0, 0.01f);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.mlp.fc1.weight", pre, l); add(n, 2, I, H, 0, 0, 0.02f);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.mlp.fc1.bias", pre, l); add(n, 1, I, 0, 0, 0, 0.01f);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.mlp.fc2.weight", pre, l); add(n, 2, H, I, 0, 0, 0.02f);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.mlp.fc2.bias", pre, l); add(n, 1, H, 0, 0, 0, 0.01f);
    }
}

/* Writes a random ViT-B/32-shaped CLIP checkpoint and a minimal byte-level vocabulary. */
static int write_model(const char *dir) {
    const int VH = 768, VI = 3072, VL = 12, TH = 512, TI = 2048, TL = 12, P = 512, V = 49408;
    nspecs = 0;
    add("logit_scale", 0, 0, 0, 0, 0, 0);
    add("text_model.embeddings.token_embedding.weight", 2, V, TH, 0, 0, 0.02f);
    add("text_model.embeddings.position_embedding.weight", 2, 77, TH, 0, 0, 0.01f);
    tower_specs("text_model", TL, TH, TI);
    add("text_model.final_layer_norm.weight", 1, TH, 0, 0, 0, -1);
    add("text_model.final_layer_norm.bias", 1, TH, 0, 0, 0, 0.01f);
    add("text_projection.weight", 2, P, TH, 0, 0, 0.02f);
    add("vision_model.embeddings.class_embedding", 1, VH, 0, 0, 0, 0.02f);
    add("vision_model.embeddings.patch_embedding.weight", 4, VH, 3, 32, 32, 0.02f);
    add("vision_model.embeddings.position_embedding.weight", 2, 50, VH, 0, 0, 0.01f);
    add("vision_model.pre_layrnorm.weight", 1, VH, 0, 0, 0, -1);
    add("vision_model.pre_layrnorm.bias", 1, VH, 0, 0, 0, 0.01f);
    tower_specs("vision_model", VL, VH, VI);
    add("vision_model.post_layernorm.weight", 1, VH, 0, 0, 0, -1);
    add("vision_model.post_layernorm.bias", 1, VH, 0, 0, 0, 0.01f);
    add("visual_projection.weight", 2, P, VH, 0, 0, 0.02f);

    json_t *h = json_object();
    size_t off = 0;
    for (int i = 0; i < nspecs; i++) {
        size_t n = 1;
        json_t *o = json_object(), *sh = json_array(), *of = json_array();
        for (int d = 0; d < specs[i].nd; d++) {
            n *= (size_t)specs[i].shape[d];
            json_array_append_new(sh, json_integer(specs[i].shape[d]));
        }
        json_object_set_new(o, "dtype", json_string("F32"));
        json_object_set_new(o, "shape", sh);
        json_array_append_new(of, json_integer((json_int_t)off));
        json_array_append_new(of, json_integer((json_int_t)(off + n * 4)));
        json_object_set_new(o, "data_offsets", of);
        json_object_set_new(h, specs[i].name, o);
        off += n * 4;
    }
    char *hs = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    size_t hl = strlen(hs), pad = (8 - hl % 8) % 8;
    char p[4200];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    uint64_t L = hl + pad;
    fwrite(&L, 8, 1, f);
    fwrite(hs, 1, hl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    free(hs);
    float *buf = malloc(sizeof(float) * 1 << 20);
    for (int i = 0; i < nspecs; i++) {
        size_t n = 1;
        for (int d = 0; d < specs[i].nd; d++) n *= (size_t)specs[i].shape[d];
        while (n) {
            size_t k = n < (1u << 20) ? n : (1u << 20);
            for (size_t j = 0; j < k; j++) buf[j] = specs[i].scale < 0 ? 1.0f + 0.05f * frand() : specs[i].scale * frand();
            if (specs[i].nd == 0) buf[0] = 4.6052f;
            fwrite(buf, 4, k, f);
            n -= k;
        }
    }
    free(buf);
    if (fclose(f)) return -1;
    snprintf(p, sizeof p, "%s/config.json", dir);
    f = fopen(p, "w");
    fprintf(f, "{\"model_type\": \"clip\", \"projection_dim\": 512,\n"
               " \"text_config\": {\"hidden_size\": 512, \"intermediate_size\": 2048, \"num_hidden_layers\": 12,"
               " \"num_attention_heads\": 8, \"hidden_act\": \"quick_gelu\", \"vocab_size\": 49408},\n"
               " \"vision_config\": {\"hidden_size\": 768, \"intermediate_size\": 3072, \"num_hidden_layers\": 12,"
               " \"num_attention_heads\": 12, \"image_size\": 224, \"patch_size\": 32, \"hidden_act\": \"quick_gelu\"}}\n");
    fclose(f);
    /* the smallest vocabulary the loader accepts: GPT-2's 256 byte symbols, with and without
     * </w>, and the two specials; no merges (the bench feeds token ids) */
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    f = fopen(p, "w");
    fputc('{', f);
    int id = 0, nn = 0;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        int cp = keep ? b : 256 + nn++;
        char u[8];
        int ul;
        if (cp < 0x80) { u[0] = (char)cp; ul = 1; }
        else { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); ul = 2; }
        const char *esc = (cp == '"' || cp == '\\') ? "\\" : "";
        fprintf(f, "%s\"%s%.*s\": %d, \"%s%.*s</w>\": %d", id ? ", " : "", esc, ul, u, id, esc, ul, u, id + 1);
        id += 2;
    }
    fprintf(f, ", \"<|startoftext|>\": %d, \"<|endoftext|>\": %d}\n", id, id + 1);
    fclose(f);
    snprintf(p, sizeof p, "%s/merges.txt", dir);
    f = fopen(p, "w");
    fputs("#version: 0.2\n", f);
    fclose(f);
    return 0;
}

static int cmpf(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* min and median over n of the cosines of a's rows with b's (L2-normalised rows of 512) */
static void print_cosines(const char *what, const float *a, const float *b, int n) {
    float *c = malloc((size_t)n * sizeof *c);
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < 512; k++) s += (double)a[(size_t)i * 512 + k] * b[(size_t)i * 512 + k];
        c[i] = (float)s;
    }
    qsort(c, (size_t)n, sizeof *c, cmpf);
    printf("fidelity_%s_min %.6f\nfidelity_%s_median %.6f\n", what, c[0], what, n % 2 ? c[n / 2] : 0.5f * (c[n / 2 - 1] + c[n / 2]));
    free(c);
}

static int fidelity(clip_ctx *c, clip_ctx *c32, int n) {
    size_t per = 3 * 224 * 224;
    float *px = malloc(8 * per * sizeof *px), *a = malloc((size_t)n * 512 * 4), *b = malloc((size_t)n * 512 * 4);
    cs_err e;
    for (int i0 = 0; i0 < n; i0 += 8) {
        int bt = n - i0 < 8 ? n - i0 : 8;
        for (size_t i = 0; i < (size_t)bt * per; i++) px[i] = frand();
        if (clip_vision_forward(c, px, bt, 1, NULL, a + (size_t)i0 * 512, &e) ||
            clip_vision_forward(c32, px, bt, 1, NULL, b + (size_t)i0 * 512, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    }
    print_cosines("image", a, b, n);
    for (int i = 0; i < n; i++) {
        int32_t ids[77];
        int len = 4 + (int)((frand() + 1.0f) * 36.9f); /* 4..77 */
        for (int t = 0; t < len; t++) ids[t] = t == 0 ? 49406 : t == len - 1 ? 49407 : 256 + (int)((frand() + 1.0f) * 24000);
        const int32_t *p = ids;
        size_t l = (size_t)len;
        if (clip_text_embed(c, &p, &l, 1, 1, a + (size_t)i * 512, &e) || clip_text_embed(c32, &p, &l, 1, 1, b + (size_t)i * 512, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
    }
    print_cosines("text", a, b, n);
    free(px); free(a); free(b);
    return 0;
}

static double time_image(clip_ctx *c, int batch, int reps) {
    size_t n = (size_t)batch * 3 * 224 * 224;
    float *px = malloc(n * sizeof *px), *out = malloc((size_t)batch * 512 * sizeof *out);
    for (size_t i = 0; i < n; i++) px[i] = frand();
    cs_err e;
    if (clip_vision_forward(c, px, batch, 1, NULL, out, &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
    double t = now();
    for (int r = 0; r < reps; r++) clip_vision_forward(c, px, batch, 1, NULL, out, &e);
    t = (now() - t) / reps;
    free(px);
    free(out);
    return t * 1e3;
}

static double time_text(clip_ctx *c, int n, int reps) {
    int32_t ids[77];
    for (int i = 0; i < n; i++) ids[i] = i == n - 1 ? 49407 : 320 + i; /* as the anchor */
    const int32_t *p = ids;
    size_t len = (size_t)n;
    float out[512];
    cs_err e;
    if (clip_text_embed(c, &p, &len, 1, 1, out, &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
    double t = now();
    for (int r = 0; r < reps; r++) clip_text_embed(c, &p, &len, 1, 1, out, &e);
    return (now() - t) / reps * 1e3;
}

int main(int argc, char **argv) {
    const char *model = NULL, *keep = NULL;
    int threads = 0, write_only = 0, dtype = CLIP_DTYPE_DEFAULT, fid = 0, fit = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--keep") && i + 1 < argc) keep = argv[++i];
        else if (!strcmp(argv[i], "--write-only")) write_only = 1; /* with --keep: just the checkpoint */
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc && !clip_dtype_parse(argv[i + 1], &dtype, NULL)) i++;
        else if (!strcmp(argv[i], "--fidelity") && i + 1 < argc && atoi(argv[i + 1]) > 0) fid = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--fit-threads")) fit = 1; /* as the daemon: only the CPUs free at each run */
        else {
            fprintf(stderr, "usage: bench_clip [--model DIR] [--threads N] [--fit-threads] [--keep DIR [--write-only]] [--dtype f32|f16|q8] [--fidelity N]\n");
            return 2;
        }
    }
    char tmp[256] = "";
    if (!model) {
        if (keep) {
            mkdir(keep, 0700);
            snprintf(tmp, sizeof tmp, "%s", keep);
        } else {
            snprintf(tmp, sizeof tmp, "/tmp/clipseek-bench-XXXXXX");
            if (!mkdtemp(tmp)) { perror("mkdtemp"); return 1; }
        }
        char probe[300];
        snprintf(probe, sizeof probe, "%s/model.safetensors", tmp);
        if (access(probe, R_OK) != 0 && write_model(tmp)) { fprintf(stderr, "cannot write the model to %s\n", tmp); return 1; }
        model = tmp;
        if (write_only && keep) return 0;
    }
    clip_params p = clip_default_params();
    p.threads = threads;
    p.dtype = dtype;
    p.device = "cpu";
    p.fit_threads = fit;
    clip_ctx *c;
    cs_err e;
    if (clip_load(model, &p, &c, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    if (fid) {
        clip_ctx *c32;
        p.dtype = CLIP_DTYPE_F32;
        if (clip_load(model, &p, &c32, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        int rc = fidelity(c, c32, fid);
        clip_free(c32);
        clip_free(c);
        return rc;
    }
    clip_device d;
    clip_get_device(c, &d);
    printf("# clipseek %s, %d threads%s, dtype %s\n", ops_blas_name(), d.threads,
           fit ? " (each run: only the CPUs free then)" : "", clip_dtype_name(dtype));
    printf("image_b1_ms %.1f\n", time_image(c, 1, 10));
    printf("image_b8_ms_per_image %.1f\n", time_image(c, 8, 3) / 8);
    printf("text_8tok_ms %.1f\n", time_text(c, 8, 20));
    printf("text_77tok_ms %.1f\n", time_text(c, 77, 10));
    clip_free(c);
    if (tmp[0] && !keep) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    }
    return 0;
}
