/* image: decoding (PNG, JPEG, WebP, GIF, BMP) to 8-bit RGB, and CLIP preprocessing that
 * reproduces Hugging Face's CLIPImageProcessor.
 *
 * Decoding follows Pillow's Image.convert("RGB"), which is what the reference pipeline does:
 * alpha is dropped (not composited), palettes are expanded, grey is replicated, 16-bit samples
 * keep their high byte except 16-bit grey, which Pillow clips at 255. GIF: the first frame, placed
 * on the logical screen (grown when the frame extends past it), the rest filled with the
 * transparent index (or index 0), as Pillow does. CMYK/YCCK JPEGs: Pillow's inverted reading and
 * its rounding. BMP: 16-bit fields floored, RLE4/RLE8 as Pillow's decoder reads them.
 * The pixel count is checked against a limit from the header, before any pixel memory is
 * allocated (decompression bombs); a decode then holds its output and a row or two. Truncated or
 * corrupt files fail with a message; they never produce a half-grey image. Files in no supported
 * format get a message that says what they are (empty, text, TIFF, ICO, ...).
 *
 * Preprocessing: resize the shortest edge to `shortest_edge` (long edge int(size * long / short))
 * with Pillow's antialiased resampler (bit-exact fixed point, 22 fractional bits), center-crop
 * with floor offsets (zero-padding where the crop is larger), rescale, normalise per channel,
 * output float32 C x H x W. Only the crop window of the resized image is computed. */
#ifndef IMAGE_H
#define IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"

/* Pillow's MAX_IMAGE_PIXELS * 2, the size where Pillow refuses an image outright (108 MP phone
 * photos fit). Decoding costs 3 bytes a pixel plus a row or two, so the cap bounds a decode's
 * memory at about 540 MB; see img_preprocess and img_thumbnail for what follows a decode. */
#define IMG_DEFAULT_MAX_PIXELS 178956970ull

typedef enum { IMG_UNKNOWN, IMG_PNG, IMG_JPEG, IMG_WEBP, IMG_GIF, IMG_BMP } img_format;

typedef struct img_rgb {
    int w, h;
    unsigned char *px; /* w * h * 3 bytes, row-major RGB; owned (img_free) */
} img_rgb;

/* Identifies the format from magic bytes. */
img_format img_sniff(const unsigned char *buf, size_t len);
const char *img_format_name(img_format f);

/* Reads width and height from the header alone. Returns 0 or -1 (unknown format, bad header). */
int img_probe(const unsigned char *buf, size_t len, img_format *fmt, int *w, int *h, cs_err *err);

/* Decodes an in-memory image. max_pixels 0 means IMG_DEFAULT_MAX_PIXELS. On success the caller
 * frees out with img_free. */
int img_decode(const unsigned char *buf, size_t len, uint64_t max_pixels, img_rgb *out, cs_err *err);

/* img_decode, reduced where the format allows it cheaply, for previews: a JPEG through libjpeg's
 * DCT scaling (M/8), a non-interlaced PNG by box-averaging rx x ry blocks while its rows stream in
 * (memory: one row and the reduced image). The result is at least min_w x min_h (or the full size
 * when smaller); other formats and interlaced PNGs decode at full size. min_w or min_h 0: full size,
 * bit for bit img_decode. Not Pillow's pixels: for thumbnails, never for embeddings. */
int img_decode_scaled(const unsigned char *buf, size_t len, uint64_t max_pixels, int min_w, int min_h, img_rgb *out,
                      cs_err *err);

/* Reads and decodes a file (messages are prefixed with the path). */
int img_load(const char *path, uint64_t max_pixels, img_rgb *out, cs_err *err);

void img_free(img_rgb *im); /* zeroes it; NULL or empty is a no-op */

/* Resampling filters, numbered as Pillow's (and preprocessor_config.json's "resample"). */
enum { IMG_NEAREST = 0, IMG_LANCZOS = 1, IMG_BILINEAR = 2, IMG_BICUBIC = 3, IMG_BOX = 4, IMG_HAMMING = 5 };

/* Pillow's Image.resize((w, h), filter) for RGB images (filters 1-5; nearest is not offered).
 * out is allocated; free with img_free. */
int img_resize(const img_rgb *in, int w, int h, int filter, img_rgb *out, cs_err *err);

/* The ww x wh window at (wx, wy) of img_resize(in, w, h, filter), bit for bit, computed for the
 * window alone: time and memory follow the window, not w x h (a 1x20000 strip resized to
 * 224x4480000 and cropped to 224x224 costs a 224x224 image). The window must lie inside w x h.
 * out is allocated (ww x wh); free with img_free. */
int img_resize_window(const img_rgb *in, int w, int h, int filter, int wx, int wy, int ww, int wh, img_rgb *out,
                      cs_err *err);

typedef struct img_preproc {
    int do_resize, do_center_crop, do_rescale, do_normalize;
    int shortest_edge;  /* resize target for the short side */
    int crop_w, crop_h; /* output size when cropping (else the resized size must equal it) */
    int resample;       /* IMG_BICUBIC etc. */
    float rescale;      /* 1/255 */
    float mean[3], std[3];
} img_preproc;

/* CLIP ViT-B/32 defaults (224, bicubic, OpenAI mean/std). */
img_preproc img_default_preproc(void);

/* Preprocesses `in` into out[3 * crop_h * crop_w] (C x H x W). */
int img_preprocess(const img_rgb *in, const img_preproc *p, float *out, cs_err *err);

/* A copy of in scaled (bicubic, aspect kept) to fit max_side x max_side; never enlarged. */
int img_thumbnail(const img_rgb *in, int max_side, img_rgb *out, cs_err *err);

/* Decodes image bytes straight to their thumbnail (img_thumbnail of the image) with bounded memory:
 * img_decode_scaled to twice the thumbnail's size, then the bicubic resize. Decodes that would hold
 * more than IMG_THUMB_SERIAL_BYTES of pixels at full size (formats without scaled decoding,
 * interlaced PNGs, and the largest JPEGs and PNGs) run one at a time process-wide, so parallel
 * requests for big images cost one big decode, not one each. */
#define IMG_THUMB_SERIAL_BYTES (48u << 20)
int img_thumbnail_decode(const unsigned char *buf, size_t len, uint64_t max_pixels, int max_side, img_rgb *out,
                         cs_err *err);

/* JPEG bytes of im at quality 1-100 (libjpeg-turbo). *out is malloc'd. */
int img_encode_jpeg(const img_rgb *im, int quality, unsigned char **out, size_t *len, cs_err *err);

/* SVG (image_svg.c, librsvg): 1 if buf is a whole SVG document (after an optional BOM, XML
 * declaration, comments and DOCTYPE it opens with <svg and ends with </svg>). */
int img_svg_sniff(const unsigned char *buf, size_t len);
/* Draws an SVG document on white into PNG bytes (*png malloc'd), at its own size scaled so the
 * longer side is at least min_side and at most max_side (no size given: its viewBox's
 * proportions, else 512 square). References to other files are not followed. *w, *h (may be
 * NULL) get the size. */
int img_svg_to_png(const unsigned char *buf, size_t len, int min_side, int max_side, unsigned char **png,
                   size_t *png_len, int *w, int *h, cs_err *err);

#endif
