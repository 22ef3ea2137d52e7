/* image_encode: JPEG output for thumbnails (libjpeg-turbo). See image.h. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

#include "image.h"

typedef struct { struct jpeg_error_mgr pub; jmp_buf jb; char msg[JMSG_LENGTH_MAX]; } jerr;

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

int img_thumbnail(const img_rgb *in, int max_side, img_rgb *out, cs_err *err) {
    memset(out, 0, sizeof *out);
    int w = in->w, h = in->h;
    if (w <= max_side && h <= max_side) {
        size_t n = (size_t)w * h * 3;
        out->px = malloc(n ? n : 1);
        if (!out->px) return cs_err_set(err, "out of memory");
        memcpy(out->px, in->px, n);
        out->w = w;
        out->h = h;
        return 0;
    }
    double f = (double)max_side / (w > h ? w : h);
    int tw = (int)(w * f + 0.5), th = (int)(h * f + 0.5);
    return img_resize(in, tw < 1 ? 1 : tw, th < 1 ? 1 : th, IMG_BICUBIC, out, err);
}
