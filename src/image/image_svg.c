/* image_svg: SVG documents rendered to PNG with librsvg (see image.h). */
#include <cairo.h>
#include <librsvg/rsvg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

/* Skips whitespace, an XML declaration, comments, processing instructions and a DOCTYPE. */
static size_t skip_prolog(const unsigned char *b, size_t n, size_t i) {
    for (;;) {
        while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) i++;
        const char *end = NULL;
        if (i + 4 <= n && !memcmp(b + i, "<!--", 4))
            end = "-->";
        else if (i + 2 <= n && !memcmp(b + i, "<?", 2))
            end = "?>";
        else if (i + 9 <= n && !memcmp(b + i, "<!DOCTYPE", 9))
            end = ">";
        if (!end) return i;
        const unsigned char *e = memmem(b + i + 2, n - i - 2, end, strlen(end));
        if (!e) return n;
        i = (size_t)(e - b) + strlen(end);
    }
}

int img_svg_sniff(const unsigned char *buf, size_t len) {
    size_t i = len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3) ? 3 : 0; /* UTF-8 BOM */
    i = skip_prolog(buf, len, i);
    if (i + 5 > len || memcmp(buf + i, "<svg", 4)) return 0;
    unsigned char c = buf[i + 4];
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '>') return 0;
    /* a whole document: it ends with its closing tag (a fragment of markup is text someone is
     * editing, not a picture) */
    size_t e = len;
    while (e > 0 && (buf[e - 1] == ' ' || buf[e - 1] == '\t' || buf[e - 1] == '\r' || buf[e - 1] == '\n')) e--;
    return e >= 6 && !memcmp(buf + e - 6, "</svg>", 6);
}

typedef struct {
    unsigned char *p;
    size_t n, cap;
    int oom;
} membuf;

static cairo_status_t put(void *arg, const unsigned char *d, unsigned int n) {
    membuf *m = arg;
    if (m->n + n > m->cap) {
        size_t cap = (m->cap ? m->cap * 2 : 65536) + n;
        unsigned char *np = realloc(m->p, cap);
        if (!np) {
            m->oom = 1;
            return CAIRO_STATUS_NO_MEMORY;
        }
        m->p = np;
        m->cap = cap;
    }
    memcpy(m->p + m->n, d, n);
    m->n += n;
    return CAIRO_STATUS_SUCCESS;
}

int img_svg_to_png(const unsigned char *buf, size_t len, int min_side, int max_side, unsigned char **png,
                   size_t *png_len, int *w, int *h, cs_err *err) {
    *png = NULL;
    *png_len = 0;
    GError *ge = NULL;
    /* no base file: references to other files (xlink:href="file:...") are refused, and the
     * default limits on XML size and nesting stay on */
    RsvgHandle *hd = rsvg_handle_new_from_data(buf, len, &ge);
    if (!hd) {
        cs_err_set(err, "SVG: %s", ge ? ge->message : "not readable");
        if (ge) g_error_free(ge);
        return -1;
    }
    double dw = 0, dh = 0;
    if (!rsvg_handle_get_intrinsic_size_in_pixels(hd, &dw, &dh) || dw <= 0 || dh <= 0) {
        /* sizes in percent, or none: the viewBox's proportions */
        gboolean hw, hh, hv;
        RsvgLength lw, lh;
        RsvgRectangle vb;
        rsvg_handle_get_intrinsic_dimensions(hd, &hw, &lw, &hh, &lh, &hv, &vb);
        if (hv && vb.width > 0 && vb.height > 0) {
            dw = vb.width;
            dh = vb.height;
        } else {
            dw = 512;
            dh = 512;
        }
    }
    /* drawings scale without loss: small icons are drawn larger (a 16 px icon tells a model
     * nothing), huge ones smaller */
    double longer = dw > dh ? dw : dh, scale = 1;
    if (longer < min_side) scale = min_side / longer;
    if (longer * scale > max_side) scale = max_side / longer;
    int W = (int)lround(dw * scale), H = (int)lround(dh * scale);
    if (W < 1) W = 1;
    if (H < 1) H = 1;
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(sf);
    /* on white: decoding drops alpha (image.h), and a black icon on transparent black would vanish */
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    RsvgRectangle vp = {0, 0, W, H};
    int rc = 0;
    if (!rsvg_handle_render_document(hd, cr, &vp, &ge)) {
        rc = cs_err_set(err, "SVG: %s", ge ? ge->message : "cannot be drawn");
        if (ge) g_error_free(ge);
    }
    cairo_destroy(cr);
    membuf m = {0};
    if (!rc && (cairo_surface_write_to_png_stream(sf, put, &m) != CAIRO_STATUS_SUCCESS || m.oom))
        rc = cs_err_set(err, "SVG: cannot encode the drawing as PNG");
    cairo_surface_destroy(sf);
    g_object_unref(hd);
    if (rc) {
        free(m.p);
        return -1;
    }
    *png = m.p;
    *png_len = m.n;
    if (w) *w = W;
    if (h) *h = H;
    return 0;
}
