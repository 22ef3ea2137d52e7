/* cli_model: the CLIP engine's commands: tokenize, embed, preprocess, model info.
 * These interfaces are used by scripts; keep their input and output formats stable
 * (docs/cli.md describes them). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cs_file.h"
#include "../model/clip.h"
#include "../model/ops.h"
#include "../model/stmodel.h"
#include "../model/tokenizer.h"
#include "cli.h"

#define MAX_INPUT_FILE (256u << 20)

/* need_text 0: the tokenizer files are not read (commands given no text). */
static clip_ctx *open_model(const char *dir, int need_text) {
    if (!dir) {
        cli_usage("--model DIR is required");
        return NULL;
    }
    clip_params p = cli_clip_params(cli_threads);
    p.no_tokenizer = !need_text;
    clip_ctx *c;
    cs_err e;
    if (cli_clip_load_params(dir, &p, &c, &e)) {
        cli_fail_err(&e);
        return NULL;
    }
    return c;
}

/* Splits a buffer into lines (without "\n"; a final line without newline counts; a trailing
 * newline does not start an empty line). Lines point into buf, which is modified. */
static int split_lines(char *buf, size_t len, char ***lines, size_t **lens, size_t *n) {
    size_t cap = 16, k = 0;
    char **l = malloc(cap * sizeof *l);
    size_t *ln = malloc(cap * sizeof *ln);
    if (!l || !ln) {
        free(l);
        free(ln);
        return -1;
    }
    size_t at = 0;
    while (at < len) {
        char *nl = memchr(buf + at, '\n', len - at);
        size_t e = nl ? (size_t)(nl - buf) : len;
        if (k == cap) {
            cap *= 2;
            char **nl2 = realloc(l, cap * sizeof *l);
            size_t *nn = realloc(ln, cap * sizeof *ln);
            if (!nl2 || !nn) {
                free(nl2 ? nl2 : l);
                free(nn ? nn : ln);
                return -1;
            }
            l = nl2;
            ln = nn;
        }
        l[k] = buf + at;
        ln[k] = e - at;
        buf[e < len ? e : len] = 0; /* buf has room for a NUL at len (cs_read_file / cs_read_stream) */
        k++;
        at = e + 1;
    }
    *lines = l;
    *lens = ln;
    *n = k;
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    const char *dir = NULL, *from = "-";
    int maxlen = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--texts-from") && i + 1 < argc)
            from = argv[++i];
        else if (!strcmp(argv[i], "--max-length") && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 2, 1 << 20, &maxlen)) return cli_usage("--max-length needs a number >= 2");
        } else
            return cli_usage("tokenize: unexpected argument '%s'", argv[i]);
    }
    if (!dir) return cli_usage("tokenize: --model DIR is required");
    if (stm_detect(dir)) return cli_text_tokenize(dir, from, maxlen); /* a BERT-family folder: WordPiece */
    /* only the tokenizer files are needed: no weights are opened */
    char *voc = cs_path_join(dir, "vocab.json"), *mer = cs_path_join(dir, "merges.txt");
    tok_ctx *t = NULL;
    cs_err e;
    int rc = !voc || !mer ? cli_fail("out of memory") : tok_load(voc, mer, &t, &e) == 0 ? CLI_OK : cli_fail_err(&e);
    free(voc);
    free(mer);
    if (rc) return rc;
    char *in;
    size_t len, n;
    char **lines;
    size_t *lens;
    if (cs_read_input(cs_input_path(from), MAX_INPUT_FILE, &in, &len, &e)) {
        tok_free(t);
        return cli_fail_err(&e);
    }
    if (split_lines(in, len, &lines, &lens, &n)) {
        free(in);
        tok_free(t);
        return cli_fail("out of memory");
    }
    for (size_t i = 0; i < n && !rc; i++) {
        int32_t *ids;
        size_t k;
        if (tok_encode(t, lines[i], lens[i], maxlen, &ids, &k, &e)) {
            rc = cli_fail("line %zu: %s", i + 1, e.msg);
            break;
        }
        for (size_t j = 0; j < k; j++) printf(j ? " %d" : "%d", ids[j]);
        putchar('\n');
        free(ids);
    }
    free(lines);
    free(lens);
    free(in);
    tok_free(t);
    if (fflush(stdout) != 0) return cli_fail("writing stdout: %s", strerror(errno));
    return rc;
}

/* ---- embed ---- */

typedef enum { IN_TEXT, IN_IMAGE, IN_IDS, IN_PIXELS } in_kind;
typedef struct {
    in_kind kind;
    const char *val;
    size_t len;
} input;

typedef struct {
    input *v;
    size_t n, cap;
} inputs;

static int push_input(inputs *a, in_kind k, const char *v, size_t len) {
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 16;
        input *nv = realloc(a->v, nc * sizeof *nv);
        if (!nv) return -1;
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n++] = (input){k, v, len};
    return 0;
}

static int parse_ids(const char *s, int32_t **out, size_t *n) {
    size_t cap = 16, k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) return -1;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX) {
            free(v);
            return -1;
        }
        if (k == cap) {
            cap *= 2;
            int32_t *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                free(v);
                return -1;
            }
            v = nv;
        }
        v[k++] = (int32_t)x;
        p = end;
    }
    *out = v;
    *n = k;
    return 0;
}

/* Embeds one run of same-kind inputs [a, b) into out. */
static int embed_run(clip_ctx *c, const input *in, size_t a, size_t b, int norm, float *out, cs_err *e) {
    const clip_info *info = clip_get_info(c);
    size_t P = (size_t)info->projection_dim, count = b - a;
    switch (in[a].kind) {
    case IN_TEXT:
    case IN_IDS: {
        int32_t **ids = calloc(count, sizeof *ids);
        size_t *lens = calloc(count, sizeof *lens);
        int rc = ids && lens ? 0 : cs_err_set(e, "out of memory");
        for (size_t i = 0; i < count && !rc; i++) {
            if (in[a].kind == IN_TEXT)
                rc = clip_tokenize(c, in[a + i].val, in[a + i].len, info->max_positions, &ids[i], &lens[i], e);
            else if (parse_ids(in[a + i].val, &ids[i], &lens[i]))
                rc = cs_err_set(e, "--token-ids \"%.60s\": expected non-negative integers separated by spaces",
                                in[a + i].val);
        }
        /* texts in batches of 32: one GEMM per layer for the batch */
        for (size_t i = 0; i < count && !rc; i += 32) {
            int nb = count - i < 32 ? (int)(count - i) : 32;
            rc = clip_text_embed(c, (const int32_t *const *)ids + i, lens + i, nb, norm, out + i * P, e);
        }
        for (size_t i = 0; ids && i < count; i++) free(ids[i]);
        free(ids);
        free(lens);
        return rc;
    }
    case IN_IMAGE: {
        const char **paths = malloc(count * sizeof *paths);
        if (!paths) return cs_err_set(e, "out of memory");
        for (size_t i = 0; i < count; i++) paths[i] = in[a + i].val;
        int rc = clip_image_files_embed(c, paths, (int)count, norm, out, e);
        free(paths);
        return rc;
    }
    case IN_PIXELS: {
        size_t per = (size_t)3 * info->image_size * info->image_size;
        for (size_t i = 0; i < count; i++) {
            char *buf;
            size_t len;
            if (cs_read_input(cs_input_path(in[a + i].val), MAX_INPUT_FILE, &buf, &len, e)) return -1;
            if (len != per * sizeof(float)) {
                free(buf);
                return cs_err_set(e, "%s: %zu bytes; expected %zu (3 x %d x %d float32)", in[a + i].val, len,
                                  per * sizeof(float), info->image_size, info->image_size);
            }
            float *px = malloc(len);
            if (!px) {
                free(buf);
                return cs_err_set(e, "out of memory");
            }
            memcpy(px, buf, len); /* aligned copy; the file is little-endian float32, as is the host */
            free(buf);
            int rc = clip_vision_forward(c, px, 1, norm, NULL, out + i * P, e);
            free(px);
            if (rc) return -1;
        }
        return 0;
    }
    }
    return 0;
}

int cmd_embed(int argc, char **argv) {
    const char *dir = NULL, *format = "json";
    int norm = 1, rc = CLI_OK;
    inputs in = {0};
    char **texts_bufs = NULL;
    size_t ntb = 0;
    for (int i = 1; i < argc && rc == CLI_OK; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--model") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(a, "--format") && i + 1 < argc) {
            format = argv[++i];
            if (strcmp(format, "json") && strcmp(format, "f32")) rc = cli_usage("--format is json or f32");
        } else if (!strcmp(a, "--no-normalize"))
            norm = 0;
        else if (!strcmp(a, "--text") && i + 1 < argc) {
            i++;
            rc = push_input(&in, IN_TEXT, argv[i], strlen(argv[i])) ? cli_fail("out of memory") : 0;
        } else if (!strcmp(a, "--token-ids") && i + 1 < argc) {
            i++;
            rc = push_input(&in, IN_IDS, argv[i], strlen(argv[i])) ? cli_fail("out of memory") : 0;
        } else if (!strcmp(a, "--pixel-values") && i + 1 < argc) {
            i++;
            rc = push_input(&in, IN_PIXELS, argv[i], 0) ? cli_fail("out of memory") : 0;
        } else if (!strcmp(a, "--image") && i + 1 < argc) {
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 && rc == CLI_OK)
                rc = push_input(&in, IN_IMAGE, cs_input_path(argv[++i]), 0) ? cli_fail("out of memory") : 0;
        } else if (!strcmp(a, "--texts-from") && i + 1 < argc) {
            char *buf;
            size_t len, n;
            char **lines;
            size_t *lens;
            cs_err e;
            if (cs_read_input(cs_input_path(argv[++i]), MAX_INPUT_FILE, &buf, &len, &e)) {
                rc = cli_fail_err(&e);
                break;
            }
            char **nt = realloc(texts_bufs, (ntb + 1) * sizeof *nt);
            if (!nt || split_lines(buf, len, &lines, &lens, &n)) {
                free(buf);
                if (nt) texts_bufs = nt;
                rc = cli_fail("out of memory");
                break;
            }
            texts_bufs = nt;
            texts_bufs[ntb++] = buf;
            for (size_t k = 0; k < n && rc == CLI_OK; k++)
                rc = push_input(&in, IN_TEXT, lines[k], lens[k]) ? cli_fail("out of memory") : 0;
            free(lines);
            free(lens);
        } else
            rc = cli_usage("embed: unexpected argument '%s'", a);
    }
    if (rc == CLI_OK && in.n == 0)
        rc = cli_usage("embed: nothing to embed (give --text, --texts-from, --image, --token-ids or --pixel-values)");
    if (rc == CLI_OK && dir && stm_detect(dir)) { /* a BERT-family sentence model: texts only */
        const char **tx = malloc((in.n ? in.n : 1) * sizeof *tx);
        size_t *tl = malloc((in.n ? in.n : 1) * sizeof *tl);
        if (!tx || !tl) rc = cli_fail("out of memory");
        for (size_t i = 0; i < in.n && rc == CLI_OK; i++) {
            if (in.v[i].kind != IN_TEXT) rc = cli_usage("embed: %s is a text model; give --text or --texts-from", dir);
            tx[i] = in.v[i].val;
            tl[i] = in.v[i].len;
        }
        if (rc == CLI_OK) rc = cli_text_embed(dir, tx, tl, in.n, norm, !strcmp(format, "f32"));
        free(tx);
        free(tl);
        for (size_t i = 0; i < ntb; i++) free(texts_bufs[i]);
        free(texts_bufs);
        free(in.v);
        return rc;
    }
    int need_text = 0;
    for (size_t i = 0; i < in.n; i++) need_text |= in.v[i].kind == IN_TEXT;
    clip_ctx *c = rc == CLI_OK ? open_model(dir, need_text) : NULL;
    if (rc == CLI_OK && !c) rc = CLI_FAIL;
    float *out = NULL;
    size_t P = c ? (size_t)clip_get_info(c)->projection_dim : 0;
    if (rc == CLI_OK && !(out = malloc(in.n * P * sizeof *out))) rc = cli_fail("out of memory");
    for (size_t a = 0; rc == CLI_OK && a < in.n;) {
        size_t b = a + 1;
        while (b < in.n && in.v[b].kind == in.v[a].kind) b++;
        cs_err e;
        if (embed_run(c, in.v, a, b, norm, out + a * P, &e)) rc = cli_fail_err(&e);
        a = b;
    }
    /* all-or-nothing: output is written only once every input has been embedded */
    if (rc == CLI_OK) {
        if (!strcmp(format, "f32"))
            fwrite(out, sizeof(float), in.n * P, stdout);
        else
            for (size_t i = 0; i < in.n; i++) {
                putchar('[');
                for (size_t j = 0; j < P; j++) printf(j ? ", %.9g" : "%.9g", out[i * P + j]);
                fputs("]\n", stdout);
            }
        if (fflush(stdout) != 0) rc = cli_fail("writing stdout: %s", strerror(errno));
    }
    free(out);
    for (size_t i = 0; i < ntb; i++) free(texts_bufs[i]);
    free(texts_bufs);
    free(in.v);
    clip_free(c);
    return rc;
}

int cmd_preprocess(int argc, char **argv) {
    const char *dir = NULL, *image = NULL, *outp = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--image") && i + 1 < argc)
            image = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            outp = argv[++i];
        else
            return cli_usage("preprocess: unexpected argument '%s'", argv[i]);
    }
    if (!image || !outp) return cli_usage("preprocess: --model DIR --image FILE --out FILE are required");
    clip_ctx *c = open_model(dir, 0);
    if (!c) return CLI_FAIL;
    const clip_info *info = clip_get_info(c);
    size_t n = (size_t)3 * info->image_size * info->image_size;
    float *px = malloc(n * sizeof *px);
    img_rgb im;
    cs_err e;
    int rc = CLI_OK;
    if (!px)
        rc = cli_fail("out of memory");
    else if (img_load(cs_input_path(image), 0, &im, &e))
        rc = cli_fail_err(&e);
    else {
        if (clip_preprocess(c, &im, px, &e)) rc = cli_fail("%s: %s", image, e.msg);
        img_free(&im);
    }
    if (rc == CLI_OK) {
        int to_stdout = !strcmp(outp, "-"); /* Unix habit: --out - is stdout */
        FILE *f = to_stdout ? stdout : fopen(outp, "wb");
        if (!f)
            rc = cli_fail("%s: %s", outp, strerror(errno));
        else {
            size_t w = fwrite(px, sizeof(float), n, f);
            if ((to_stdout ? fflush(f) : fclose(f)) != 0 || w != n) rc = cli_fail("%s: write failed", outp);
        }
    }
    free(px);
    clip_free(c);
    return rc;
}

int cmd_model(int argc, char **argv) {
    if (argc < 2)
        return cli_usage("model: expected 'info DIR', 'use DIR|REPO', 'list [--available]' or 'fetch [REPO]'");
    if (!strcmp(argv[1], "use")) return cli_model_use(argc, argv);
    if (!strcmp(argv[1], "list")) return cli_model_list(argc, argv);
    if (!strcmp(argv[1], "fetch")) return cli_model_fetch(argc, argv);
    if (strcmp(argv[1], "info")) return cli_usage("model: unknown subcommand '%s'", argv[1]);
    const char *dir = NULL;
    int json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!dir && strncmp(argv[i], "--", 2))
            dir = argv[i];
        else
            return cli_usage("model info: unexpected argument '%s'", argv[i]);
    }
    if (dir && stm_detect(dir)) return cli_text_info(dir, json);
    clip_ctx *c = open_model(dir, 1);
    if (!c) return CLI_FAIL;
    const clip_info *m = clip_get_info(c);
    int g = m->image_size / m->patch_size;
    uint64_t res = clip_resident_bytes(c);
    clip_device d;
    clip_get_device(c, &d);
    if (json) {
        printf("{\"architecture\": \"CLIPModel\", \"format\": \"%s\", \"converted_tensors\": %zu, \"dtype\": \"%s\", "
               "\"projection_dim\": %d, \"logit_scale\": %.9g,\n"
               " \"text\": {\"hidden\": %d, \"intermediate\": %d, \"layers\": %d, \"heads\": %d, \"act\": \"%s\", "
               "\"vocab_size\": %d, \"max_positions\": %d, \"params\": %llu},\n"
               " \"vision\": {\"hidden\": %d, \"intermediate\": %d, \"layers\": %d, \"heads\": %d, \"act\": \"%s\", "
               "\"image_size\": %d, \"patch_size\": %d, \"patches\": %d, \"params\": %llu},\n"
               " \"params\": %llu, \"file_bytes\": %llu, \"resident_bytes\": %llu, \"blas\": \"%s\", \"threads\": %d,\n"
               " \"device\": {\"backend\": \"%s\", \"name\": \"%s\", \"driver\": \"%s\", \"precision\": \"%s\", "
               "\"weight_bytes\": %llu, \"work_bytes\": %llu}",
               m->format, m->converted, m->dtype, m->projection_dim, m->logit_scale, m->text.hidden,
               m->text.intermediate, m->text.layers, m->text.heads, m->text.act, m->vocab_size, m->max_positions,
               (unsigned long long)m->text_params, m->vision.hidden, m->vision.intermediate, m->vision.layers,
               m->vision.heads, m->vision.act, m->image_size, m->patch_size, g * g,
               (unsigned long long)m->vision_params, (unsigned long long)m->total_params,
               (unsigned long long)m->file_bytes, (unsigned long long)res, ops_blas_name(), d.threads, d.backend,
               d.device, d.driver, d.precision ? d.precision : "F32", (unsigned long long)d.weight_bytes,
               (unsigned long long)d.work_bytes);
        cli_model_origin(dir, 1);
        printf("}\n");
    } else {
        printf("architecture   CLIPModel (%s weights)\n", m->dtype);
        printf("weights        %s", m->format);
        if (m->converted) printf(", %zu strided tensors copied at load (the rest mapped in place)", m->converted);
        printf("\n");
        printf("text tower     %d layers, width %d, MLP %d, %d heads, %s, vocab %d, context %d, %.1fM params\n",
               m->text.layers, m->text.hidden, m->text.intermediate, m->text.heads, m->text.act, m->vocab_size,
               m->max_positions, m->text_params / 1e6);
        printf("vision tower   %d layers, width %d, MLP %d, %d heads, %s, %dpx, patch %d (%d patches), %.1fM params\n",
               m->vision.layers, m->vision.hidden, m->vision.intermediate, m->vision.heads, m->vision.act,
               m->image_size, m->patch_size, g * g, m->vision_params / 1e6);
        printf("projection     %d dims, logit scale %.4g\n", m->projection_dim, m->logit_scale);
        printf("parameters     %.2fM (%.1f MB of weights on disk)\n", m->total_params / 1e6, m->file_bytes / 1e6);
        printf("resident       %.1f MB now (weights are mapped; a tower is read when first used)\n", res / 1e6);
        printf("compute        %s, %d threads\n", ops_blas_name(), d.threads);
        cli_device_print(c, "device         ");
        cli_model_origin(dir, 0);
    }
    clip_free(c);
    return CLI_OK;
}
