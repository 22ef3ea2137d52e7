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

img_format img_sniff(const unsigned char *b, size_t n) {
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return IMG_PNG;
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return IMG_JPEG;
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0) return IMG_WEBP;
    if (n >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0)) return IMG_GIF;
    if (n >= 2 && b[0] == 'B' && b[1] == 'M') return IMG_BMP;
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

typedef struct { const unsigned char *p; size_t n, at; } mem_reader;

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
static void png_warn_fn(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

typedef struct { png_structp png; png_infop info; unsigned char *raw; png_bytep *rows; } png_state;

static uint32_t rd32be(const unsigned char *p);

static int decode_png(const unsigned char *buf, size_t len, uint64_t maxpx, img_rgb *out, cs_err *err) {
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
        free(st.raw);
        free(st.rows);
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
    size_t rb = png_get_rowbytes(st.png, st.info);
    st.raw = malloc(rb * h);
    st.rows = malloc(sizeof(png_bytep) * h);
    if (!st.raw || !st.rows) { cs_err_set(err, "PNG: out of memory"); png_longjmp(st.png, 1); }
    for (png_uint_32 y = 0; y < h; y++) st.rows[y] = st.raw + y * rb;
    png_read_image(st.png, st.rows);
    if (alloc_rgb(out, (int)w, (int)h, err)) png_longjmp(st.png, 1);
    if (gray16) {
        for (size_t i = 0; i < (size_t)w * h; i++) {
            uint16_t v;
            memcpy(&v, st.raw + (i / w) * rb + (i % w) * 2, 2);
            unsigned char c = v > 255 ? 255 : (unsigned char)v;
            out->px[i * 3] = out->px[i * 3 + 1] = out->px[i * 3 + 2] = c;
        }
    } else {
        if (rb < (size_t)w * 3) { cs_err_set(err, "PNG: unexpected row layout"); png_longjmp(st.png, 1); }
        for (png_uint_32 y = 0; y < h; y++) memcpy(out->px + (size_t)y * w * 3, st.rows[y], (size_t)w * 3);
    }
    png_structp p = st.png;
    png_infop i = st.info;
    png_destroy_read_struct(&p, &i, NULL);
    free(st.raw);
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

static int decode_jpeg(const unsigned char *buf, size_t len, uint64_t maxpx, img_rgb *out, cs_err *err) {
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
    jpeg_start_decompress(&ci);
    if (alloc_rgb(out, (int)ci.output_width, (int)ci.output_height, err)) longjmp(es.jb, 1);
    row = malloc((size_t)ci.output_width * (size_t)ci.output_components);
    if (!row) { cs_err_set(err, "JPEG: out of memory"); longjmp(es.jb, 1); }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW rp = row;
        unsigned y = ci.output_scanline;
        if (jpeg_read_scanlines(&ci, &rp, 1) != 1) { cs_err_set(err, "JPEG: file is truncated"); longjmp(es.jb, 1); }
        unsigned char *o = out->px + (size_t)y * ci.output_width * 3;
        if (!cmyk) memcpy(o, row, (size_t)ci.output_width * 3);
        else
            for (unsigned x = 0; x < ci.output_width; x++) {
                /* Adobe CMYK JPEGs store inverted values; Pillow then maps (c,m,y,k) -> 255-min(255,c+k). */
                int c = row[x * 4], m = row[x * 4 + 1], yy = row[x * 4 + 2], k = row[x * 4 + 3];
                if (ci.saw_Adobe_marker) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
                o[x * 3] = (unsigned char)(255 - (c + k > 255 ? 255 : c + k));
                o[x * 3 + 1] = (unsigned char)(255 - (m + k > 255 ? 255 : m + k));
                o[x * 3 + 2] = (unsigned char)(255 - (yy + k > 255 ? 255 : yy + k));
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
    if (alloc_rgb(out, (int)ai.canvas_width, (int)ai.canvas_height, err)) { WebPAnimDecoderDelete(d); return -1; }
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
        if (DGifGetRecordType(g, &rt) == GIF_ERROR) { cs_err_set(err, "GIF: corrupt or truncated file"); goto done; }
        if (rt == TERMINATE_RECORD_TYPE) { cs_err_set(err, "GIF: no image in file"); goto done; }
        if (rt == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(g, &code, &ext) == GIF_ERROR) { cs_err_set(err, "GIF: corrupt extension"); goto done; }
            while (ext) {
                if (code == GRAPHICS_EXT_FUNC_CODE && ext[0] >= 4 && (ext[1] & 1)) transparent = ext[4];
                if (DGifGetExtensionNext(g, &ext) == GIF_ERROR) { cs_err_set(err, "GIF: corrupt extension"); goto done; }
            }
            continue;
        }
        if (rt != IMAGE_DESC_RECORD_TYPE) continue;
        if (DGifGetImageDesc(g) == GIF_ERROR) { cs_err_set(err, "GIF: corrupt image descriptor"); goto done; }
        int fw = g->Image.Width, fh = g->Image.Height, fx = g->Image.Left, fy = g->Image.Top;
        if (fw <= 0 || fh <= 0 || (uint64_t)fw * fh > maxpx) { cs_err_set(err, "GIF: bad frame size %dx%d", fw, fh); goto done; }
        int sw = g->SWidth, sh = g->SHeight;
        /* Pillow: the canvas is the logical screen, pre-filled with the transparent index or 0. */
        idx = malloc((size_t)sw * sh);
        unsigned char *line = malloc((size_t)fw);
        if (!idx || !line) { free(line); cs_err_set(err, "GIF: out of memory"); goto done; }
        memset(idx, transparent >= 0 ? transparent : 0, (size_t)sw * sh);
        static const int ioff[] = {0, 4, 2, 1}, istep[] = {8, 8, 4, 2};
        int passes = g->Image.Interlace ? 4 : 1;
        for (int p = 0; p < passes; p++) {
            int y0 = g->Image.Interlace ? ioff[p] : 0, st = g->Image.Interlace ? istep[p] : 1;
            for (int y = y0; y < fh; y += st) {
                if (DGifGetLine(g, line, fw) == GIF_ERROR) { free(line); cs_err_set(err, "GIF: corrupt or truncated image data"); goto done; }
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

/* Extracts a bitfield and scales it to 8 bits. */
static unsigned char bf8(uint32_t v, uint32_t mask) {
    if (!mask) return 0;
    int shift = __builtin_ctz(mask), bits = __builtin_popcount(mask);
    uint32_t x = (v & mask) >> shift, max = (bits >= 32) ? 0xffffffffu : ((1u << bits) - 1);
    return (unsigned char)((x * 255u + max / 2) / max);
}

typedef struct { int w, h, topdown, bpp, comp; uint32_t hdr, off, ncolors, masks[3]; } bmp_info;

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
    if (bi->h < 0) { bi->topdown = 1; bi->h = -bi->h; }
    return 0;
}

static int decode_bmp(const unsigned char *b, size_t n, uint64_t maxpx, img_rgb *out, cs_err *err) {
    bmp_info bi;
    if (bmp_header(b, n, &bi, err)) return -1;
    if (check_dims(bi.w, bi.h, maxpx, err)) return -1;
    if (bi.comp != 0 && bi.comp != 3 && bi.comp != 6)
        return cs_err_set(err, "BMP: compression %d (RLE) is not supported", bi.comp);
    if (bi.bpp != 1 && bi.bpp != 4 && bi.bpp != 8 && bi.bpp != 16 && bi.bpp != 24 && bi.bpp != 32)
        return cs_err_set(err, "BMP: %d bits per pixel is not supported", bi.bpp);
    if (bi.comp == 3 || bi.comp == 6) {
        size_t mo = bi.hdr >= 52 ? 14 + 40 : 14 + bi.hdr; /* masks follow a 40-byte header */
        if (mo + 12 > n) return cs_err_set(err, "BMP: truncated bitfield masks");
        for (int i = 0; i < 3; i++) bi.masks[i] = rd32(b + mo + 4 * i);
    } else if (bi.bpp == 16) {
        bi.masks[0] = 0x7c00; bi.masks[1] = 0x03e0; bi.masks[2] = 0x001f;
    } else if (bi.bpp == 32) {
        bi.masks[0] = 0xff0000; bi.masks[1] = 0xff00; bi.masks[2] = 0xff;
    }
    unsigned char pal[256][3];
    memset(pal, 0, sizeof pal);
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
    size_t stride = (((size_t)bi.bpp * bi.w + 31) / 32) * 4;
    if (bi.off > n || stride * bi.h > n - bi.off) return cs_err_set(err, "BMP: file is truncated");
    if (alloc_rgb(out, bi.w, bi.h, err)) return -1;
    for (int y = 0; y < bi.h; y++) {
        const unsigned char *row = b + bi.off + stride * (size_t)(bi.topdown ? y : bi.h - 1 - y);
        unsigned char *o = out->px + (size_t)y * bi.w * 3;
        for (int x = 0; x < bi.w; x++, o += 3) {
            switch (bi.bpp) {
            case 1: case 4: case 8: {
                int per = 8 / bi.bpp, shift = 8 - bi.bpp * (x % per + 1);
                int k = (row[x / per] >> shift) & ((1 << bi.bpp) - 1);
                memcpy(o, pal[k], 3);
                break;
            }
            case 16: {
                uint32_t v = rd16(row + 2 * x);
                o[0] = bf8(v, bi.masks[0]); o[1] = bf8(v, bi.masks[1]); o[2] = bf8(v, bi.masks[2]);
                break;
            }
            case 24: o[0] = row[3 * x + 2]; o[1] = row[3 * x + 1]; o[2] = row[3 * x]; break;
            case 32: {
                uint32_t v = rd32(row + 4 * x);
                o[0] = bf8(v, bi.masks[0]); o[1] = bf8(v, bi.masks[1]); o[2] = bf8(v, bi.masks[2]);
                break;
            }
            }
        }
    }
    return 0;
}

/* ---------------- entry points ---------------- */

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
        if (setjmp(es.jb)) { jpeg_destroy_decompress(&ci); return -1; }
        jpeg_create_decompress(&ci);
        jpeg_mem_src(&ci, buf, (unsigned long)len);
        jpeg_read_header(&ci, TRUE);
        *w = (int)ci.image_width;
        *h = (int)ci.image_height;
        jpeg_destroy_decompress(&ci);
        return 0;
    }
    default:
        return cs_err_set(err, "not a PNG, JPEG, WebP, GIF or BMP image");
    }
}

int img_decode(const unsigned char *buf, size_t len, uint64_t max_pixels, img_rgb *out, cs_err *err) {
    memset(out, 0, sizeof *out);
    if (!max_pixels) max_pixels = IMG_DEFAULT_MAX_PIXELS;
    switch (img_sniff(buf, len)) {
    case IMG_PNG: return decode_png(buf, len, max_pixels, out, err);
    case IMG_JPEG: return decode_jpeg(buf, len, max_pixels, out, err);
    case IMG_WEBP: return decode_webp(buf, len, max_pixels, out, err);
    case IMG_GIF: return decode_gif(buf, len, max_pixels, out, err);
    case IMG_BMP: return decode_bmp(buf, len, max_pixels, out, err);
    default: return cs_err_set(err, "not a PNG, JPEG, WebP, GIF or BMP image");
    }
}

int img_load(const char *path, uint64_t max_pixels, img_rgb *out, cs_err *err) {
    memset(out, 0, sizeof *out);
    cs_map m;
    if (cs_map_file(path, &m, err)) return -1;
    int rc = img_decode(m.data ? m.data : (const unsigned char *)"", m.len, max_pixels, out, err);
    cs_unmap(&m);
    if (rc) cs_err_prefix(err, "%s", path);
    return rc;
}
