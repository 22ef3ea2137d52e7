/* image_encode: thumbnails and their JPEG output (libjpeg-turbo). See image.h. */
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

#include "image.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr;

static void on_error(j_common_ptr c) {
    jerr *e = (jerr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jb, 1);
}

int img_encode_jpeg(const img_rgb *im, int quality, unsigned char **out, size_t *len, cs_err *err) {
    *out = NULL;
    *len = 0;
    if (!im || im->w <= 0 || im->h <= 0 || !im->px) return cs_err_set(err, "JPEG: empty image");
    struct jpeg_compress_struct c;
    jerr je;
    /* b and bl have their address taken (jpeg_mem_dest), so they live in memory and keep
     * their values across the longjmp */
    unsigned char *b = NULL;
    unsigned long bl = 0;
    c.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = on_error;
    if (setjmp(je.jb)) {
        jpeg_destroy_compress(&c);
        free(b);
        return cs_err_set(err, "JPEG: %s", je.msg);
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &b, &bl);
    c.image_width = (JDIMENSION)im->w;
    c.image_height = (JDIMENSION)im->h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(im->px + (size_t)c.next_scanline * im->w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *out = b;
    *len = bl;
    return 0;
}

/* The thumbnail's size: aspect kept, long side max_side, never enlarged, at least 1 x 1. */
static void thumb_size(int w, int h, int max_side, int *tw, int *th) {
    if (w <= max_side && h <= max_side) {
        *tw = w;
        *th = h;
        return;
    }
    double f = (double)max_side / (w > h ? w : h);
    *tw = (int)(w * f + 0.5);
    *th = (int)(h * f + 0.5);
    if (*tw < 1) *tw = 1;
    if (*th < 1) *th = 1;
}

int img_thumbnail(const img_rgb *in, int max_side, img_rgb *out, cs_err *err) {
    memset(out, 0, sizeof *out);
    int tw, th;
    thumb_size(in->w, in->h, max_side, &tw, &th);
    if (tw == in->w && th == in->h) {
        size_t n = (size_t)in->w * in->h * 3;
        out->px = malloc(n ? n : 1);
        if (!out->px) return cs_errc(err, CS_ENOMEM, "out of memory");
        memcpy(out->px, in->px, n);
        out->w = in->w;
        out->h = in->h;
        return 0;
    }
    return img_resize(in, tw, th, IMG_BICUBIC, out, err);
}

/* One big decode at a time (see image.h). */
static pthread_mutex_t big_decode = PTHREAD_MUTEX_INITIALIZER;

int img_thumbnail_decode(const unsigned char *buf, size_t len, uint64_t max_pixels, int max_side, img_rgb *out,
                         cs_err *err) {
    memset(out, 0, sizeof *out);
    img_format f;
    int w, h, tw = 0, th = 0;
    if (max_side <= 0) return cs_err_set(err, "thumbnail size %d", max_side);
    int big = 0;
    /* a header that does not parse still goes to the decoder, whose message is the useful one */
    if (img_probe(buf, len, &f, &w, &h, NULL) == 0 && w > 0 && h > 0) {
        thumb_size(w, h, max_side, &tw, &th);
        big = (uint64_t)w * (uint64_t)h * 3 > IMG_THUMB_SERIAL_BYTES;
    }
    if (big) pthread_mutex_lock(&big_decode);
    img_rgb im;
    int rc = img_decode_scaled(buf, len, max_pixels, 2 * tw, 2 * th, &im, err);
    if (!rc) {
        /* the size comes from the full image's header: a reduced decode may be a pixel off its aspect */
        if (tw <= 0)
            rc = img_thumbnail(&im, max_side, out, err);
        else if (im.w == tw && im.h == th) {
            *out = im;
            im.px = NULL;
        } else
            rc = img_resize(&im, tw, th, IMG_BICUBIC, out, err);
        img_free(&im);
    }
    if (big) pthread_mutex_unlock(&big_decode);
    return rc;
}
