/* capture: see capture.h. */
#include "capture.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/cs_utf8.h"
#include "../image/image.h"
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

int capture_classify(const unsigned char *d, size_t n, const char *type_hint, const capture_caps *caps, capture_kind *c,
                     cs_err *err) {
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
        if (n > caps->max_image)
            return cs_err_set(err, "image of %zu bytes is over the %zu-byte cap", n, caps->max_image);
        c->kind = "image";
        c->mime = image_mime(f);
        c->width = w;
        c->height = h;
        return 0;
    }
    if (!cs_utf8_valid(d, n, 0)) return cs_err_set(err, "neither UTF-8 text nor a supported image");
    if (n > caps->max_text) return cs_err_set(err, "text of %zu bytes is over the %zu-byte cap", n, caps->max_text);
    if (type_hint && (!strcmp(type_hint, "text/uri-list") || !strcmp(type_hint, "x-special/gnome-copied-files"))) {
        /* GNOME's own form is "copy" or "cut", then the URIs: kept as offered, converted on paste */
        c->kind = "files";
        c->mime = !strcmp(type_hint, "text/uri-list") ? "text/uri-list" : "x-special/gnome-copied-files";
        return 0;
    }
    c->kind = "text";
    c->mime = "text/plain;charset=utf-8";
    c->subkind = textkind_classify((const char *)d, n, &c->lang);
    return 0;
}

/* Is `name` one of the newline-separated lines of `offered`? Exact match: X11 atom names and MIME
 * types are both compared byte for byte by their owners, so "text/plain;charset=UTF-8" is offered as
 * a name of its own (it is listed below under both spellings). */
static int offers(const char *offered, const char *name) {
    size_t nl = strlen(name);
    for (const char *p = offered; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l && p[l - 1] == '\r') l--;
        if (l == nl && !memcmp(p, name, nl)) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

const char *capture_pick_type(const char *offered) {
    /* in order of preference; every image type here is one img_probe reads */
    static const char *const order[] = {
        "image/png",
        "image/jpeg",
        "image/jpg",
        "image/webp",
        "image/gif",
        "image/bmp",
        "image/x-bmp",
        "image/x-MS-bmp",
        "text/uri-list",
        "x-special/gnome-copied-files",
        "text/plain;charset=utf-8",
        "text/plain;charset=UTF-8",
        "UTF8_STRING",
        "text/plain",
        "STRING",
        "TEXT",
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (offers(offered, order[i])) return order[i];
    return NULL;
}

int capture_offers_secret_hint(const char *offered) { return offers(offered, "x-kde-passwordManagerHint"); }

int capture_hint_is_secret(const unsigned char *v, size_t n) {
    if (!v) return 1;
    while (n && (isspace(*v) || !*v)) {
        v++;
        n--;
    }
    while (n && (isspace(v[n - 1]) || !v[n - 1])) n--;
    /* an empty value marks nothing else, so it is taken as a hint not handed over (as wl-event
     * does); the value's case is the owner's choice, not a reason to store a password */
    return n == 0 || (n == 6 && !strncasecmp((const char *)v, "secret", 6));
}
