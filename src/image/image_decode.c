/* image_decode: PNG (libpng), JPEG (libjpeg-turbo), WebP (libwebp), GIF (giflib) and BMP (our own,
 * no Debian library decodes it) to 8-bit RGB, as Pillow's convert("RGB") would. See image.h.
 *
 * Every decoder reads the dimensions first and refuses images over the pixel limit before any
 * pixel buffer exists. Library error paths use setjmp/longjmp (libpng, libjpeg): everything that
 * must be freed after a longjmp is kept in volatile locals or in a struct reachable from it. */
#include <stdio.h> /* before jpeglib.h, which uses FILE */

#include <gif_lib.h>
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include "../common/cs_file.h"
#include "image.h"

/* Text (ASCII or UTF-8; an SVG too): no control bytes but tab and line ends in the first 512 bytes.
 * A real BMP header always has some (its size, reserved and offset fields hold zero bytes). */
static int looks_text(const unsigned char *b, size_t n) {
    for (size_t i = 0; i < n && i < 512; i++)
        if (b[i] < 0x20 && b[i] != '\n' && b[i] != '\r' && b[i] != '\t') return 0;
    return n > 0;
}

img_format img_sniff(const unsigned char *b, size_t n) {
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return IMG_PNG;
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return IMG_JPEG;
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0) return IMG_WEBP;
    if (n >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0)) return IMG_GIF;
    if (n >= 2 && b[0] == 'B' && b[1] == 'M' && !looks_text(b, n)) return IMG_BMP; /* "BMW owners: ..." */
    return IMG_UNKNOWN;
}

const char *img_format_name(img_format f) {
    static const char *n[] = {"unknown", "PNG", "JPEG", "WebP", "GIF", "BMP"};
    return n[f];
}

void img_free(img_rgb *im) {
    if (!im) return;
    free(im->px);
    im->px = NULL;
    im->w = im->h = 0;
}

static int check_dims(int64_t w, int64_t h, uint64_t max_pixels, cs_err *err) {
    if (w <= 0 || h <= 0) return cs_err_set(err, "image has no pixels (%lldx%lld)", (long long)w, (long long)h);
    if ((uint64_t)w * (uint64_t)h > max_pixels)
        return cs_err_set(err, "image is %lldx%lld = %llu pixels, over the limit of %llu (decompression bomb?)",
                          (long long)w, (long long)h, (unsigned long long)((uint64_t)w * (uint64_t)h),
                          (unsigned long long)max_pixels);
    return 0;
}

static int alloc_rgb(img_rgb *out, int w, int h, cs_err *err) {
    out->px = malloc((size_t)w * (size_t)h * 3);
    if (!out->px) return cs_err_set(err, "out of memory for a %dx%d image", w, h);
    out->w = w;
    out->h = h;
    return 0;
}

/* ---------------- PNG ---------------- */

typedef struct {
    const unsigned char *p;
    size_t n, at;
} mem_reader;

static void png_read_mem(png_structp png, png_bytep dst, png_size_t len) {
    mem_reader *r = png_get_io_ptr(png);
    if (len > r->n - r->at) png_error(png, "file is truncated");
    memcpy(dst, r->p + r->at, len);
    r->at += len;
}

static void png_err_fn(png_structp png, png_const_charp msg) {
    cs_err *e = png_get_error_ptr(png);
    cs_err_set(e, "PNG: %s", msg);
    png_longjmp(png, 1);
}
static void png_warn_fn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

typedef struct {
    png_structp png;
    png_infop info;
    png_bytep *rows;
    unsigned char *row;
    uint64_t *sums;
} png_state;

static uint32_t rd32be(const unsigned char *p);

/* Widens 16-bit grey samples (host order) to RGB in place, clipping at 255 as Pillow does; the row
 * holds 3w bytes. Right to left: sample x (bytes 2x, 2x+1) is read before bytes 3x..3x+2 overwrite it. */
static void gray16_to_rgb(unsigned char *r, size_t w) {
    for (size_t x = w; x-- > 0;) {
        uint16_t v;
        memcpy(&v, r + 2 * x, 2);
        r[3 * x] = r[3 * x + 1] = r[3 * x + 2] = v > 255 ? 255 : (unsigned char)v;
    }
}

/* min_w, min_h > 0 (img_decode_scaled): a non-interlaced PNG is read row by row into box sums of
 * rx x ry pixels, the largest factors that keep the result at least min_w x min_h, so memory is
 * one row plus the reduced image. An interlaced PNG needs every row until its last pass: it is
 * decoded at full size. */
static int decode_png(const unsigned char *buf, size_t len, uint64_t maxpx, int min_w, int min_h, img_rgb *out,
                      cs_err *err) {
    /* IHDR is always the first chunk: refuse oversized images before libpng reads anything else */
    if (len >= 24 && memcmp(buf + 12, "IHDR", 4) == 0 && check_dims(rd32be(buf + 16), rd32be(buf + 20), maxpx, err))
        return -1;
    volatile png_state st = {0};
    mem_reader r = {buf, len, 0};
    st.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, err, png_err_fn, png_warn_fn);
    if (!st.png) return cs_err_set(err, "PNG: out of memory");
    st.info = png_create_info_struct(st.png);
    if (!st.info || setjmp(png_jmpbuf(st.png))) {
        png_structp p = st.png;
        png_infop i = st.info;
        if (!i) cs_err_set(err, "PNG: out of memory");
        png_destroy_read_struct(&p, i ? &i : NULL, NULL);
        free(st.rows);
        free(st.row);
        free(st.sums);
        img_free(out);
        return -1;
    }
    png_set_read_fn(st.png, &r, png_read_mem);
    png_set_user_limits(st.png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_malloc_max(st.png, 64u << 20);
    png_read_info(st.png, st.info);
    png_uint_32 w = png_get_image_width(st.png, st.info), h = png_get_image_height(st.png, st.info);
    if (check_dims(w, h, maxpx, err)) png_longjmp(st.png, 1);
    int ct = png_get_color_type(st.png, st.info), bd = png_get_bit_depth(st.png, st.info);
    /* 16-bit grey without alpha: Pillow reads it as I;16 and convert("RGB") clips at 255. We read
     * the 16-bit samples ourselves for that case; every other case keeps the high byte. */
    int gray16 = (ct == PNG_COLOR_TYPE_GRAY && bd == 16);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(st.png);
    if (ct == PNG_COLOR_TYPE_GRAY && bd < 8) png_set_expand_gray_1_2_4_to_8(st.png);
    if (png_get_valid(st.png, st.info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(st.png);
    if (!gray16) {
        if (bd == 16) png_set_strip_16(st.png);
        if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(st.png);
    } else {
        png_set_swap(st.png); /* host-endian 16-bit samples */
    }
    png_set_strip_alpha(st.png);
    png_set_interlace_handling(st.png);
    png_read_update_info(st.png, st.info);
    /* Rows are read straight into the output (RGB rows are 3w bytes, 16-bit grey rows 2w), so a
     * decode costs the output image and the row pointers, nothing more. */
    size_t rb = png_get_rowbytes(st.png, st.info);
    if (rb != (size_t)w * (gray16 ? 2 : 3)) {
        cs_err_set(err, "PNG: unexpected row layout");
        png_longjmp(st.png, 1);
    }
    uint32_t rx = min_w > 0 ? w / (uint32_t)min_w : 1, ry = min_h > 0 ? h / (uint32_t)min_h : 1;
    if (rx < 1) rx = 1;
    if (ry < 1) ry = 1;
    if (min_w > 0 && png_get_interlace_type(st.png, st.info) == PNG_INTERLACE_NONE && (rx > 1 || ry > 1)) {
        uint32_t ow = (w + rx - 1) / rx, oh = (h + ry - 1) / ry;
        st.row = malloc((size_t)w * 3);
        st.sums = calloc((size_t)ow * 3, sizeof *st.sums);
        if (!st.row || !st.sums || alloc_rgb(out, (int)ow, (int)oh, err)) {
            cs_err_set(err, "PNG: out of memory");
            png_longjmp(st.png, 1);
        }
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(st.png, st.row, NULL);
            if (gray16) gray16_to_rgb(st.row, w);
            for (png_uint_32 x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) st.sums[(x / rx) * 3 + c] += st.row[x * 3 + c];
            if ((y + 1) % ry && y + 1 < h) continue;
            uint32_t nrows = y % ry + 1; /* the last box may be shorter */
            unsigned char *o = out->px + (size_t)(y / ry) * ow * 3;
            for (uint32_t ox = 0; ox < ow; ox++) {
                uint64_t n = (uint64_t)nrows * (ox + 1 < ow ? rx : w - ox * rx);
                for (int c = 0; c < 3; c++) o[ox * 3 + c] = (unsigned char)((st.sums[ox * 3 + c] + n / 2) / n);
            }
            memset(st.sums, 0, (size_t)ow * 3 * sizeof *st.sums);
        }
        png_structp p = st.png;
        png_infop i = st.info;
        png_destroy_read_struct(&p, &i, NULL);
        free(st.row);
        free(st.sums);
        return 0;
    }
    st.rows = malloc(sizeof(png_bytep) * h);
    if (!st.rows || alloc_rgb(out, (int)w, (int)h, err)) {
        cs_err_set(err, "PNG: out of memory");
        png_longjmp(st.png, 1);
    }
    for (png_uint_32 y = 0; y < h; y++) st.rows[y] = out->px + (size_t)y * w * 3;
    png_read_image(st.png, st.rows);
    if (gray16)
        for (png_uint_32 y = 0; y < h; y++) gray16_to_rgb(st.rows[y], w);
    png_structp p = st.png;
    png_infop i = st.info;
    png_destroy_read_struct(&p, &i, NULL);
    free(st.rows);
    return 0;
}

/* ---------------- JPEG ---------------- */

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
    cs_err *err;
} jpeg_err_state;

static void jpeg_error_exit_fn(j_common_ptr c) {
    jpeg_err_state *s = (jpeg_err_state *)c->err;
    char msg[JMSG_LENGTH_MAX];
    c->err->format_message(c, msg);
    cs_err_set(s->err, "JPEG: %s", msg);
    longjmp(s->jb, 1);
}

static void jpeg_emit_fn(j_common_ptr c, int level) {
    /* A premature end of data is only a warning to libjpeg, which then pads with grey. Pillow
     * refuses truncated files; so do we. Other warnings are ignored, as Pillow does. */
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) {
        jpeg_err_state *s = (jpeg_err_state *)c->err;
        cs_err_set(s->err, "JPEG: file is truncated");
        longjmp(s->jb, 1);
    }
}

/* Pillow's MULDIV255: a * b / 255 rounded, exactly as its integer formula rounds. */
static inline int muldiv255(int a, int b) {
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

/* min_w, min_h > 0 (img_decode_scaled): libjpeg's DCT scaling by M/8, the smallest M that keeps the
 * output at least min_w x min_h. */
static int decode_jpeg(const unsigned char *buf, size_t len, uint64_t maxpx, int min_w, int min_h, img_rgb *out,
                       cs_err *err) {
    struct jpeg_decompress_struct ci;
    jpeg_err_state es;
    unsigned char *volatile row = NULL;
    memset(&ci, 0, sizeof ci);
    ci.err = jpeg_std_error(&es.mgr);
    es.mgr.error_exit = jpeg_error_exit_fn;
    es.mgr.emit_message = jpeg_emit_fn;
    es.err = err;
    if (setjmp(es.jb)) {
        jpeg_destroy_decompress(&ci);
        free(row);
        img_free(out);
        return -1;
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, buf, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    if (check_dims(ci.image_width, ci.image_height, maxpx, err)) longjmp(es.jb, 1);
    int cmyk = ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK;
    ci.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    if (min_w > 0 && min_h > 0) {
        unsigned m = 1;
        while (m < 8 && (((uint64_t)ci.image_width * m + 7) / 8 < (unsigned)min_w ||
                         ((uint64_t)ci.image_height * m + 7) / 8 < (unsigned)min_h))
            m++;
        ci.scale_num = m;
        ci.scale_denom = 8;
    }
    jpeg_start_decompress(&ci);
    if (alloc_rgb(out, (int)ci.output_width, (int)ci.output_height, err)) longjmp(es.jb, 1);
    row = malloc((size_t)ci.output_width * (size_t)ci.output_components);
    if (!row) {
        cs_err_set(err, "JPEG: out of memory");
        longjmp(es.jb, 1);
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW rp = row;
        unsigned y = ci.output_scanline;
        if (jpeg_read_scanlines(&ci, &rp, 1) != 1) {
            cs_err_set(err, "JPEG: file is truncated");
            longjmp(es.jb, 1);
        }
        unsigned char *o = out->px + (size_t)y * ci.output_width * 3;
        if (!cmyk)
            memcpy(o, row, (size_t)ci.output_width * 3);
        else
            for (unsigned x = 0; x < ci.output_width; x++) {
                /* Pillow reads every CMYK/YCCK JPEG as "CMYK;I" (Adobe's inverted polarity, marker
                 * or not), then converts with nk - c * nk / 255 rounded (its MULDIV255), nk = 255 - k.
                 * With the inversion folded in: nk is the stored k, c is 255 - the stored c. */
                int nk = row[x * 4 + 3];
                for (int j = 0; j < 3; j++) o[x * 3 + j] = (unsigned char)(nk - muldiv255(255 - row[x * 4 + j], nk));
            }
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    free(row);
    return 0;
}

/* ---------------- WebP ---------------- */

static int decode_webp(const unsigned char *buf, size_t len, uint64_t maxpx, img_rgb *out, cs_err *err) {
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(buf, len, &f) != VP8_STATUS_OK) return cs_err_set(err, "WebP: bad or truncated header");
    if (check_dims(f.width, f.height, maxpx, err)) return -1;
    if (!f.has_animation) {
        if (alloc_rgb(out, f.width, f.height, err)) return -1;
        if (!WebPDecodeRGBInto(buf, len, out->px, (size_t)f.width * f.height * 3, f.width * 3)) {
            img_free(out);
            return cs_err_set(err, "WebP: corrupt or truncated data");
        }
        return 0;
    }
    /* Animated: the first frame, as composited by the demuxer. */
    WebPData data = {buf, len};
    WebPAnimDecoderOptions opt;
    if (!WebPAnimDecoderOptionsInit(&opt)) return cs_err_set(err, "WebP: library version mismatch");
    opt.color_mode = MODE_RGBA;
    opt.use_threads = 0;
    WebPAnimDecoder *d = WebPAnimDecoderNew(&data, &opt);
    if (!d) return cs_err_set(err, "WebP: corrupt animation");
    WebPAnimInfo ai;
    uint8_t *frame;
    int ts;
    if (!WebPAnimDecoderGetInfo(d, &ai)) {
        WebPAnimDecoderDelete(d);
        return cs_err_set(err, "WebP: corrupt animation");
    }
    if (check_dims(ai.canvas_width, ai.canvas_height, maxpx, err)) {
        WebPAnimDecoderDelete(d);
        return -1;
    }
    if (!WebPAnimDecoderGetNext(d, &frame, &ts)) {
        WebPAnimDecoderDelete(d);
        return cs_err_set(err, "WebP: corrupt or truncated first frame");
    }
    if (alloc_rgb(out, (int)ai.canvas_width, (int)ai.canvas_height, err)) {
        WebPAnimDecoderDelete(d);
        return -1;
    }
    for (size_t i = 0; i < (size_t)ai.canvas_width * ai.canvas_height; i++) memcpy(out->px + i * 3, frame + i * 4, 3);
    WebPAnimDecoderDelete(d);
    return 0;
}

/* ---------------- GIF ---------------- */

static int gif_read_mem(GifFileType *g, GifByteType *dst, int n) {
    mem_reader *r = g->UserData;
    size_t k = (size_t)n;
    if (k > r->n - r->at) k = r->n - r->at;
    memcpy(dst, r->p + r->at, k);
    r->at += k;
    return (int)k;
}

static int decode_gif(const unsigned char *buf, size_t len, uint64_t maxpx, img_rgb *out, cs_err *err) {
    mem_reader r = {buf, len, 0};
    int ge = 0;
    GifFileType *g = DGifOpen(&r, gif_read_mem, &ge);
    if (!g) return cs_err_set(err, "GIF: %s", GifErrorString(ge) ? GifErrorString(ge) : "bad header");
    int rc = -1, transparent = -1;
    unsigned char *idx = NULL;
    if (check_dims(g->SWidth, g->SHeight, maxpx, err)) goto done;
    for (;;) {
        GifRecordType rt;
        if (DGifGetRecordType(g, &rt) == GIF_ERROR) {
            cs_err_set(err, "GIF: corrupt or truncated file");
            goto done;
        }
        if (rt == TERMINATE_RECORD_TYPE) {
            cs_err_set(err, "GIF: no image in file");
            goto done;
        }
        if (rt == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(g, &code, &ext) == GIF_ERROR) {
                cs_err_set(err, "GIF: corrupt extension");
                goto done;
            }
            while (ext) {
                if (code == GRAPHICS_EXT_FUNC_CODE && ext[0] >= 4 && (ext[1] & 1)) transparent = ext[4];
                if (DGifGetExtensionNext(g, &ext) == GIF_ERROR) {
                    cs_err_set(err, "GIF: corrupt extension");
                    goto done;
                }
            }
            continue;
        }
        if (rt != IMAGE_DESC_RECORD_TYPE) continue;
        if (DGifGetImageDesc(g) == GIF_ERROR) {
            cs_err_set(err, "GIF: corrupt image descriptor");
            goto done;
        }
        int fw = g->Image.Width, fh = g->Image.Height, fx = g->Image.Left, fy = g->Image.Top;
        if (fw <= 0 || fh <= 0 || (uint64_t)fw * fh > maxpx) {
            cs_err_set(err, "GIF: bad frame size %dx%d", fw, fh);
            goto done;
        }
        /* Pillow: the canvas is the logical screen, grown to hold a first frame that extends past it,
         * pre-filled with the transparent index or 0. */
        int sw = g->SWidth, sh = g->SHeight;
        if (fx + fw > sw) sw = fx + fw;
        if (fy + fh > sh) sh = fy + fh;
        if (check_dims(sw, sh, maxpx, err)) goto done;
        idx = malloc((size_t)sw * sh);
        unsigned char *line = malloc((size_t)fw);
        if (!idx || !line) {
            free(line);
            cs_err_set(err, "GIF: out of memory");
            goto done;
        }
        memset(idx, transparent >= 0 ? transparent : 0, (size_t)sw * sh);
        static const int ioff[] = {0, 4, 2, 1}, istep[] = {8, 8, 4, 2};
        int passes = g->Image.Interlace ? 4 : 1;
        for (int p = 0; p < passes; p++) {
            int y0 = g->Image.Interlace ? ioff[p] : 0, st = g->Image.Interlace ? istep[p] : 1;
            for (int y = y0; y < fh; y += st) {
                if (DGifGetLine(g, line, fw) == GIF_ERROR) {
                    free(line);
                    cs_err_set(err, "GIF: corrupt or truncated image data");
                    goto done;
                }
                int cy = fy + y;
                if (cy < 0 || cy >= sh) continue;
                for (int x = 0; x < fw; x++) {
                    int cx = fx + x;
                    if (cx >= 0 && cx < sw) idx[(size_t)cy * sw + cx] = line[x];
                }
            }
        }
        free(line);
        ColorMapObject *cm = g->Image.ColorMap ? g->Image.ColorMap : g->SColorMap;
        if (alloc_rgb(out, sw, sh, err)) goto done;
        for (size_t i = 0; i < (size_t)sw * sh; i++) {
            int k = idx[i];
            if (cm && k < cm->ColorCount) {
                out->px[i * 3] = cm->Colors[k].Red;
                out->px[i * 3 + 1] = cm->Colors[k].Green;
                out->px[i * 3 + 2] = cm->Colors[k].Blue;
            } else { /* Pillow's palettes start as a grey ramp */
                out->px[i * 3] = out->px[i * 3 + 1] = out->px[i * 3 + 2] = (unsigned char)k;
            }
        }
        rc = 0;
        break;
    }
done:
    free(idx);
    DGifCloseFile(g, &ge);
    return rc;
}

/* ---------------- BMP ---------------- */

static uint32_t rd32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32be(const unsigned char *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/* Extracts a bitfield and scales it to 8 bits by flooring x * 255 / max, as Pillow's BGR;15 and
 * BGR;16 unpackers do (5-bit 1 -> 8, not 8.2 rounded). */
static unsigned char bf8(uint32_t v, uint32_t mask) {
    if (!mask) return 0;
    int shift = __builtin_ctz(mask), bits = __builtin_popcount(mask);
    uint64_t x = (v & mask) >> shift, max = (bits >= 32) ? 0xffffffffu : ((1u << bits) - 1);
    return (unsigned char)(x * 255u / max);
}

typedef struct {
    int w, h, topdown, bpp, comp;
    uint32_t hdr, off, ncolors, masks[3];
} bmp_info;

static int bmp_header(const unsigned char *b, size_t n, bmp_info *bi, cs_err *err) {
    memset(bi, 0, sizeof *bi);
    if (n < 26) return cs_err_set(err, "BMP: truncated header");
    bi->off = rd32(b + 10);
    bi->hdr = rd32(b + 14);
    if (bi->hdr == 12) {
        bi->w = rd16(b + 18);
        bi->h = (int16_t)rd16(b + 20);
        bi->bpp = rd16(b + 24);
    } else if (bi->hdr >= 40 && bi->hdr <= 124) {
        if (n < 14 + 40) return cs_err_set(err, "BMP: truncated header");
        bi->w = (int32_t)rd32(b + 18);
        int32_t h = (int32_t)rd32(b + 22);
        if (h == INT32_MIN) return cs_err_set(err, "BMP: bad height");
        bi->h = h;
        bi->bpp = rd16(b + 28);
        bi->comp = (int)rd32(b + 30);
        bi->ncolors = rd32(b + 46);
    } else
        return cs_err_set(err, "BMP: unsupported header size %u", bi->hdr);
    if (bi->h < 0) {
        bi->topdown = 1;
        bi->h = -bi->h;
    }
    return 0;
}

/* RLE8 (comp 1) and RLE4 (comp 2) into w * h palette indices in file row order, as Pillow's
 * BmpRleDecoder reads them: encoded runs are clipped at the row's end, absolute runs are not; an
 * end-of-line pads the row with index 0; a delta skips right + up * w pixels (index 0); absolute
 * runs are padded to an even file offset; an RLE4 absolute run of n pixels reads n / 2 bytes (an
 * odd last pixel is dropped, as Pillow drops it). Data that ends before w * h pixels is an error,
 * as in Pillow; anything past them is ignored. */
static int bmp_rle(const unsigned char *b, size_t n, const bmp_info *bi, unsigned char *idx, cs_err *err) {
    size_t total = (size_t)bi->w * bi->h, len = 0, at = bi->off, x = 0, w = (size_t)bi->w;
    int rle4 = bi->comp == 2;
#define PUT(v)                                                                                                         \
    do {                                                                                                               \
        if (len < total) idx[len] = (unsigned char)(v);                                                                \
        len++;                                                                                                         \
    } while (0)
    while (len < total && at + 2 <= n) {
        unsigned cnt = b[at], byte = b[at + 1];
        at += 2;
        if (cnt) { /* encoded run */
            size_t k = cnt;
            if (x + k > w) k = x < w ? w - x : 0;
            for (size_t i = 0; i < k; i++) PUT(rle4 ? (i % 2 ? byte & 15 : byte >> 4) : byte);
            x += k;
        } else if (byte == 0) { /* end of line */
            while (len % w) PUT(0);
            x = 0;
        } else if (byte == 1) { /* end of bitmap */
            break;
        } else if (byte == 2) { /* delta */
            if (at + 2 > n) break;
            size_t skip = b[at] + (size_t)b[at + 1] * w;
            at += 2;
            for (size_t i = 0; i < skip && len < total; i++) PUT(0);
            if (len >= total) break;
            x = len % w;
        } else { /* absolute run */
            size_t nb = rle4 ? byte / 2 : byte;
            if (nb > n - at) break;
            for (size_t i = 0; i < nb; i++) {
                if (rle4) {
                    PUT(b[at + i] >> 4);
                    PUT(b[at + i] & 15);
                } else
                    PUT(b[at + i]);
            }
            at += nb;
            x += byte;
            if (at % 2) at++;
        }
    }
#undef PUT
    if (len < total) return cs_err_set(err, "BMP: RLE data ends after %zu of %zu pixels", len, total);
    return 0;
}

static int decode_bmp(const unsigned char *b, size_t n, uint64_t maxpx, img_rgb *out, cs_err *err) {
    bmp_info bi;
    if (bmp_header(b, n, &bi, err)) return -1;
    if (check_dims(bi.w, bi.h, maxpx, err)) return -1;
    int rle = bi.comp == 1 || bi.comp == 2;
    if (bi.comp != 0 && bi.comp != 3 && bi.comp != 6 && !rle)
        return cs_err_set(err, "BMP: compression %d (%s) is not supported", bi.comp,
                          bi.comp == 4   ? "embedded JPEG"
                          : bi.comp == 5 ? "embedded PNG"
                                         : "unknown");
    if ((bi.comp == 1 && bi.bpp != 8) || (bi.comp == 2 && bi.bpp != 4))
        return cs_err_set(err, "BMP: RLE%d with %d bits per pixel", bi.comp == 1 ? 8 : 4, bi.bpp);
    if (bi.bpp != 1 && bi.bpp != 4 && bi.bpp != 8 && bi.bpp != 16 && bi.bpp != 24 && bi.bpp != 32)
        return cs_err_set(err, "BMP: %d bits per pixel is not supported", bi.bpp);
    if (bi.comp == 3 || bi.comp == 6) {
        size_t mo = bi.hdr >= 52 ? 14 + 40 : 14 + bi.hdr; /* masks follow a 40-byte header */
        if (mo + 12 > n) return cs_err_set(err, "BMP: truncated bitfield masks");
        for (int i = 0; i < 3; i++) bi.masks[i] = rd32(b + mo + 4 * i);
    } else if (bi.bpp == 16) {
        bi.masks[0] = 0x7c00;
        bi.masks[1] = 0x03e0;
        bi.masks[2] = 0x001f;
    } else if (bi.bpp == 32) {
        bi.masks[0] = 0xff0000;
        bi.masks[1] = 0xff00;
        bi.masks[2] = 0xff;
    }
    /* Pillow's palettes start as a grey ramp: indices past the file's palette read as grey */
    unsigned char pal[256][3];
    for (int i = 0; i < 256; i++) pal[i][0] = pal[i][1] = pal[i][2] = (unsigned char)i;
    if (bi.bpp <= 8) {
        uint32_t nc = bi.ncolors ? bi.ncolors : (1u << bi.bpp);
        if (nc > 256) nc = 256;
        size_t es = bi.hdr == 12 ? 3 : 4, po = 14 + bi.hdr;
        if (po + nc * es > n) return cs_err_set(err, "BMP: truncated palette");
        for (uint32_t i = 0; i < nc; i++) {
            pal[i][0] = b[po + i * es + 2];
            pal[i][1] = b[po + i * es + 1];
            pal[i][2] = b[po + i * es];
        }
    }
    if (rle) {
        if (bi.off > n) return cs_err_set(err, "BMP: file is truncated");
        unsigned char *idx = malloc((size_t)bi.w * bi.h);
        if (!idx) return cs_err_set(err, "BMP: out of memory for a %dx%d image", bi.w, bi.h);
        if (bmp_rle(b, n, &bi, idx, err) || alloc_rgb(out, bi.w, bi.h, err)) {
            free(idx);
            return -1;
        }
        for (int y = 0; y < bi.h; y++) {
            const unsigned char *r = idx + (size_t)bi.w * (bi.topdown ? y : bi.h - 1 - y);
            for (int x = 0; x < bi.w; x++) memcpy(out->px + ((size_t)y * bi.w + x) * 3, pal[r[x]], 3);
        }
        free(idx);
        return 0;
    }
    size_t stride = (((size_t)bi.bpp * bi.w + 31) / 32) * 4;
    if (bi.off > n || stride * bi.h > n - bi.off) return cs_err_set(err, "BMP: file is truncated");
    if (alloc_rgb(out, bi.w, bi.h, err)) return -1;
    for (int y = 0; y < bi.h; y++) {
        const unsigned char *row = b + bi.off + stride * (size_t)(bi.topdown ? y : bi.h - 1 - y);
        unsigned char *o = out->px + (size_t)y * bi.w * 3;
        for (int x = 0; x < bi.w; x++, o += 3) {
            switch (bi.bpp) {
            case 1:
            case 4:
            case 8: {
                int per = 8 / bi.bpp, shift = 8 - bi.bpp * (x % per + 1);
                int k = (row[x / per] >> shift) & ((1 << bi.bpp) - 1);
                memcpy(o, pal[k], 3);
                break;
            }
            case 16:
            case 32: { /* bit fields: the same masks over a 16- or 32-bit pixel */
                uint32_t v = bi.bpp == 16 ? rd16(row + 2 * x) : rd32(row + 4 * x);
                for (int c = 0; c < 3; c++) o[c] = bf8(v, bi.masks[c]);
                break;
            }
            case 24:
                o[0] = row[3 * x + 2];
                o[1] = row[3 * x + 1];
                o[2] = row[3 * x];
                break;
            }
        }
    }
    return 0;
}

/* ---------------- entry points ---------------- */

/* What a file that is none of our formats is, from its first bytes, so the message says so. */
static const char *other_format(const unsigned char *b, size_t n) {
    static const struct {
        const char *magic;
        size_t len, at;
        const char *name;
    } m[] = {
        {"II*\0", 4, 0, "a TIFF image"},
        {"MM\0*", 4, 0, "a TIFF image"},
        {"\0\0\1\0", 4, 0, "an ICO icon"},
        {"\0\0\2\0", 4, 0, "a CUR cursor"},
        {"8BPS", 4, 0, "a Photoshop (PSD) image"},
        {"%PDF", 4, 0, "a PDF document"},
        {"ftypavif", 8, 4, "an AVIF image"},
        {"ftypheic", 8, 4, "a HEIC image"},
        {"ftypheix", 8, 4, "a HEIC image"},
        {"ftypmif1", 8, 4, "a HEIF image"},
        {"\xff\x0a", 2, 0, "a JPEG XL image"},
        {"\0\0\0\x0cJXL ", 8, 0, "a JPEG XL image"},
        {"qoif", 4, 0, "a QOI image"},
        {"\x76\x2f\x31\x01", 4, 0, "an OpenEXR image"},
        {"P1", 2, 0, "a PBM/PGM/PPM image"},
        {"P4", 2, 0, "a PBM/PGM/PPM image"},
        {"P5", 2, 0, "a PBM/PGM/PPM image"},
        {"P6", 2, 0, "a PBM/PGM/PPM image"},
        {"PK\3\4", 4, 0, "a ZIP archive"},
        {"\x1f\x8b", 2, 0, "a gzip file"},
        {"RIFF", 4, 0, "a RIFF file that is not WebP"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (n >= m[i].at + m[i].len && memcmp(b + m[i].at, m[i].magic, m[i].len) == 0) return m[i].name;
    if (looks_text(b, n)) {
        for (size_t i = 0; i + 4 <= n && i < 512; i++)
            if (memcmp(b + i, "<svg", 4) == 0) return "an SVG image (vector graphics, text)";
        return "text";
    }
    return NULL;
}

static int not_an_image(const unsigned char *b, size_t n, cs_err *err) {
    if (n == 0) return cs_err_set(err, "the file is empty (0 bytes), not an image");
    const char *what = other_format(b, n);
    if (what) return cs_err_set(err, "%s, not a PNG, JPEG, WebP, GIF or BMP image", what);
    return cs_err_set(err, "not a PNG, JPEG, WebP, GIF or BMP image (unknown format)");
}

int img_probe(const unsigned char *buf, size_t len, img_format *fmt, int *w, int *h, cs_err *err) {
    *fmt = img_sniff(buf, len);
    *w = *h = 0;
    switch (*fmt) {
    case IMG_PNG:
        if (len < 24 || memcmp(buf + 12, "IHDR", 4) != 0) return cs_err_set(err, "PNG: bad header");
        *w = (int)(rd32be(buf + 16) & 0x7fffffff);
        *h = (int)(rd32be(buf + 20) & 0x7fffffff);
        return 0;
    case IMG_WEBP: {
        if (!WebPGetInfo(buf, len, w, h)) return cs_err_set(err, "WebP: bad header");
        return 0;
    }
    case IMG_GIF:
        if (len < 10) return cs_err_set(err, "GIF: bad header");
        *w = rd16(buf + 6);
        *h = rd16(buf + 8);
        return 0;
    case IMG_BMP: {
        bmp_info bi;
        if (bmp_header(buf, len, &bi, err)) return -1;
        *w = bi.w;
        *h = bi.h;
        return 0;
    }
    case IMG_JPEG: {
        struct jpeg_decompress_struct ci;
        jpeg_err_state es;
        memset(&ci, 0, sizeof ci);
        ci.err = jpeg_std_error(&es.mgr);
        es.mgr.error_exit = jpeg_error_exit_fn;
        es.mgr.emit_message = jpeg_emit_fn;
        es.err = err;
        if (setjmp(es.jb)) {
            jpeg_destroy_decompress(&ci);
            return -1;
        }
        jpeg_create_decompress(&ci);
        jpeg_mem_src(&ci, buf, (unsigned long)len);
        jpeg_read_header(&ci, TRUE);
        *w = (int)ci.image_width;
        *h = (int)ci.image_height;
        jpeg_destroy_decompress(&ci);
        return 0;
    }
    default: return not_an_image(buf, len, err);
    }
}

int img_decode(const unsigned char *buf, size_t len, uint64_t max_pixels, img_rgb *out, cs_err *err) {
    return img_decode_scaled(buf, len, max_pixels, 0, 0, out, err);
}

int img_decode_scaled(const unsigned char *buf, size_t len, uint64_t max_pixels, int min_w, int min_h, img_rgb *out,
                      cs_err *err) {
    memset(out, 0, sizeof *out);
    if (!max_pixels) max_pixels = IMG_DEFAULT_MAX_PIXELS;
    switch (img_sniff(buf, len)) {
    case IMG_PNG: return decode_png(buf, len, max_pixels, min_w, min_h, out, err);
    case IMG_JPEG: return decode_jpeg(buf, len, max_pixels, min_w, min_h, out, err);
    case IMG_WEBP: return decode_webp(buf, len, max_pixels, out, err);
    case IMG_GIF: return decode_gif(buf, len, max_pixels, out, err);
    case IMG_BMP: return decode_bmp(buf, len, max_pixels, out, err);
    default: return not_an_image(buf, len, err);
    }
}

int img_load(const char *path, uint64_t max_pixels, img_rgb *out, cs_err *err) {
    memset(out, 0, sizeof *out);
    cs_map m;
    if (cs_map_input(path, &m, err)) return -1;
    int rc = img_decode(m.data ? m.data : (const unsigned char *)"", m.len, max_pixels, out, err);
    cs_unmap(&m);
    if (rc) cs_err_prefix(err, "%s", path);
    return rc;
}
