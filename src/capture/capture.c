/* capture: see capture.h. */
#include "capture.h"

#include <stdlib.h>
#include <string.h>

#include "../common/cs_utf8.h"
#include "../model/image.h"
#include "textkind.h"

static size_t env_size(const char *name, size_t def) {
    const char *e = getenv(name);
    char *end;
    unsigned long long v = e ? strtoull(e, &end, 10) : 0;
    return e && *e && !*end && v > 0 ? (size_t)v : def;
}

capture_caps capture_default_caps(void) {
    capture_caps c = {env_size("CLIPSEEK_MAX_IMAGE_BYTES", 50u << 20), env_size("CLIPSEEK_MAX_TEXT_BYTES", 5u << 20)};
    return c;
}

static const char *image_mime(img_format f) {
    switch (f) {
    case IMG_PNG: return "image/png";
    case IMG_JPEG: return "image/jpeg";
    case IMG_WEBP: return "image/webp";
    case IMG_GIF: return "image/gif";
    case IMG_BMP: return "image/bmp";
    default: return "application/octet-stream";
    }
}

int capture_classify(const unsigned char *d, size_t n, const char *type_hint, const capture_caps *caps,
                     capture_kind *c, cs_err *err) {
    memset(c, 0, sizeof *c);
    capture_caps dc = capture_default_caps();
    if (!caps) caps = &dc;
    if (n == 0) return cs_err_set(err, "no data (an empty clip)");
    img_format f;
    int w, h;
    int is_img = img_sniff(d, n) != IMG_UNKNOWN && img_probe(d, n, &f, &w, &h, NULL) == 0 && w > 0 && h > 0;
    if (type_hint && !strncmp(type_hint, "image/", 6) && !is_img)
        return cs_err_set(err, "declared %s, but the data is not a PNG, JPEG, WebP, GIF or BMP image", type_hint);
    if (is_img) {
        if (n > caps->max_image) return cs_err_set(err, "image of %zu bytes is over the %zu-byte cap", n, caps->max_image);
        c->kind = "image";
        c->mime = image_mime(f);
        c->width = w;
        c->height = h;
        return 0;
    }
    if (!cs_utf8_valid(d, n, 0)) return cs_err_set(err, "neither UTF-8 text nor a supported image");
    if (n > caps->max_text) return cs_err_set(err, "text of %zu bytes is over the %zu-byte cap", n, caps->max_text);
    if (type_hint && !strcmp(type_hint, "text/uri-list")) {
        c->kind = "files";
        c->mime = "text/uri-list";
        return 0;
    }
    c->kind = "text";
    c->mime = "text/plain;charset=utf-8";
    c->subkind = textkind_classify((const char *)d, n, &c->lang);
    return 0;
}
