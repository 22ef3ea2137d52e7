/* PyTorch checkpoints (pytorch_model.bin): the fixtures in torch-checkpoints/ (zip, legacy, F16,
 * BF16, sharded, shared storages and strided views) embed as transformers does; hostile files are
 * refused with a message that names the problem, and nothing in them ever runs; the reader keeps
 * weights mapped in place and lazy. */
#include <math.h>

#include "../src/index/indexer.h"
#include "../src/model/clip.h"
#include "../src/model/pickle.h"
#include "../src/model/torch_ckpt.h"
#include "../src/model/weights.h"
#include "clip_checks.h"
#include "testutil.h"

#define TC "torch-checkpoints/"
#define CANARY "/tmp/clipseek-pickle-canary"

static st_set *open_refs(void) {
    char rp[4096];
    if (!fixture_path(rp, sizeof rp, TINY "/refs.safetensors")) return NULL;
    st_set *refs;
    cr_assert_eq(st_open(rp, &refs, NULL), 0);
    return refs;
}

/* The float32 checkpoints: every output within 1e-4 of transformers, like model.safetensors. */
Test(torch, f32_checkpoints_match_transformers) {
    const char *dirs[] = {"zip-f32", "legacy-f32", "sharded-f32", "zip-views"};
    const char *formats[] = {"pytorch zip", "pytorch legacy", "pytorch zip", "pytorch zip"};
    FIXTURE(probe, TC "zip-f32");
    st_set *refs = open_refs();
    if (!refs) cr_skip_test("fixture " TINY "/refs.safetensors not found");
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char rel[256], dir[4096];
        snprintf(rel, sizeof rel, TC "%s", dirs[i]);
        cr_assert(fixture_path(dir, sizeof dir, rel), "fixture %s missing", rel);
        clip_ctx *c = load_model(dir, 0);
        const clip_info *in = clip_get_info(c);
        cr_expect_str_eq(in->format, formats[i], "%s", dirs[i]);
        cr_expect_str_eq(in->dtype, "F32", "%s: the int64 position_ids must not make it 'mixed'", dirs[i]);
        cr_log_info("%s: %s, %zu tensors copied at load", dirs[i], in->format, in->converted);
        check_tiny(c, refs, 1e-4f);
        clip_free(c);
    }
    st_close(refs);
}

/* Half precision: each stored weight is the float32 weight correctly rounded (within half an ulp,
 * i.e. the unit roundoff u = 2^-11 for F16, 2^-8 for BF16; `eps` below is the machine epsilon 2u),
 * and every output is within 16u of transformers' float32 outputs. Why 16u: weights off by at most
 * u relative perturb each output to first order by about (stages) x |value| x u; hidden states here
 * reach |4| and a value passes about four rounding-sensitive stages (two layers' attention and MLP
 * between layer norms), so 16u. Measured maxima (text hidden / vision hidden / text embeds): F16
 * 2.5e-3 / 2.1e-3 / 4.6e-4 (5.1u at worst), BF16 2.5e-2 / 1.5e-2 / 3.4e-3 (6.4u); the float32
 * checkpoints differ by 7e-6 at most. */
Test(torch, half_precision_checkpoints) {
    struct { const char *dir, *dtype; float eps, tol; } v[] = {{"zip-f16", "F16", 1.0f / 1024, 16.0f / 2048},
                                                              {"zip-bf16", "BF16", 1.0f / 128, 16.0f / 256}};
    FIXTURE(src, TINY "/model.safetensors");
    st_set *refs = open_refs(), *f32;
    cr_assert_eq(st_open(src, &f32, NULL), 0);
    for (size_t k = 0; k < 2; k++) {
        char rel[256], dir[4096], bin[4200];
        snprintf(rel, sizeof rel, TC "%s", v[k].dir);
        cr_assert(fixture_path(dir, sizeof dir, rel), "fixture %s missing", rel);
        snprintf(bin, sizeof bin, "%s/pytorch_model.bin", dir);
        st_set *s;
        cs_err e;
        cr_assert_eq(tc_open(bin, &s, &e), 0, "%s", e.msg);
        size_t checked = 0;
        for (size_t i = 0; i < st_count(f32); i++) {
            const st_tensor *a = st_at(f32, i), *b = st_find(s, a->name);
            cr_assert_not_null(b, "%s: tensor %s missing", v[k].dir, a->name);
            cr_assert_str_eq(st_dtype_name(b->dtype), v[k].dtype, "%s", a->name);
            cr_assert_eq(a->numel, b->numel);
            float *x = malloc((size_t)a->numel * sizeof *x), *y = malloc((size_t)b->numel * sizeof *y);
            st_to_f32(a, x);
            st_to_f32(b, y);
            for (int64_t j = 0; j < a->numel; j++)
                cr_assert_leq(fabsf(x[j] - y[j]), fabsf(x[j]) * v[k].eps / 2 + 1e-7f, "%s[%lld]: %g vs %g", a->name,
                              (long long)j, x[j], y[j]);
            free(x);
            free(y);
            checked++;
        }
        cr_assert_gt(checked, 40);
        st_close(s);
        clip_ctx *c = load_model(dir, 0);
        cr_expect_str_eq(clip_get_info(c)->dtype, v[k].dtype);
        check_tiny(c, refs, v[k].tol);
        clip_free(c);
    }
    st_close(f32);
    st_close(refs);
}

/* Every tensor of each float32 checkpoint equals the safetensors tensor bit for bit, the int64
 * position_ids buffers are there (and ignored by the CLIP loader: same parameter count), shared
 * storages are used in place and only the transposed fc1 view is copied. */
Test(torch, tensors_equal_safetensors_and_stay_in_place) {
    FIXTURE(src, TINY "/model.safetensors");
    FIXTURE(tiny, TINY);
    st_set *f32;
    cr_assert_eq(st_open(src, &f32, NULL), 0);
    const char *bins[] = {"zip-f32/pytorch_model.bin", "legacy-f32/pytorch_model.bin",
                          "sharded-f32/pytorch_model.bin.index.json", "zip-views/pytorch_model.bin"};
    for (size_t k = 0; k < 4; k++) {
        char rel[256], p[4096];
        snprintf(rel, sizeof rel, TC "%s", bins[k]);
        cr_assert(fixture_path(p, sizeof p, rel), "fixture %s missing", rel);
        st_set *s;
        cs_err e;
        cr_assert_eq(tc_open(p, &s, &e), 0, "%s", e.msg);
        for (size_t i = 0; i < st_count(f32); i++) {
            const st_tensor *a = st_at(f32, i), *b = st_find(s, a->name);
            cr_assert_not_null(b, "%s: %s missing", bins[k], a->name);
            cr_assert_eq(b->ndim, a->ndim);
            for (int d = 0; d < a->ndim; d++) cr_assert_eq(b->shape[d], a->shape[d], "%s", a->name);
            cr_assert_eq(b->nbytes, a->nbytes);
            cr_assert(memcmp(a->data, b->data, a->nbytes) == 0, "%s: %s differs", bins[k], a->name);
        }
        const char *pos[] = {"text_model.embeddings.position_ids", "vision_model.embeddings.position_ids"};
        int64_t n[] = {77, 50};
        for (int j = 0; j < 2; j++) {
            const st_tensor *t = st_find(s, pos[j]);
            cr_assert_not_null(t, "%s: %s", bins[k], pos[j]);
            cr_assert_eq(t->dtype, ST_I64);
            cr_assert(t->ndim == 2 && t->shape[0] == 1 && t->shape[1] == n[j]);
            int64_t last;
            memcpy(&last, (const unsigned char *)t->data + (n[j] - 1) * 8, 8);
            cr_assert_eq(last, n[j] - 1);
        }
        cr_assert_eq(st_count(s), st_count(f32) + 2);
        if (k == 3) {
            /* the two projections share one storage: both point into the file map, 2048 floats apart */
            const st_tensor *tp = st_find(s, "text_projection.weight"), *vp = st_find(s, "visual_projection.weight");
            cr_assert_eq((const char *)vp->data - (const char *)tp->data, 2048 * 4);
            cr_expect_eq(st_converted(s), 1, "only the transposed fc1 view is copied");
        } else {
            cr_expect_eq(st_converted(s), 0);
        }
        st_close(s);
    }
    st_close(f32);
    /* the CLIP loader counts the same parameters for .bin and .safetensors */
    char dir[4096];
    cr_assert(fixture_path(dir, sizeof dir, TC "legacy-f32"));
    clip_ctx *a = load_model(tiny, 0), *b = load_model(dir, 0);
    cr_expect_eq(clip_get_info(a)->total_params, clip_get_info(b)->total_params);
    clip_free(a);
    clip_free(b);
}

/* A text-only use of a .bin model reads no vision weight and not the token table. */
Test(torch, text_use_leaves_vision_weights_unread) {
    FIXTURE(dir, TC "zip-f32");
    clip_ctx *c = load_model(dir, 0);
    uint64_t r0 = clip_resident_bytes(c);
    float t[32], im[32];
    cs_err e;
    const char *txt = "a photo of a cat";
    cr_assert_eq(clip_texts_embed(c, &txt, 1, 1, t, &e), 0, "%s", e.msg);
    uint64_t r1 = clip_resident_bytes(c);
    float *px = calloc(3 * 224 * 224, sizeof *px);
    cr_assert_eq(clip_vision_forward(c, px, 1, 1, NULL, im, NULL), 0);
    uint64_t r2 = clip_resident_bytes(c);
    const clip_info *in = clip_get_info(c);
    cr_log_info("resident: load %llu, after text %llu, after vision %llu", (unsigned long long)r0,
                (unsigned long long)r1, (unsigned long long)r2);
    /* loading reads the pickle and each storage's zip header, then hands those pages back */
    cr_expect_leq(r0, 128u << 10, "loading left %llu bytes resident", (unsigned long long)r0);
    cr_expect_lt(r1, 1u << 20, "text-only use made %llu bytes resident", (unsigned long long)r1);
    cr_expect_gt(r2, r1 + in->vision_params * 4 / 2, "the vision pass should read the vision weights");
    free(px);
    clip_free(c);
}

/* model.safetensors wins over pytorch_model.bin in the same folder; the .bin alone is used. */
Test(torch, folder_prefers_safetensors) {
    FIXTURE(tiny, TINY);
    FIXTURE(bin, TC "zip-f32/pytorch_model.bin");
    char dir[64], p[4200], q[4200];
    make_tmpdir(dir, sizeof dir);
    const char *files[] = {"config.json", "vocab.json", "merges.txt", "preprocessor_config.json", "model.safetensors"};
    for (int i = 0; i < 5; i++) {
        char *rp = realpath(tiny, NULL);
        snprintf(p, sizeof p, "%s/%s", rp, files[i]);
        free(rp);
        snprintf(q, sizeof q, "%s/%s", dir, files[i]);
        cr_assert_eq(symlink(p, q), 0);
    }
    snprintf(q, sizeof q, "%s/pytorch_model.bin", dir);
    char *rb = realpath(bin, NULL);
    cr_assert_eq(symlink(rb, q), 0);
    free(rb);
    st_set *s;
    cs_err e;
    cr_assert_eq(wt_open_dir(dir, &s, &e), 0, "%s", e.msg);
    cr_expect_str_eq(st_format(s), "safetensors");
    st_close(s);
    snprintf(q, sizeof q, "%s/model.safetensors", dir);
    cr_assert_eq(unlink(q), 0);
    cr_assert_eq(wt_open_dir(dir, &s, &e), 0, "%s", e.msg);
    cr_expect_str_eq(st_format(s), "pytorch zip");
    st_close(s);
    snprintf(q, sizeof q, "%s/pytorch_model.bin", dir);
    cr_assert_eq(unlink(q), 0);
    cr_assert_neq(wt_open_dir(dir, &s, &e), 0);
    cr_expect(strstr(e.msg, "pytorch_model.bin") && strstr(e.msg, "model.safetensors"), "%s", e.msg);
    rm_rf(dir);
}

/* ---- hostile files ---- */

static void expect_refused(const char *name, const char *needle) {
    char rel[256], p[4096];
    snprintf(rel, sizeof rel, TC "hostile/%s", name);
    cr_assert(fixture_path(p, sizeof p, rel), "fixture %s missing", rel);
    st_set *s = NULL;
    cs_err e = {0};
    int rc = tc_open(p, &s, &e);
    cr_expect_lt(rc, 0, "%s should be refused", name);
    cr_expect_null(s);
    cr_expect(strstr(e.msg, needle) != NULL, "%s: message '%s' should mention '%s'", name, e.msg, needle);
    cr_expect(strstr(e.msg, name) != NULL, "%s: message '%s' should name the file", name, e.msg);
    cr_log_info("%s: %s", name, e.msg);
    st_close(s);
}

Test(torch, hostile_files_are_refused_and_never_run) {
    FIXTURE(readme, TC "hostile/README.json");
    struct stat sb;
    int canary_before = stat(CANARY, &sb) == 0;
    expect_refused("os-system.bin", "global 'posix.system' is refused");
    expect_refused("legacy-os-system.bin", "global 'posix.system' is refused");
    expect_refused("builtins-eval.bin", "global '__builtin__.eval' is refused");
    expect_refused("plain-pickle.bin", "not a PyTorch checkpoint");
    expect_refused("truncated.bin", "truncated");
    expect_refused("short-storage.bin", "short storage");
    expect_refused("short-storage.bin", "tensor 'w'");
    expect_refused("deep-nesting.bin", "nested too deep");
    expect_refused("deflated.bin", "compressed");
    cr_assert(!canary_before || stat(CANARY, &sb) == 0);
    cr_expect(canary_before || stat(CANARY, &sb) != 0, "the canary %s appeared", CANARY);
}

Test(torch, small_ok_loads) {
    FIXTURE(p, TC "hostile/small-ok.bin");
    st_set *s;
    cs_err e;
    cr_assert_eq(tc_open(p, &s, &e), 0, "%s", e.msg);
    cr_assert_eq(st_count(s), 1);
    const st_tensor *w = st_find(s, "w");
    cr_assert_not_null(w);
    cr_assert(w->dtype == ST_F32 && w->ndim == 1 && w->shape[0] == 4);
    float v[4];
    st_to_f32(w, v);
    for (int i = 0; i < 4; i++) cr_expect_eq(v[i], (float)i);
    st_close(s);
}

/* Every prefix of a valid file is refused (with the file named), never read past its end. */
Test(torch, every_truncation_is_an_error) {
    FIXTURE(zp, TC "hostile/small-ok.bin");
    FIXTURE(lp, TC "legacy-f32/pytorch_model.bin");
    const char *paths[] = {zp, lp};
    for (int k = 0; k < 2; k++) {
        size_t len;
        unsigned char *all = read_all(paths[k], &len);
        size_t step = len > 4096 ? len / 997 : 1;
        for (size_t n = 0; n < len; n += step) {
            unsigned char *b = malloc(n ? n : 1); /* exact size: ASan catches any read past the end */
            memcpy(b, all, n);
            st_set *s;
            cs_err e = {0};
            cr_assert_eq(st_new(&s, NULL), 0);
            int rc = tc_add_buffer(s, b, n, "cut.bin", &e);
            cr_expect_lt(rc, 0, "%s cut to %zu bytes loaded", paths[k], n);
            cr_expect(strstr(e.msg, "cut.bin") != NULL, "message '%s' should name the file", e.msg);
            st_close(s);
            free(b);
        }
        free(all);
    }
}

/* Pickle shapes the fixtures do not cover: a list appended to itself, a missing memo entry, an
 * unsupported opcode, and a nested value beyond PK_MAX_DEPTH. */
Test(torch, crafted_pickles_are_errors) {
#define CASE(bytes, needle) {bytes, sizeof bytes - 1, needle}
    struct { const char *p; size_t n; const char *needle; } v[] = {
        CASE("\x80\x02]q\x00h\x00" "a.", NULL), /* l = []; l.append(l): loads, no crash */
        CASE("\x80\x02h\x05.", "memo index was never stored"),
        CASE("\x80\x02\x81.", "opcode 0x81"),
        CASE("\x80\x02(ctorch._utils\n_rebuild_tensor_v2\n.", "ends with"),
        CASE("\x80\x02X\xff\x00\x00\x00" "ab.", "truncated"),
        CASE("\x80\x02" "cos\nsystem\n.", "global 'os.system' is refused"),
        CASE("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\0x\n.", "NUL byte"), /* no prefix match */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        pk_doc *d;
        const pk_val *root;
        cs_err e = {0};
        int rc = pk_load((const unsigned char *)v[i].p, v[i].n, "crafted", &d, &root, NULL, &e);
        if (!v[i].needle) cr_expect_eq(rc, 0, "case %zu: %s", i, e.msg);
        else cr_expect(rc < 0 && strstr(e.msg, v[i].needle), "case %zu: '%s' should mention '%s'", i, e.msg, v[i].needle);
        pk_free(d);
    }
    /* 70 nested one-element lists: past PK_MAX_DEPTH (64) */
    unsigned char deep[2 + 1 + 70 + 1], *q = deep;
    *q++ = 0x80;
    *q++ = 2;
    *q++ = ']';
    for (int i = 0; i < 70; i++) *q++ = 0x85; /* TUPLE1: ((([],),),) */
    *q++ = '.';
    pk_doc *d;
    const pk_val *root;
    cs_err e = {0};
    int rc = pk_load(deep, (size_t)(q - deep), "deep", &d, &root, NULL, &e);
    cr_expect(rc < 0 && strstr(e.msg, "nested deeper"), "'%s'", e.msg);
    pk_free(d);
}

/* The fuzz seeds (fuzz/make_pickle_seeds.py) cover what the fixtures do not: a legacy file with
 * a strided view and an F16 parameter (_rebuild_parameter), an OrderedDict with its _metadata
 * (BUILD), and a zip whose folder is named otherwise. */
Test(torch, seed_checkpoints_load_views_params_and_buffers) {
    const char *files[] = {"fuzz/seeds/pickle/zip.bin", "fuzz/seeds/pickle/legacy.bin",
                           "fuzz/seeds/pickle/zip-other-folder.bin"};
    const char *formats[] = {"pytorch zip", "pytorch legacy", "pytorch zip"};
    for (int k = 0; k < 3; k++) {
        st_set *s;
        cs_err e;
        cr_assert_eq(tc_open(files[k], &s, &e), 0, "%s", e.msg);
        cr_expect_str_eq(st_format(s), formats[k]);
        cr_assert_eq(st_count(s), 4);
        cr_expect_eq(st_converted(s), 1);
        float v[4];
        const st_tensor *t = st_find(s, "view"); /* storage 0..5, offset 2, size (2, 2), stride (1, 2) */
        cr_assert(t && t->dtype == ST_F32 && t->ndim == 2);
        st_to_f32(t, v);
        cr_expect(v[0] == 2 && v[1] == 4 && v[2] == 3 && v[3] == 5, "%s: view %g %g %g %g", files[k], v[0], v[1], v[2],
                  v[3]);
        t = st_find(s, "h");
        cr_assert(t && t->dtype == ST_F16 && t->numel == 4);
        st_to_f32(t, v);
        cr_expect(v[0] == 1 && v[1] == -2 && v[2] == 0.5f && v[3] == 65504);
        t = st_find(s, "position_ids");
        cr_assert(t && t->dtype == ST_I64 && t->shape[1] == 3);
        t = st_find(s, "w");
        cr_assert(t && t->numel == 4);
        st_close(s);
    }
}

/* Vectors are tagged with a model id: two .bin checkpoints with the same config.json but other
 * weights (F32 and F16 here) must not share one. */
Test(torch, model_id_tells_bin_checkpoints_apart) {
    FIXTURE(a, TC "zip-f32");
    FIXTURE(b, TC "zip-f16");
    FIXTURE(c, TC "legacy-f32");
    cs_err e;
    char *ia = index_model_id(a, &e), *ib = index_model_id(b, &e), *ic = index_model_id(c, &e);
    cr_assert(ia && ib && ic, "%s", e.msg);
    cr_expect_str_neq(ia + strlen(ia) - 12, ib + strlen(ib) - 12, "%s vs %s", ia, ib);
    cr_expect_str_neq(ia + strlen(ia) - 12, ic + strlen(ic) - 12, "%s vs %s", ia, ic);
    free(ia);
    free(ib);
    free(ic);
}

/* A legacy checkpoint of one F32 tensor 'w' of size (4096, 4096) over a storage of ONE element
 * with strides (0, 0) (an expand()ed view): a 200-byte file. Its view is inside its storage, yet
 * copying it row-major would make 64 MB; the reader must refuse such amplification (the copies of
 * a file's strided views may not exceed the file's bytes), not allocate and fill it. */
Test(torch, repeating_view_cannot_amplify_memory) {
    static const char magic[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.";
    static const char proto[] = "\x80\x02M\xe9\x03.";
    static const char sys[] = "\x80\x02}.";
    static const char dict[] =
        "\x80\x02}X\x01\x00\x00\x00w"
        "ctorch._utils\n_rebuild_tensor_v2\n("
        "(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x01Nt" "Q"
        "K\x00(M\x00\x10M\x00\x10t(K\x00K\x00ttRs.";
    static const char keys[] = "\x80\x02]X\x01\x00\x00\x00" "0a.";
    static const unsigned char storage[] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x3f}; /* 1 element: 1.0f */
    unsigned char buf[512];
    size_t n = 0;
    const struct { const void *p; size_t n; } parts[] = {{magic, sizeof magic - 1}, {proto, sizeof proto - 1},
                                                         {sys, sizeof sys - 1},     {dict, sizeof dict - 1},
                                                         {keys, sizeof keys - 1},   {storage, sizeof storage}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        memcpy(buf + n, parts[i].p, parts[i].n);
        n += parts[i].n;
    }
    st_set *s;
    cs_err e = {0};
    cr_assert_eq(st_new(&s, &e), 0);
    int rc = tc_add_buffer(s, buf, n, "expand.bin", &e);
    cr_expect(rc < 0 && strstr(e.msg, "tensor 'w'") && strstr(e.msg, "more bytes than the file"),
              "a %zu-byte file asked for a 64 MB copy: rc %d, '%s'", n, rc, e.msg);
    st_close(s);
}

/* The structure-aware seeds of fuzz/make_pickle_seeds.py beyond the fixtures: a legacy storage
 * view (view_key, offset, size), a small expand()ed view (stride 0, its copy within the file's
 * size), and a zip with a duplicate entry name and an entry named ../escape. */
Test(torch, seed_views_and_odd_zip_names) {
    st_set *s;
    cs_err e = {0};
    float v[12];
    cr_assert_eq(tc_open("fuzz/seeds/pickle/legacy-view.bin", &s, &e), 0, "%s", e.msg);
    const st_tensor *t = st_find(s, "legacy_view"); /* storage 0 = 0..5, view of elements 2..5 */
    cr_assert(t && t->numel == 4);
    st_to_f32(t, v);
    cr_expect(v[0] == 2 && v[1] == 3 && v[2] == 4 && v[3] == 5, "%g %g %g %g", v[0], v[1], v[2], v[3]);
    st_close(s);
    cr_assert_eq(tc_open("fuzz/seeds/pickle/zip-expand.bin", &s, &e), 0, "%s", e.msg);
    t = st_find(s, "expanded"); /* storage 0, offset 1, size (3, 4), stride (0, 0) */
    cr_assert(t && t->numel == 12);
    st_to_f32(t, v);
    for (int i = 0; i < 12; i++) cr_expect(v[i] == 1, "element %d: %g", i, v[i]);
    st_close(s);
    cr_expect_eq(tc_open("fuzz/seeds/pickle/zip-odd-names.bin", &s, &e), -1);
    cr_expect(strstr(e.msg, "'archive/version' appears twice"), "%s", e.msg);
}
