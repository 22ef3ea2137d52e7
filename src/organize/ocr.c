/* ocr: see ocr.h. */
#include "ocr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tesseract/capi.h>

struct ocr {
    TessBaseAPI *api;
};

int ocr_open(const char *lang, const char *datapath, ocr **out, cs_err *err) {
    *out = NULL;
    if (!lang || !*lang) lang = "eng";
    ocr *o = calloc(1, sizeof *o);
    if (!o) return cs_errc(err, CS_ENOMEM, "out of memory");
    o->api = TessBaseAPICreate();
    /* Init prints its own complaints to stderr; our message says what to install */
    if (!o->api || TessBaseAPIInit3(o->api, datapath, lang) != 0) {
        ocr_close(o);
        return cs_err_set(err,
                          "OCR: cannot load Tesseract language data '%s' (install tesseract-ocr-%s, or set ocr_lang)",
                          lang, lang);
    }
    TessBaseAPISetPageSegMode(o->api, PSM_AUTO);
    /* no dictionary-driven word guessing on code, keys and ids */
    TessBaseAPISetVariable(o->api, "debug_file", "/dev/null");
    *out = o;
    return 0;
}

void ocr_close(ocr *o) {
    if (!o) return;
    if (o->api) {
        TessBaseAPIEnd(o->api);
        TessBaseAPIDelete(o->api);
    }
    free(o);
}

/* Appends a word, separated by sep (' ' or '\n'), to the growing buffer. */
static int append(char **buf, size_t *len, size_t *cap, const char *w, char sep) {
    size_t wl = strlen(w);
    if (*len + wl + 2 > *cap) {
        size_t nc = (*cap + wl + 2) * 2;
        char *nb = realloc(*buf, nc);
        if (!nb) return -1;
        *buf = nb;
        *cap = nc;
    }
    if (*len) (*buf)[(*len)++] = sep;
    memcpy(*buf + *len, w, wl);
    *len += wl;
    (*buf)[*len] = 0;
    return 0;
}

int ocr_read(ocr *o, const img_rgb *im, int min_conf, char **text, cs_err *err) {
    *text = NULL;
    if (!im || im->w <= 0 || im->h <= 0 || !im->px) return cs_err_set(err, "OCR: empty image");
    /* scale into Tesseract's comfortable range, keeping the aspect ratio */
    double px = (double)im->w * im->h, f = 1.0;
    if (px > OCR_MAX_PIXELS)
        f = sqrt(OCR_MAX_PIXELS / px);
    else if (im->w < OCR_MIN_SIDE && im->h < OCR_MIN_SIDE)
        f = (double)OCR_MIN_SIDE / (im->w > im->h ? im->w : im->h);
    if (f > 4) f = 4;
    img_rgb scaled = {0};
    const img_rgb *use = im;
    if (f != 1.0) {
        int w = (int)lround(im->w * f), h = (int)lround(im->h * f);
        if (w < 1) w = 1;
        if (h < 1) h = 1;
        if (img_resize(im, w, h, IMG_BICUBIC, &scaled, err)) return cs_err_prefix(err, "OCR");
        use = &scaled;
    }
    TessBaseAPISetImage(o->api, use->px, use->w, use->h, 3, use->w * 3);
    int rc = TessBaseAPIRecognize(o->api, NULL);
    img_free(&scaled);
    if (rc != 0) {
        TessBaseAPIClear(o->api);
        return cs_err_set(err, "OCR: recognition failed");
    }
    size_t len = 0, cap = 256;
    char *buf = malloc(cap);
    if (!buf) {
        TessBaseAPIClear(o->api);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    buf[0] = 0;
    /* walk words, keeping line breaks between text lines */
    TessResultIterator *it = TessBaseAPIGetIterator(o->api);
    int oom = 0;
    if (it) {
        TessPageIterator *pi = TessResultIteratorGetPageIterator(it);
        do {
            char *w = TessResultIteratorGetUTF8Text(it, RIL_WORD);
            float conf = TessResultIteratorConfidence(it, RIL_WORD);
            int line_start = TessPageIteratorIsAtBeginningOf(pi, RIL_TEXTLINE);
            if (w && *w && conf >= (float)min_conf && strspn(w, " \t\r\n") < strlen(w))
                oom |= append(&buf, &len, &cap, w, line_start ? '\n' : ' ');
            TessDeleteText(w);
        } while (!oom && TessResultIteratorNext(it, RIL_WORD));
        TessResultIteratorDelete(it);
    }
    TessBaseAPIClear(o->api);
    if (oom) {
        free(buf);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    *text = buf;
    return 0;
}
