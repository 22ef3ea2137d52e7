/* Image decoding and CLIP preprocessing against the Hugging Face reference pixel values
 * (pixel-values.safetensors), plus broken and hostile files. */
#include <jansson.h>
#include <math.h>
#include <zlib.h>
#include <stdio.h> /* before jpeglib.h */
#include <jpeglib.h>
#include <png.h>
#include <pthread.h>
#include <sys/resource.h>

#include "../src/image/image.h"
#include "testutil.h"

Test(image, every_fixture_matches_reference_pixels) {
    FIXTURE(pv, "images/pixel-values.safetensors");
    FIXTURE(meta, "images/images.json");
    st_set *s;
    cs_err e;
    cr_assert_eq(st_open(pv, &s, &e), 0, "%s", e.msg);
    json_error_t je;
    json_t *root = json_load_file(meta, 0, &je), *imgs = json_object_get(root, "images"), *info;
    const char *name;
    int checked = 0;
    img_preproc p = img_default_preproc();
    float *out = malloc(3 * 224 * 224 * sizeof *out);
    json_object_foreach(imgs, name, info) {
        char path[4096];
        snprintf(path, sizeof path, "%s/images/%s", fixtures_dir(), name);
        img_rgb im;
        cr_assert_eq(img_load(path, 0, &im, &e), 0, "%s", e.msg);
        cr_expect_eq(im.w, json_integer_value(json_object_get(info, "width")), "%s width", name);
        cr_expect_eq(im.h, json_integer_value(json_object_get(info, "height")), "%s height", name);
        cr_assert_eq(img_preprocess(&im, &p, out, &e), 0, "%s: %s", name, e.msg);
        int64_t n;
        float *ref = load_ref(s, name, &n);
        cr_assert_eq(n, 3 * 224 * 224);
        double sum = 0;
        float mx = 0;
        for (int64_t i = 0; i < n; i++) {
            float d = fabsf(out[i] - ref[i]);
            sum += d;
            if (d > mx) mx = d;
        }
        cr_log_info("%-28s max %.4f mean %.5f", name, mx, sum / n);
        cr_expect_leq(mx, 0.031f, "%s: max difference %.4f", name, mx);
        cr_expect_leq(sum / n, 0.002, "%s: mean difference %.5f", name, sum / n);
        free(ref);
        img_free(&im);
        checked++;
    }
    cr_assert_geq(checked, 18);
    free(out);
    json_decref(root);
    st_close(s);
}

Test(image, resize_identity_and_tiny_images) {
    img_rgb one = {1, 1, (unsigned char[]){10, 200, 30}}, out;
    cr_assert_eq(img_resize(&one, 224, 224, IMG_BICUBIC, &out, NULL), 0);
    for (int i = 0; i < 224 * 224; i++) cr_assert(out.px[i * 3] == 10 && out.px[i * 3 + 1] == 200 && out.px[i * 3 + 2] == 30);
    img_free(&out);
    cs_err e;
    cr_assert_lt(img_resize(&one, 0, 5, IMG_BICUBIC, &out, &e), 0);
    cr_assert_lt(img_resize(&one, 5, 5, 0, &out, &e), 0);
}

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

Test(image, truncated_and_corrupt_files_fail_cleanly) {
    const char *files[] = {"images/chelsea.png", "images/chelsea_q95.jpg", "images/chelsea_progressive.jpg",
                           "images/chelsea_lossless.webp", "images/no_time_for_that_tiny.gif", "images/chelsea.bmp"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        FIXTURE(path, files[f]);
        size_t len;
        unsigned char *b = read_all(path, &len);
        img_rgb im, full;
        cs_err e;
        cr_assert_eq(img_decode(b, len, 0, &full, &e), 0, "%s", e.msg);
        size_t cuts[] = {0, 1, 7, 16, 30, len / 3, len / 2, len - 20};
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            e.msg[0] = 0;
            int rc = img_decode(b, cuts[c], 0, &im, &e);
            if (rc == 0) {
                /* only an animated GIF may lose its tail: the first frame was complete */
                cr_expect(strstr(files[f], ".gif") && im.w == full.w && im.h == full.h &&
                              memcmp(im.px, full.px, (size_t)im.w * im.h * 3) == 0,
                          "%s cut at %zu decoded", files[f], cuts[c]);
                img_free(&im);
            } else {
                cr_expect_neq(e.msg[0], 0, "%s cut at %zu: no message", files[f], cuts[c]);
            }
        }
        img_free(&full);
        /* flipped bytes in the middle: either a clean error or an image of the right size */
        for (size_t at = 64; at < len; at += len / 7 + 1) {
            unsigned char *cp = malloc(len);
            memcpy(cp, b, len);
            for (size_t k = at; k < at + 16 && k < len; k++) cp[k] ^= 0x5A;
            if (img_decode(cp, len, 0, &im, &e) == 0) {
                cr_expect_gt(im.w, 0);
                img_free(&im);
            }
            free(cp);
        }
        free(b);
    }
}

Test(image, huge_declared_dimensions_are_refused_before_decoding) {
    cs_err e;
    img_rgb im;
    /* PNG: a valid IHDR claiming 100000 x 100000, nothing else */
    unsigned char png[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                             0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0};
    uint32_t crc = (uint32_t)crc32(0, png + 12, 17);
    png[29] = (unsigned char)(crc >> 24); png[30] = (unsigned char)(crc >> 16);
    png[31] = (unsigned char)(crc >> 8); png[32] = (unsigned char)crc;
    cr_assert_eq(be32(png + 16), 100000);
    cr_assert_lt(img_decode(png, sizeof png, 0, &im, &e), 0);
    cr_assert(strstr(e.msg, "over the limit"), "%s", e.msg);
    /* a configurable limit: a real 512x512 image against a 100k-pixel cap */
    FIXTURE(ast, "images/astronaut.png");
    cr_assert_lt(img_load(ast, 100000, &im, &e), 0);
    cr_assert(strstr(e.msg, "over the limit"), "%s", e.msg);
    /* GIF: logical screen 65535 x 65535 */
    unsigned char gif[] = {'G', 'I', 'F', '8', '9', 'a', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x3b};
    cr_assert_lt(img_decode(gif, sizeof gif, 0, &im, &e), 0);
    cr_assert(strstr(e.msg, "over the limit"), "%s", e.msg);
    /* BMP: 30000 x 30000 x 24 bit header, no data */
    unsigned char bmp[54] = {'B', 'M'};
    bmp[10] = 54; bmp[14] = 40;
    bmp[18] = 0x30; bmp[19] = 0x75; bmp[22] = 0x30; bmp[23] = 0x75; bmp[26] = 1; bmp[28] = 24;
    cr_assert_lt(img_decode(bmp, sizeof bmp, 0, &im, &e), 0);
    cr_assert(strstr(e.msg, "over the limit"), "%s", e.msg);
    /* JPEG: SOF0 claiming 65500 x 65500 */
    unsigned char jpg[] = {0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, 0xff, 0xdc, 0xff, 0xdc, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
                           0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3f, 0, 0xFF, 0xD9};
    cr_assert_lt(img_decode(jpg, sizeof jpg, 0, &im, &e), 0);
    cr_assert_neq(e.msg[0], 0);
}

Test(image, not_an_image) {
    img_rgb im;
    cs_err e;
    cr_assert_lt(img_decode((const unsigned char *)"hello world", 11, 0, &im, &e), 0);
    cr_assert(strstr(e.msg, "not a PNG"), "%s", e.msg);
    cr_assert_lt(img_load("/nonexistent.png", 0, &im, &e), 0);
    cr_assert(strstr(e.msg, "/nonexistent.png"), "%s", e.msg);
}

Test(image, probe_reads_header_only) {
    FIXTURE(p, "images/chelsea_progressive.jpg");
    size_t len;
    unsigned char *b = read_all(p, &len);
    img_format f;
    int w, h;
    cr_assert_eq(img_probe(b, len, &f, &w, &h, NULL), 0);
    cr_assert_eq(f, IMG_JPEG);
    cr_assert_eq(w, 451);
    cr_assert_eq(h, 300);
    free(b);
}

/* ---- against Pillow, on edge cases generated here (tests/pillow_ref.py) ---- */

/* A w x h JPEG written row by row (no image in memory): RGB with a smooth pattern, or, ycck set, a
 * 4-component JPEG stored as YCCK (Adobe transform 2), which Pillow cannot write. */
static void write_jpeg(const char *path, int w, int h, int ycck) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr je;
    c.err = jpeg_std_error(&je);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = ycck ? 4 : 3;
    c.in_color_space = ycck ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    if (ycck) jpeg_set_colorspace(&c, JCS_YCCK);
    jpeg_set_quality(&c, 92, TRUE);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc((size_t)w * 4);
    unsigned seed = 7;
    while (c.next_scanline < c.image_height) {
        int y = (int)c.next_scanline;
        for (int i = 0; i < w * c.input_components; i++)
            row[i] = ycck ? (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16)
                          : (unsigned char)(i % 3 == 0 ? (i / 3) * 255 / w : i % 3 == 1 ? y * 255 / h : 128);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(row);
}

/* Reads a "W H\n" + pixels reference file. */
static unsigned char *read_ref(const char *path, int *w, int *h) {
    size_t len;
    unsigned char *b = read_all(path, &len);
    char *nl = memchr(b, '\n', len < 32 ? len : 32);
    cr_assert_not_null(nl, "%s: bad reference", path);
    cr_assert_eq(sscanf((char *)b, "%d %d", w, h), 2, "%s: bad reference", path);
    size_t at = (size_t)(nl + 1 - (char *)b);
    cr_assert_eq(len - at, (size_t)*w * *h * 3, "%s: bad reference size", path);
    memmove(b, b + at, len - at);
    return b;
}

static const char *python_with_pillow(void) {
    const char *e = getenv("PYTHON");
    static const char *cands[] = {NULL, "/usr/bin/python3", "python3"};
    cands[0] = e && *e ? e : NULL;
    for (size_t i = 0; i < 3; i++) {
        if (!cands[i]) continue;
        char cmd[512];
        snprintf(cmd, sizeof cmd, "%s -c 'import PIL' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0) return cands[i];
    }
    return NULL;
}

Test(image, edge_cases_match_pillow_bit_for_bit, .timeout = 120) {
    const char *py = python_with_pillow();
    if (!py) {
        const char *req = getenv("CLIPSEEK_REQUIRE_FIXTURES");
        cr_assert(!(req && !strcmp(req, "1")), "python3 with Pillow (python3-pil) is required");
        cr_skip_test("python3 with Pillow (python3-pil) not found");
    }
    char dir[256], cmd[1024], path[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/ycck.jpg", dir);
    write_jpeg(path, 41, 23, 1);
    snprintf(cmd, sizeof cmd, "%s tests/pillow_ref.py %s", py, dir);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
    const char *names[] = {"strip_3x1000.png", "strip_1000x2.png", "strip_1x700.png", "cmyk_adobe.jpg",
                           "cmyk_no_adobe.jpg", "ycck.jpg", "gif_past_screen.gif", "gif_past_screen_offset.gif",
                           "bmp16_555.bmp", "bmp16_565.bmp", "bmp8_short_palette.bmp", "rle8.bmp", "rle4.bmp",
                           "rle4_topdown.bmp", "rle8_truncated.bmp"};
    img_preproc p = img_default_preproc();
    float *got = malloc(3 * 224 * 224 * sizeof *got), *want = malloc(3 * 224 * 224 * sizeof *want);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        img_rgb im;
        cs_err e;
        snprintf(path, sizeof path, "%s/%s.err", dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0) { /* Pillow refuses it: so must we, with a message */
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            e.msg[0] = 0;
            cr_expect_lt(img_load(path, 0, &im, &e), 0, "%s: Pillow refuses it, we decoded it", names[i]);
            cr_expect_neq(e.msg[0], 0);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        cr_assert_eq(img_load(path, 0, &im, &e), 0, "%s: %s", names[i], e.msg);
        int w, h;
        snprintf(path, sizeof path, "%s/%s.rgb", dir, names[i]);
        unsigned char *ref = read_ref(path, &w, &h);
        cr_assert(im.w == w && im.h == h, "%s: %dx%d, Pillow %dx%d", names[i], im.w, im.h, w, h);
        size_t diff = 0, first = 0;
        for (size_t k = 0; k < (size_t)w * h * 3; k++)
            if (im.px[k] != ref[k] && !diff++) first = k;
        cr_expect_eq(diff, 0, "%s: %zu of %zu bytes differ from Pillow, first at pixel %zu: %u vs %u", names[i], diff,
                     (size_t)w * h * 3, first / 3, im.px[first], ref[first]);
        free(ref);
        /* preprocessing: Pillow's resize and crop, then the same float scaling */
        snprintf(path, sizeof path, "%s/%s.crop", dir, names[i]);
        unsigned char *crop = read_ref(path, &w, &h);
        cr_assert_eq(img_preprocess(&im, &p, got, &e), 0, "%s: %s", names[i], e.msg);
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 224 * 224; k++)
                want[c * 224 * 224 + k] = (crop[k * 3 + c] * p.rescale - p.mean[c]) / p.std[c];
        cr_expect_eq(memcmp(got, want, 3 * 224 * 224 * sizeof *got), 0, "%s: preprocessed pixels differ from Pillow's",
                     names[i]);
        free(crop);
        img_free(&im);
    }
    free(got);
    free(want);
    rm_rf(dir);
}

Test(image, resize_window_equals_crop_of_full_resize) {
    img_rgb in = {37, 23, malloc(37 * 23 * 3)}, full, win;
    unsigned seed = 99;
    for (int i = 0; i < 37 * 23 * 3; i++) in.px[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
    const int sizes[][2] = {{224, 139}, {11, 7}, {37, 61}, {90, 23}, {5, 400}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int fil = 1; fil <= 5; fil++) {
            int w = sizes[s][0], h = sizes[s][1];
            cr_assert_eq(img_resize(&in, w, h, fil, &full, NULL), 0);
            const int wins[][4] = {{0, 0, w, h}, {w / 3, h / 4, w / 2 + 1, h / 2 + 1}, {w - 1, h - 1, 1, 1}, {0, h / 2, w, 1}};
            for (size_t k = 0; k < 4; k++) {
                int x0 = wins[k][0], y0 = wins[k][1], ww = wins[k][2], wh = wins[k][3];
                cr_assert_eq(img_resize_window(&in, w, h, fil, x0, y0, ww, wh, &win, NULL), 0);
                cr_assert(win.w == ww && win.h == wh);
                for (int y = 0; y < wh; y++)
                    cr_assert_eq(memcmp(win.px + (size_t)y * ww * 3, full.px + ((size_t)(y0 + y) * w + x0) * 3, (size_t)ww * 3), 0,
                                 "%dx%d filter %d window %zu row %d", w, h, fil, k, y);
                img_free(&win);
            }
            cs_err e;
            cr_assert_lt(img_resize_window(&in, w, h, fil, 1, 0, w, h, &win, &e), 0, "a window past the edge is refused");
            img_free(&full);
        }
    free(in.px);
}

/* A 1x20000 strip resized to 224x4480000 and cropped: only the crop may be built (before: 3 GB). */
Test(image, thin_strip_preprocessing_costs_the_crop_not_the_strip, .timeout = 20) {
    const int sizes[][2] = {{1, 20000}, {42000, 1}};
    float *out = malloc(3 * 224 * 224 * sizeof *out);
    img_preproc p = img_default_preproc();
    for (int s = 0; s < 2; s++) {
        img_rgb in = {sizes[s][0], sizes[s][1], malloc((size_t)sizes[s][0] * sizes[s][1] * 3)};
        for (size_t i = 0; i < (size_t)in.w * in.h * 3; i++) in.px[i] = (unsigned char)(i * 37);
        cs_err e;
        cr_assert_eq(img_preprocess(&in, &p, out, &e), 0, "%s", e.msg);
        free(in.px);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    cr_expect_lt(ru.ru_maxrss, 200 * 1024, "peak memory %ld kB: the whole resized strip was built", ru.ru_maxrss);
    free(out);
}

Test(image, messages_say_what_the_file_is) {
    static const struct { const char *data; size_t len; const char *want; } cases[] = {
        {"", 0, "empty"},
        {"BMW owners club: meeting on Tuesday\n", 36, "text"},
        {"BM", 2, "text"},
        {"II*\0\x08\0\0\0", 8, "TIFF"},
        {"MM\0*\0\0\0\x08", 8, "TIFF"},
        {"\0\0\1\0\1\0\x10\x10", 8, "ICO"},
        {"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>", 63, "SVG"},
        {"\0\0\0\x1c" "ftypheic\0\0\0\0", 16, "HEIC"},
        {"%PDF-1.7\n\xe2\xe3\xcf\xd3\n", 14, "PDF"},
        {"\x01\x02\x03\x04\x05\x06\x07\x08", 8, "unknown format"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        img_rgb im;
        cs_err e;
        cr_assert_lt(img_decode((const unsigned char *)cases[i].data, cases[i].len, 0, &im, &e), 0);
        cr_expect(strstr(e.msg, cases[i].want), "case %zu: \"%s\" does not say %s", i, e.msg, cases[i].want);
    }
    /* a real BMP header is never taken for text */
    unsigned char bmp[58] = {'B', 'M', 58, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 24};
    img_rgb im;
    cr_assert_eq(img_decode(bmp, sizeof bmp, 0, &im, NULL), 0);
    img_free(&im);
}

/* RLE8 delta records (skip right, then up; skipped pixels are index 0), which Debian's Pillow 9.4
 * misreads (it consumes 4 bytes); later Pillow reads them as here. */
Test(image, bmp_rle8_delta) {
    unsigned char f[14 + 40 + 8 + 14] = {'B', 'M'};
    f[10] = 14 + 40 + 8; f[14] = 40; f[18] = 4; f[22] = 3; f[26] = 1; f[28] = 8; f[30] = 1; f[46] = 2;
    unsigned char pal[8] = {0, 0, 0, 0, 30, 20, 10, 0}; /* index 0 black, 1 = RGB(10, 20, 30) */
    memcpy(f + 54, pal, 8);
    unsigned char rle[14] = {2, 1, 0, 2, 1, 1, 1, 1, 0, 0, 4, 1, 0, 1}; /* 1 1, delta (1,1), 1, EOL, 1 1 1 1, EOB */
    memcpy(f + 62, rle, 14);
    img_rgb im;
    cs_err e;
    cr_assert_eq(img_decode(f, sizeof f, 0, &im, &e), 0, "%s", e.msg);
    /* file rows bottom-up: row 0 = 1 1 0 0 / row 1 = 0 0 0 1 (delta lands at x 3), padded / row 2 = 1 1 1 1 */
    static const int want[3][4] = {{1, 1, 1, 1}, {0, 0, 0, 1}, {1, 1, 0, 0}};
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 4; x++)
            cr_expect_eq(im.px[(y * 4 + x) * 3], want[y][x] ? 10 : 0, "pixel %d,%d", x, y);
    img_free(&im);
}

Test(image, pixel_cap_is_pillows) {
    /* PNG headers alone: 108 MP passes the cap (and then fails as truncated), 180 MP does not */
    const uint32_t dims[][2] = {{12000, 9000}, {15000, 12000}};
    for (int i = 0; i < 2; i++) {
        unsigned char png[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
        for (int k = 0; k < 4; k++) {
            png[16 + k] = (unsigned char)(dims[i][0] >> (24 - 8 * k));
            png[20 + k] = (unsigned char)(dims[i][1] >> (24 - 8 * k));
        }
        png[24] = 8; png[25] = 2;
        uint32_t crc = (uint32_t)crc32(0, png + 12, 17);
        for (int k = 0; k < 4; k++) png[29 + k] = (unsigned char)(crc >> (24 - 8 * k));
        img_rgb im;
        cs_err e;
        cr_assert_lt(img_decode(png, sizeof png, 0, &im, &e), 0);
        cr_expect_eq(strstr(e.msg, "over the limit") != NULL, i == 1, "%ux%u: %s", dims[i][0], dims[i][1], e.msg);
    }
    cr_assert_eq(IMG_DEFAULT_MAX_PIXELS, 178956970ull);
}

/* ---- thumbnails: decoded scaled, big decodes one at a time ---- */

/* A w x h 8-bit RGB PNG written row by row: the same smooth pattern as write_jpeg. */
static void write_png(const char *path, int w, int h, int interlace) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    int passes = interlace ? png_set_interlace_handling(png) : 1;
    unsigned char *row = malloc((size_t)w * 3);
    for (int p = 0; p < passes; p++)
        for (int y = 0; y < h; y++) {
            for (int i = 0; i < w * 3; i++)
                row[i] = (unsigned char)(i % 3 == 0 ? (i / 3) * 255 / w : i % 3 == 1 ? y * 255 / h : 128);
            png_write_row(png, row);
        }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(row);
}

#ifdef __SANITIZE_ADDRESS__
/* AddressSanitizer keeps freed blocks in a 256 MB quarantine, which the peak-memory checks below
 * would count as live decodes; a 16 MB one still catches recent use-after-free. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "quarantine_size_mb=16"; }
#endif

static long maxrss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* The thumbnail of a decode-scaled image is close to the one of the full image (same size, same
 * picture), and the scaled decode's memory does not follow the full image. */
Test(image, thumbnails_decode_scaled_with_bounded_memory, .timeout = 60) {
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    const struct { const char *name; int w, h, png, interlace; } cases[] = {
        {"small.jpg", 1203, 801, 0, 0}, {"small.png", 1203, 801, 1, 0}, {"small_i.png", 1203, 801, 1, 1},
        {"thin.png", 20000, 3, 1, 0},   {"big.jpg", 8000, 6000, 0, 0},  {"big.png", 8000, 8000, 1, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
        if (cases[i].png) write_png(path, cases[i].w, cases[i].h, cases[i].interlace);
        else write_jpeg(path, cases[i].w, cases[i].h, 0);
        size_t len;
        unsigned char *b = read_all(path, &len);
        img_rgb th, full, ref;
        cs_err e;
        long before = maxrss_kb();
        cr_assert_eq(img_thumbnail_decode(b, len, 0, 320, &th, &e), 0, "%s: %s", cases[i].name, e.msg);
        long grew = maxrss_kb() - before;
        if (!strncmp(cases[i].name, "big", 3)) {
            /* full size would be 144 MB (JPEG) and 192 MB (PNG) */
            cr_expect_lt(grew, 16 * 1024, "%s: peak memory grew by %ld kB", cases[i].name, grew);
        } else {
            cr_assert_eq(img_decode(b, len, 0, &full, &e), 0, "%s", e.msg);
            cr_assert_eq(img_thumbnail(&full, 320, &ref, &e), 0);
            cr_assert(th.w == ref.w && th.h == ref.h, "%s: %dx%d, full decode gives %dx%d", cases[i].name, th.w, th.h,
                      ref.w, ref.h);
            double sum = 0;
            for (size_t k = 0; k < (size_t)th.w * th.h * 3; k++) sum += abs(th.px[k] - ref.px[k]);
            cr_expect_lt(sum / ((double)th.w * th.h * 3), 2.0, "%s: mean difference %.2f levels", cases[i].name,
                         sum / ((double)th.w * th.h * 3));
            img_free(&full);
            img_free(&ref);
        }
        cr_expect(th.w <= 320 && th.h <= 320 && (th.w == 320 || th.h == 320), "%s: %dx%d", cases[i].name, th.w, th.h);
        img_free(&th);
        free(b);
    }
    rm_rf(dir);
}

typedef struct { const unsigned char *b; size_t len; int rc; } thumb_job;

static void *thumb_thread(void *arg) {
    thumb_job *j = arg;
    img_rgb th;
    j->rc = img_thumbnail_decode(j->b, j->len, 0, 320, &th, NULL);
    img_free(&th);
    return NULL;
}

/* Eight parallel thumbnails of a 5000x4000 BMP (no scaled decoding for BMP: 60 MB each at full
 * size) hold one full-size decode at a time. */
Test(image, parallel_big_thumbnail_decodes_are_serialised, .timeout = 120) {
    const int w = 5000, h = 4000;
    size_t stride = (size_t)w * 3, len = 54 + stride * h;
    unsigned char *b = calloc(len, 1);
    b[0] = 'B'; b[1] = 'M'; b[10] = 54; b[14] = 40; b[26] = 1; b[28] = 24;
    memcpy(b + 18, &(int32_t){w}, 4);
    memcpy(b + 22, &(int32_t){h}, 4);
    for (size_t i = 54; i < len; i++) b[i] = (unsigned char)(i * 7 / 3); /* touch every page: it is resident */
    long before = maxrss_kb();
    pthread_t t[8];
    thumb_job j[8];
    for (int i = 0; i < 8; i++) {
        j[i] = (thumb_job){b, len, -1};
        cr_assert_eq(pthread_create(&t[i], NULL, thumb_thread, &j[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(j[i].rc, 0);
    }
    long grew = maxrss_kb() - before;
    /* one decode is 60 MB, plus its resize's intermediate; two at once would pass 120 MB */
    cr_expect_lt(grew, 110 * 1024, "peak memory grew by %ld kB for 8 parallel thumbnails", grew);
    free(b);
}

/* Bit-field BMPs, 16 and 32 bits per pixel with their default masks (5-5-5 and 8-8-8): one
 * pixel each, scaled to 8 bits as Pillow does (x * 255 / max, floored). */
Test(image, bmp_bitfields_16_and_32_bits) {
    for (int bpp = 16; bpp <= 32; bpp += 16) {
        unsigned char bmp[58] = {'B', 'M'};
        bmp[10] = 54;
        bmp[14] = 40;
        bmp[18] = 1; /* 1 x 1 */
        bmp[22] = 1;
        bmp[26] = 1;
        bmp[28] = (unsigned char)bpp;
        uint32_t px = bpp == 16 ? (31u << 10 | 16u << 5 | 1u) : 0xff8001u;
        for (int i = 0; i < 4; i++) bmp[54 + i] = (unsigned char)(px >> (8 * i));
        img_rgb im;
        cs_err e = {0};
        cr_assert_eq(img_decode(bmp, sizeof bmp, 0, &im, &e), 0, "%d bits: %s", bpp, e.msg);
        cr_assert_eq(im.w, 1);
        cr_expect_eq(im.px[0], 255, "%d bits: red", bpp);
        cr_expect_eq(im.px[1], bpp == 16 ? 16 * 255 / 31 : 0x80, "%d bits: green", bpp);
        cr_expect_eq(im.px[2], bpp == 16 ? 255 / 31 : 1, "%d bits: blue", bpp);
        img_free(&im);
    }
}
