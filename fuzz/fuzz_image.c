/* Fuzz target: image decoding (PNG, JPEG, WebP, GIF, BMP), CLIP preprocessing and thumbnails. */
#include <stdint.h>
#include <stdlib.h>

#include "../src/image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    img_rgb im;
    cs_err e;
    img_format f;
    int w, h;
    img_probe(data, size, &f, &w, &h, &e);
    /* a small pixel cap keeps the fuzzer fast; the limit itself is what is being tested */
    if (img_decode(data, size, 1u << 20, &im, &e) == 0) {
        if (im.w <= 0 || im.h <= 0 || (uint64_t)im.w * im.h > (1u << 20)) abort();
        img_preproc p = img_default_preproc();
        p.shortest_edge = p.crop_w = p.crop_h = 32;
        float out[3 * 32 * 32];
        if (img_preprocess(&im, &p, out, &e) != 0) abort();
        img_free(&im);
    }
    /* the thumbnail path: scaled JPEG and streamed PNG decoding */
    img_rgb th;
    if (img_thumbnail_decode(data, size, 1u << 20, 16, &th, &e) == 0) {
        if (th.w <= 0 || th.h <= 0 || th.w > 16 || th.h > 16) abort();
        img_free(&th);
    }
    return 0;
}
