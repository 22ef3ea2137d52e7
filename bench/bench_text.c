/* bench_text: a 10-token query through a DistilBERT of clip-ViT-B-32-multilingual-v1's real size
 * (6 layers, width 768, 12 heads, FFN 3072, mBERT's 119,547-token vocabulary, Dense 768->512),
 * and the resident memory after 100 queries.
 *
 *   bench_text [--threads N] [--keep DIR]
 *
 * Writes the checkpoint with random weights made from the config (speed does not depend on the
 * values; about 540 MB, into a temporary folder unless --keep names one, reused when present),
 * links the mBERT vocab.txt of ../shared/fixtures/tiny-distilbert-multilingual ($CLIPSEEK_FIXTURES)
 * when present (else writes a synthetic one of the same size). Then, after one warm-up call: the
 * median of 20 runs of one 10-token query ([CLS] + 8 + [SEP], different words each run), and
 * after 100 queries the process's VmRSS and the model's resident weight bytes (the word table is
 * 367 MB in F32: only the rows of tokens seen should be resident). The word table's own resident
 * bytes are counted in both places it lives (bert.c): in the file's mapping (its byte range in
 * model.safetensors, located through /proc/self/maps, each page's present bit in
 * /proc/self/pagemap: should be ~0, the pages under a copied row are given back), and in the
 * lazily filled private copy (the anonymous mapping of exactly the table's size, its Rss in
 * /proc/self/smaps); next to them, the bytes the distinct rows seen span (each row 3 KB, so one
 * or two 4 KB pages). Prints "metric value" lines. */
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../src/model/ops.h"
#include "../src/model/stmodel.h"

enum { H = 768, I = 3072, L = 6, V = 119547, P = 512, OUT = 512 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
static float frand(void) { return (float)(next() >> 40) / (float)(1 << 23) - 1.0f; }

typedef struct { char name[96]; int64_t r, c; float scale; } spec;
static spec specs[128];
static int nspecs;
static void add(const char *name, int64_t r, int64_t c, float scale) {
    spec *s = &specs[nspecs++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->r = r;
    s->c = c;
    s->scale = scale;
}

/* A safetensors file of the specs (c == 0: a vector), values scale * U[-1, 1) (scale < 0: 1 +- 5%). */
static int write_st(const char *path) {
    json_t *h = json_object();
    size_t off = 0;
    for (int i = 0; i < nspecs; i++) {
        size_t n = (size_t)specs[i].r * (specs[i].c ? (size_t)specs[i].c : 1);
        json_t *o = json_object();
        json_object_set_new(o, "dtype", json_string("F32"));
        json_object_set_new(o, "shape", specs[i].c ? json_pack("[I, I]", (json_int_t)specs[i].r, (json_int_t)specs[i].c)
                                                   : json_pack("[I]", (json_int_t)specs[i].r));
        json_object_set_new(o, "data_offsets", json_pack("[I, I]", (json_int_t)off, (json_int_t)(off + n * 4)));
        json_object_set_new(h, specs[i].name, o);
        off += n * 4;
    }
    char *hs = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    size_t hl = strlen(hs), pad = (8 - hl % 8) % 8;
    FILE *f = fopen(path, "wb");
    if (!f) { free(hs); return -1; }
    uint64_t len = hl + pad;
    fwrite(&len, 8, 1, f);
    fwrite(hs, 1, hl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    free(hs);
    float *buf = malloc(sizeof(float) << 20);
    for (int i = 0; i < nspecs && buf; i++) {
        size_t n = (size_t)specs[i].r * (specs[i].c ? (size_t)specs[i].c : 1);
        while (n) {
            size_t k = n < (1u << 20) ? n : (1u << 20);
            for (size_t j = 0; j < k; j++) buf[j] = specs[i].scale < 0 ? 1.0f + 0.05f * frand() : specs[i].scale * frand();
            fwrite(buf, 4, k, f);
            n -= k;
        }
    }
    free(buf);
    return fclose(f) || !buf ? -1 : 0;
}

static int write_text(const char *dir, const char *name, const char *text) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static int write_model(const char *dir) {
    char p[4400], n[96];
    nspecs = 0;
    add("embeddings.word_embeddings.weight", V, H, 0.02f);
    add("embeddings.position_embeddings.weight", P, H, 0.02f);
    add("embeddings.LayerNorm.weight", H, 0, -1);
    add("embeddings.LayerNorm.bias", H, 0, 0.01f);
    static const char *lin[6] = {"attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
                                 "ffn.lin1", "ffn.lin2"};
    for (int l = 0; l < L; l++) {
        for (int k = 0; k < 6; k++) {
            int64_t r = k == 4 ? I : H, c = k == 5 ? I : H;
            snprintf(n, sizeof n, "transformer.layer.%d.%s.weight", l, lin[k]);
            add(n, r, c, 0.03f);
            snprintf(n, sizeof n, "transformer.layer.%d.%s.bias", l, lin[k]);
            add(n, r, 0, 0.01f);
        }
        static const char *ln[2] = {"sa_layer_norm", "output_layer_norm"};
        for (int k = 0; k < 2; k++) {
            snprintf(n, sizeof n, "transformer.layer.%d.%s.weight", l, ln[k]);
            add(n, H, 0, -1);
            snprintf(n, sizeof n, "transformer.layer.%d.%s.bias", l, ln[k]);
            add(n, H, 0, 0.01f);
        }
    }
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    if (write_st(p)) return -1;
    char d2[4200];
    snprintf(d2, sizeof d2, "%s/2_Dense", dir);
    mkdir(d2, 0700);
    nspecs = 0;
    add("linear.weight", OUT, H, 0.03f);
    snprintf(p, sizeof p, "%s/model.safetensors", d2);
    if (write_st(p)) return -1;
    snprintf(d2, sizeof d2, "%s/1_Pooling", dir);
    mkdir(d2, 0700);
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"distilbert\", \"dim\": %d, \"hidden_dim\": %d, \"n_layers\": %d, \"n_heads\": 12, "
             "\"activation\": \"gelu\", \"vocab_size\": %d, \"max_position_embeddings\": %d}\n", H, I, L, V, P);
    if (write_text(dir, "config.json", cfg) ||
        write_text(dir, "modules.json",
                   "[{\"idx\": 0, \"name\": \"0\", \"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
                   " {\"idx\": 1, \"name\": \"1\", \"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"},"
                   " {\"idx\": 2, \"name\": \"2\", \"path\": \"2_Dense\", \"type\": \"sentence_transformers.models.Dense\"}]\n") ||
        write_text(dir, "1_Pooling/config.json", "{\"word_embedding_dimension\": 768, \"pooling_mode_mean_tokens\": true}\n") ||
        write_text(dir, "2_Dense/config.json",
                   "{\"in_features\": 768, \"out_features\": 512, \"bias\": false, "
                   "\"activation_function\": \"torch.nn.modules.linear.Identity\"}\n") ||
        write_text(dir, "sentence_bert_config.json", "{\"max_seq_length\": 128}\n") ||
        write_text(dir, "tokenizer_config.json", "{\"do_lower_case\": false}\n"))
        return -1;
    /* the real mBERT vocabulary when the fixtures are here, else one of the same size */
    const char *fx = getenv("CLIPSEEK_FIXTURES");
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s/tiny-distilbert-multilingual/vocab.txt", fx && *fx ? fx : "../shared/fixtures");
    snprintf(dst, sizeof dst, "%s/vocab.txt", dir);
    char real[4200];
    if (realpath(src, real) && symlink(real, dst) == 0) return 0;
    FILE *f = fopen(dst, "w");
    if (!f) return -1;
    fputs("[PAD]\n", f);
    for (int i = 1; i < 100; i++) fprintf(f, "[unused%d]\n", i);
    fputs("[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f);
    for (int i = 104; i < V; i++) fprintf(f, "w%d\n", i);
    return fclose(f);
}

static long vmrss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

/* Resident kB of the mapping of `file` (from /proc/self/smaps), -1 if not mapped. */
static long mapped_rss_kb(const char *file) {
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[4400];
    long kb = -1;
    int in = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strchr(line, '-') && strstr(line, " r") && (strchr(line, '/') || line[strlen(line) - 2] == ' '))
            in = strstr(line, file) != NULL;
        else if (in && !strncmp(line, "Rss:", 4)) kb = (kb < 0 ? 0 : kb) + atol(line + 4);
    }
    if (f) fclose(f);
    return kb;
}

/* File offset and size of tensor `name` in a safetensors file. Returns 0 or -1. */
static int tensor_range(const char *path, const char *name, uint64_t *off, uint64_t *len) {
    FILE *f = fopen(path, "rb");
    uint64_t hl = 0;
    if (!f || fread(&hl, 8, 1, f) != 1 || hl > (64u << 20)) {
        if (f) fclose(f);
        return -1;
    }
    char *h = malloc(hl);
    int ok = h && fread(h, 1, hl, f) == hl;
    fclose(f);
    json_t *j = ok ? json_loadb(h, hl, 0, NULL) : NULL;
    free(h);
    json_t *d = json_object_get(json_object_get(j, name), "data_offsets");
    int rc = -1;
    if (json_array_size(d) == 2) {
        uint64_t a = (uint64_t)json_integer_value(json_array_get(d, 0)), b = (uint64_t)json_integer_value(json_array_get(d, 1));
        *off = 8 + hl + a;
        *len = b - a;
        rc = 0;
    }
    json_decref(j);
    return rc;
}

/* Bytes of file range [off, off + len) resident in this process: pages of its mappings of `file`
 * whose present bit (63) is set in /proc/self/pagemap. -1 if the range is not mapped. */
static long long range_resident(const char *file, uint64_t off, uint64_t len) {
    FILE *m = fopen("/proc/self/maps", "r");
    int pm = open("/proc/self/pagemap", O_RDONLY);
    long pg = sysconf(_SC_PAGESIZE);
    char line[4400];
    long long res = -1;
    while (m && pm >= 0 && fgets(line, sizeof line, m)) {
        unsigned long long a, b, moff;
        char path[4200] = "";
        if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %4199s", &a, &b, &moff, path) < 3 || strcmp(path, file)) continue;
        uint64_t lo = off > moff ? off : moff, hi = off + len < moff + (b - a) ? off + len : moff + (b - a);
        if (lo >= hi) continue;
        if (res < 0) res = 0;
        for (uint64_t fo = lo - (lo - moff) % (uint64_t)pg; fo < hi; fo += (uint64_t)pg) {
            uint64_t va = a + (fo - moff), ent = 0;
            if (pread(pm, &ent, 8, (off_t)(va / (uint64_t)pg * 8)) == 8 && (ent >> 63)) res += pg;
        }
    }
    if (m) fclose(m);
    if (pm >= 0) close(pm);
    return res;
}

/* Rss kB of the anonymous mapping of exactly `bytes` (page-rounded) in /proc/self/smaps: the word
 * table's private copy; -1 if there is none (or more than one). */
static long anon_rss_kb(uint64_t bytes) {
    FILE *f = fopen("/proc/self/smaps", "r");
    long pg = sysconf(_SC_PAGESIZE), kb = -1;
    uint64_t want = (bytes + (uint64_t)pg - 1) / (uint64_t)pg * (uint64_t)pg;
    char line[4400];
    int in = 0, found = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long a, b;
        char path[4200] = "";
        int n = sscanf(line, "%llx-%llx %*s %*s %*s %*s %4199s", &a, &b, path);
        if (n >= 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = n == 2 && b - a == want;
            found += in;
        } else if (in && !strncmp(line, "Rss:", 4))
            kb = atol(line + 4);
    }
    if (f) fclose(f);
    return found == 1 ? kb : -1;
}

/* The 1-minute load average (/proc/loadavg), -1 if unreadable. */
static double loadavg(void) {
    FILE *f = fopen("/proc/loadavg", "r");
    double l = -1;
    if (f && fscanf(f, "%lf", &l) != 1) l = -1;
    if (f) fclose(f);
    return l;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int threads = 0;
    const char *keep = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--keep") && i + 1 < argc) keep = argv[++i];
        else { fprintf(stderr, "usage: bench_text [--threads N] [--keep DIR]\n"); return 2; }
    }
    char dir[4096], probe[4200];
    if (keep) snprintf(dir, sizeof dir, "%s", keep);
    else snprintf(dir, sizeof dir, "/tmp/clipseek-bench-text-XXXXXX");
    if (keep) mkdir(dir, 0700);
    else if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(probe, sizeof probe, "%s/2_Dense/model.safetensors", dir);
    struct stat st;
    if (stat(probe, &st) != 0) {
        double t0 = now();
        if (write_model(dir)) { fprintf(stderr, "bench_text: cannot write the model into %s\n", dir); return 1; }
        printf("# wrote a random DistilBERT (6 x 768, vocab %d) into %s in %.1f s\n", V, dir, now() - t0);
    }
    bert_params p = bert_default_params();
    p.threads = threads;
    p.device = "cpu";
    stm_ctx *s;
    cs_err e;
    double t0 = now();
    if (stm_load(dir, &p, &s, &e)) { fprintf(stderr, "bench_text: %s\n", e.msg); return 1; }
    printf("text_load_ms %.1f\n", (now() - t0) * 1e3);
    printf("# threads: %d, blas: %s, modules: %s\n", stm_threads(s), ops_blas_name(), stm_describe(s));
    printf("# cores: %ld, load average before the queries: %.2f (timings under load are not comparable)\n",
           sysconf(_SC_NPROCESSORS_ONLN), loadavg());
    long rss0 = vmrss_kb();
    printf("rss_after_load_mb %.1f\n", rss0 / 1024.0);
    float out[OUT];
    int32_t ids[10];
    const int32_t *row = ids;
    size_t n = 10;
    /* [CLS] + 8 ordinary tokens + [SEP]; different rows each query, as real queries would */
    ids[0] = 101;
    ids[9] = 102;
    double ms[100];
    unsigned char *seen = calloc(V, 1);
    long rows = 0;
    if (!seen) return 1;
    for (int q = 0; q < 101; q++) {
        for (int k = 1; k < 9; k++) ids[k] = 1000 + (int32_t)(next() % (V - 1000));
        for (int k = 0; k < 10; k++) rows += !seen[ids[k]], seen[ids[k]] = 1;
        double a = now();
        if (stm_forward(s, &row, &n, 1, NULL, 1, NULL, NULL, out, &e)) { fprintf(stderr, "bench_text: %s\n", e.msg); return 1; }
        if (q) ms[q - 1] = (now() - a) * 1e3; /* the first is the warm-up */
        else printf("rss_after_first_query_mb %.1f\n", vmrss_kb() / 1024.0);
    }
    double sorted[20];
    memcpy(sorted, ms, sizeof sorted);
    qsort(sorted, 20, sizeof *sorted, cmp_d);
    printf("text_10tok_ms %.2f\n", (sorted[9] + sorted[10]) / 2);
    qsort(ms, 100, sizeof *ms, cmp_d);
    printf("text_10tok_ms_median_of_100 %.2f\n", (ms[49] + ms[50]) / 2);
    printf("# load average after the queries: %.2f\n", loadavg());
    printf("rss_after_100_queries_mb %.1f\n", vmrss_kb() / 1024.0);
    printf("rss_growth_mb %.1f\n", (vmrss_kb() - rss0) / 1024.0);
    char wf[4200];
    snprintf(wf, sizeof wf, "%s/model.safetensors", dir);
    char rw[4200];
    if (realpath(wf, rw)) printf("weights_file_mapped_resident_mb %.1f\n", mapped_rss_kb(rw) / 1024.0);
    uint64_t wo, wl;
    if (realpath(wf, rw) && tensor_range(rw, "embeddings.word_embeddings.weight", &wo, &wl) == 0) {
        long long r = range_resident(rw, wo, wl);
        /* the pages the rows seen span: the floor of what must be resident (a row is H floats) */
        long long need = 0, pg = sysconf(_SC_PAGESIZE), last = -1;
        for (long i = 0; i < V; i++)
            if (seen[i])
                for (long long p = (long long)(wo + (uint64_t)i * H * 4) / pg;
                     p <= (long long)(wo + (uint64_t)(i + 1) * H * 4 - 1) / pg; p++)
                    if (p != last) need += pg, last = p;
        long cp = anon_rss_kb(wl);
        printf("word_rows_seen %ld\n", rows);
        printf("word_table_rows_seen_span_mb %.2f\n", need / 1e6);
        printf("word_table_file_mapping_resident_mb %.2f\n", r < 0 ? -1.0 : r / 1e6);
        printf("word_table_copy_resident_mb %.2f\n", cp < 0 ? -1.0 : cp * 1024 / 1e6);
        printf("# word table %.0f MB: %s\n", wl / 1e6,
               r >= 0 && cp >= 0 && r + cp * 1024 <= need + (1 << 20) ? "only the rows seen are resident"
                                                                      : "MORE than the rows seen is resident (or unmeasured)");
    }
    free(seen);
    printf("model_resident_mb %.1f\n", stm_resident_bytes(s) / 1e6);
    printf("# the word table alone is %.0f MB in F32; file %.0f MB\n", (double)V * H * 4 / 1e6,
           stm_encoder_info(s)->file_bytes / 1e6);
    stm_free(s);
    if (!keep) {
        char cmd[4300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "bench_text: could not remove %s\n", dir);
    }
    return 0;
}
