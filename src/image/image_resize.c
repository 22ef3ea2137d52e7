/* image_resize: Pillow's antialiased resampler (libImaging/Resample.c) for 8-bit RGB, and the CLIP
 * preprocessing built on it. See image.h.
 *
 * Why reproduce Pillow bit for bit: the reference embeddings were made from Pillow-resized pixels;
 * a different resampler moves pixels by several levels and the embeddings with them. The two-pass
 * structure (horizontal into an intermediate 8-bit image, then vertical), the coefficient
 * normalisation, the fixed-point rounding (22 fractional bits, +0.5 bias, clip to 0..255) and the
 * source-row window of the first pass are Pillow's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

#define PRECISION_BITS (32 - 8 - 2)

static double f_box(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }
static double f_bilinear(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}
static double f_hamming(double x) {
    if (x < 0.0) x = -x;
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x = x * M_PI;
    return sin(x) / x * (0.54 + 0.46 * cos(x));
}
static double f_bicubic(double x) {
    const double a = -0.5; /* Pillow's choice */
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}
static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}
static double f_lanczos(double x) {
    if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3);
    return 0.0;
}

typedef struct {
    double (*fn)(double);
    double support;
} filter;

/* Pillow's precompute_coeffs followed by normalize_coeffs_8bpc, for the output indices
 * [first, first + count) of an in_size -> out_size resize. Each output index's coefficients depend
 * only on that index, so a window gets exactly the values the whole range would. Returns ksize, or
 * -1 on OOM. */
static int coeffs(int in_size, int out_size, int first, int count, const filter *f, int **boundsp, int32_t **kkp) {
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f->support * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *kk = malloc((size_t)count * ksize * sizeof *kk);
    int *bounds = malloc((size_t)count * 2 * sizeof *bounds);
    int32_t *ik = malloc((size_t)count * ksize * sizeof *ik);
    if (!kk || !bounds || !ik) {
        free(kk);
        free(bounds);
        free(ik);
        return -1;
    }
    for (int i = 0; i < count; i++) {
        int xx = first + i;
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = &kk[(size_t)i * ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double w = f->fn((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        bounds[i * 2] = xmin;
        bounds[i * 2 + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)count * ksize; i++)
        ik[i] = kk[i] < 0 ? (int32_t)(-0.5 + kk[i] * (1 << PRECISION_BITS))
                          : (int32_t)(0.5 + kk[i] * (1 << PRECISION_BITS));
    free(kk);
    *boundsp = bounds;
    *kkp = ik;
    return ksize;
}

static inline unsigned char clip8(int32_t v) {
    v >>= PRECISION_BITS;
    return v < 0 ? 0 : v > 255 ? 255 : (unsigned char)v;
}

int img_resize(const img_rgb *in, int w, int h, int fil, img_rgb *out, cs_err *err) {
    return img_resize_window(in, w, h, fil, 0, 0, w, h, out, err);
}

int img_resize_window(const img_rgb *in, int w, int h, int fil, int wx, int wy, int ww, int wh, img_rgb *out,
                      cs_err *err) {
    memset(out, 0, sizeof *out);
    static const filter filters[] = {[IMG_LANCZOS] = {f_lanczos, 3.0},
                                     [IMG_BILINEAR] = {f_bilinear, 1.0},
                                     [IMG_BICUBIC] = {f_bicubic, 2.0},
                                     [IMG_BOX] = {f_box, 0.5},
                                     [IMG_HAMMING] = {f_hamming, 1.0}};
    if (fil < 1 || fil > 5) return cs_err_set(err, "resample filter %d is not supported (1-5)", fil);
    if (w <= 0 || h <= 0 || in->w <= 0 || in->h <= 0) return cs_err_set(err, "resize to %dx%d: bad size", w, h);
    if (wx < 0 || wy < 0 || ww <= 0 || wh <= 0 || ww > w - wx || wh > h - wy)
        return cs_err_set(err, "resize to %dx%d: window %dx%d at %d,%d is outside the image", w, h, ww, wh, wx, wy);
    if ((uint64_t)ww * wh > (1ull << 31)) return cs_err_set(err, "resize to %dx%d: window too large", ww, wh);
    const filter *f = &filters[fil];
    int *bh = NULL, *bv = NULL;
    int32_t *kh = NULL, *kv = NULL;
    int ksh = coeffs(in->w, w, wx, ww, f, &bh, &kh), ksv = coeffs(in->h, h, wy, wh, f, &bv, &kv);
    unsigned char *tmp = NULL;
    if (ksh < 0 || ksv < 0) goto oom;
    /* Pillow skips a pass whose size does not change; the window changes which output pixels are
     * computed, never how. */
    int need_h = w != in->w, need_v = h != in->h;
    /* First pass covers only the source rows the second pass reads (Pillow's ybox), and only the
     * window's columns. */
    int y0 = need_v ? bv[0] : wy, y1 = need_v ? bv[(wh - 1) * 2] + bv[(wh - 1) * 2 + 1] : wy + wh;
    const unsigned char *src = in->px;
    size_t sw = (size_t)in->w; /* pixels per row of src */
    int srow0 = 0, scol0 = wx; /* src coordinates of the window's first column (no horizontal pass) */
    if (need_h) {
        tmp = malloc((size_t)ww * (y1 - y0) * 3);
        if (!tmp) goto oom;
        for (int y = y0; y < y1; y++) {
            const unsigned char *r = in->px + (size_t)y * in->w * 3;
            unsigned char *o = tmp + (size_t)(y - y0) * ww * 3;
            for (int xx = 0; xx < ww; xx++) {
                int xmin = bh[xx * 2], xmax = bh[xx * 2 + 1];
                const int32_t *k = &kh[(size_t)xx * ksh];
                int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < xmax; x++) {
                    const unsigned char *p = r + (size_t)(x + xmin) * 3;
                    s0 += p[0] * k[x];
                    s1 += p[1] * k[x];
                    s2 += p[2] * k[x];
                }
                o[xx * 3] = clip8(s0);
                o[xx * 3 + 1] = clip8(s1);
                o[xx * 3 + 2] = clip8(s2);
            }
        }
        src = tmp;
        sw = (size_t)ww;
        srow0 = y0;
        scol0 = 0;
    }
    out->px = malloc((size_t)ww * wh * 3);
    if (!out->px) goto oom;
    out->w = ww;
    out->h = wh;
    if (need_v) {
        for (int yy = 0; yy < wh; yy++) {
            int ymin = bv[yy * 2] - srow0, ymax = bv[yy * 2 + 1];
            const int32_t *k = &kv[(size_t)yy * ksv];
            unsigned char *o = out->px + (size_t)yy * ww * 3;
            const unsigned char *s = src + (size_t)scol0 * 3;
            for (int xx = 0; xx < ww * 3; xx++) {
                int32_t acc = 1 << (PRECISION_BITS - 1);
                for (int y = 0; y < ymax; y++) acc += s[(size_t)(y + ymin) * sw * 3 + xx] * k[y];
                o[xx] = clip8(acc);
            }
        }
    } else {
        for (int y = 0; y < wh; y++)
            memcpy(out->px + (size_t)y * ww * 3, src + ((size_t)(wy + y - srow0) * sw + scol0) * 3, (size_t)ww * 3);
    }
    free(tmp);
    free(bh);
    free(bv);
    free(kh);
    free(kv);
    return 0;
oom:
    free(tmp);
    free(bh);
    free(bv);
    free(kh);
    free(kv);
    img_free(out);
    return cs_err_set(err, "out of memory while resizing to %dx%d", w, h);
}

img_preproc img_default_preproc(void) {
    img_preproc p = {1,
                     1,
                     1,
                     1,
                     224,
                     224,
                     224,
                     IMG_BICUBIC,
                     1.0f / 255.0f,
                     {0.48145466f, 0.4578275f, 0.40821073f},
                     {0.26862954f, 0.26130258f, 0.27577711f}};
    return p;
}

int img_preprocess(const img_rgb *in, const img_preproc *p, float *out, cs_err *err) {
    img_rgb rs = {0};
    const img_rgb *src = in;
    int w = in->w, h = in->h; /* size after resizing */
    int cw = p->crop_w, ch = p->crop_h;
    if (p->do_resize) {
        int sh = p->shortest_edge;
        if (sh <= 0) return cs_err_set(err, "bad shortest_edge %d", sh);
        /* transformers' get_resize_output_image_size: new_long = int(size * long / short) */
        double l = (double)sh * (in->w <= in->h ? in->h : in->w) / (in->w <= in->h ? in->w : in->h);
        if (l > 2147483647.0) return cs_err_set(err, "image is %dx%d: too thin to resize", in->w, in->h);
        if (in->w <= in->h) {
            w = sh;
            h = (int)l;
        } else {
            h = sh;
            w = (int)l;
        }
    }
    if (!p->do_center_crop && (w != cw || h != ch))
        return cs_err_set(err, "image is %dx%d after resizing but the model takes %dx%d and cropping is off", w, h, cw,
                          ch);
    /* floor offsets; a crop larger than the image pads with zeros (transformers' center_crop) */
    int top = (h - ch) / 2, left = (w - cw) / 2;
    if (h < ch) top = -((ch - h + 1) / 2);
    if (w < cw) left = -((cw - w + 1) / 2);
    /* Only the part of the resized image that the crop keeps is computed (see img_resize_window);
     * src then holds that window, whose top-left is (wx, wy) of the resized image. */
    int wx = left > 0 ? left : 0, wy = top > 0 ? top : 0;
    if (w != in->w || h != in->h) {
        int ww = (left + cw < w ? left + cw : w) - wx, wh = (top + ch < h ? top + ch : h) - wy;
        if (img_resize_window(in, w, h, p->resample, wx, wy, ww, wh, &rs, err)) return -1;
        src = &rs;
    } else {
        wx = wy = 0;
    }
    for (int c = 0; c < 3; c++) {
        float scale = p->do_rescale ? p->rescale : 1.0f;
        float mean = p->do_normalize ? p->mean[c] : 0.0f, std = p->do_normalize ? p->std[c] : 1.0f;
        for (int y = 0; y < ch; y++)
            for (int x = 0; x < cw; x++) {
                int sy = y + top - wy, sx = x + left - wx;
                float v = 0.0f;
                if (sy >= 0 && sy < src->h && sx >= 0 && sx < src->w)
                    v = src->px[((size_t)sy * src->w + sx) * 3 + c] * scale;
                out[((size_t)c * ch + y) * cw + x] = (v - mean) / std;
            }
    }
    img_free(&rs);
    return 0;
}
