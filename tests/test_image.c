/* Image decoding and CLIP preprocessing against the Hugging Face reference pixel values
 * (pixel-values.safetensors), plus broken and hostile files. */
#include <jansson.h>
#include <math.h>
#include <zlib.h>

#include "../src/model/image.h"
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
