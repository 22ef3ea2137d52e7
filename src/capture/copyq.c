/* copyq: see copyq.h. */
#include "copyq.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the prefixes CopyQ cuts off MIME types before it saves them, by their hex id (serialize.cpp) */
static const char *const mime_prefix[] = {
    "",
    "application/x-copyq-owner-window-title",
    "application/x-copyq-item-notes",
    "application/x-copyq-",
    "text/plain",
    "text/html",
    "text/uri-list",
    "image/",
    "text/",
    "application/",
    "audio/",
    "video/",
};

typedef struct reader {
    const unsigned char *p, *end;
} reader;

static int need(const reader *r, size_t n) { return (size_t)(r->end - r->p) >= n; }

static int read_u32(reader *r, uint32_t *v) {
    if (!need(r, 4)) return -1;
    *v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return 0;
}

/* a QString holding a MIME type: ASCII only, restored from its id; -1 with err */
static int read_mime(reader *r, char *mime, size_t n, size_t item, cs_err *err) {
    uint32_t bytes;
    if (read_u32(r, &bytes) || bytes == 0xffffffffu || bytes % 2 || !need(r, bytes) || bytes < 2)
        return cs_errc(err, CS_ECORRUPT, "CopyQ item %zu: a MIME type cut short or missing", item);
    size_t chars = bytes / 2;
    char id = (char)r->p[1];
    int k = id >= '0' && id <= '9' ? id - '0' : id >= 'a' && id <= 'f' ? id - 'a' + 10 : -1;
    if (r->p[0] || k < 0 || k >= (int)(sizeof mime_prefix / sizeof mime_prefix[0]))
        return cs_errc(err, CS_ECORRUPT, "CopyQ item %zu: a MIME type with an unknown prefix id", item);
    size_t pl = strlen(mime_prefix[k]);
    if (pl + chars - 1 >= n) return cs_errc(err, CS_ECORRUPT, "CopyQ item %zu: a MIME type over %zu bytes", item, n);
    memcpy(mime, mime_prefix[k], pl);
    for (size_t i = 1; i < chars; i++) {
        unsigned hi = r->p[2 * i], lo = r->p[2 * i + 1];
        if (hi || lo < 0x20 || lo > 0x7e)
            return cs_errc(err, CS_ECORRUPT, "CopyQ item %zu: a MIME type that is not plain ASCII", item);
        mime[pl + i - 1] = (char)lo;
    }
    mime[pl + chars - 1] = 0;
    r->p += bytes;
    return 0;
}

static int read_item(reader *r, copyq_item *it, size_t item, cs_err *err) {
    uint32_t version, n;
    if (read_u32(r, &version)) return cs_errc(err, CS_ECORRUPT, "CopyQ item %zu: the file ends early", item);
    if (version != 0xfffffffeu) /* -2 */
        return version < 256    /* a v1 item starts with its format count */
                   ? cs_errc(err, CS_EUNSUPPORTED,
                             "CopyQ item %zu is in the older compressed format (CopyQ before 3.0): open the "
                             "history in a newer CopyQ once, which saves it again in the current format",
                             item)
                   : cs_errc(err, CS_ECORRUPT, "CopyQ item %zu: unknown item format %d", item, (int32_t)version);
    /* each format takes at least 4 + 2 + 1 + 4 bytes: a count past that is damage, not a big item */
    if (read_u32(r, &n) || n > (size_t)(r->end - r->p) / 11)
        return cs_errc(err, CS_ECORRUPT, "CopyQ item %zu: a format count past the end of the file", item);
    it->formats = calloc(n ? n : 1, sizeof *it->formats);
    if (!it->formats) return cs_errc(err, CS_ENOMEM, "out of memory");
    it->n = n;
    for (uint32_t i = 0; i < n; i++) {
        copyq_format *f = &it->formats[i];
        if (read_mime(r, f->mime, sizeof f->mime, item, err)) return -1;
        if (!need(r, 1) || r->p[0] > 1)
            return cs_errc(err, CS_ECORRUPT, "CopyQ item %zu (%s): no compression flag", item, f->mime);
        int compressed = *r->p++;
        uint32_t len;
        if (read_u32(r, &len))
            return cs_errc(err, CS_ECORRUPT, "CopyQ item %zu (%s): the file ends early", item, f->mime);
        if (compressed)
            return cs_errc(err, CS_EUNSUPPORTED,
                           "CopyQ item %zu (%s): compressed data (an older CopyQ) is not supported", item, f->mime);
        if (len == 0xffffffffu) len = 0; /* a null QByteArray */
        if (!need(r, len))
            return cs_errc(err, CS_ECORRUPT, "CopyQ item %zu (%s): data past the end of the file", item, f->mime);
        f->data = r->p;
        f->len = len;
        r->p += len;
    }
    return 0;
}

int copyq_parse(const unsigned char *buf, size_t len, copyq_items *out, cs_err *err) {
    memset(out, 0, sizeof *out);
    if (!buf || len < 4) return cs_errc(err, CS_ECORRUPT, "not a CopyQ tab file: %zu bytes", len);
    /* CopyQ's exportData writes another format, which starts with its name */
    if (len >= 11 && !memcmp(buf + 4, "CopyQ v", 7))
        return cs_errc(err, CS_EUNSUPPORTED,
                       "a CopyQ export file (exportData, .cpq), not a tab file: import the tab file "
                       "~/.config/copyq/copyq_tab_*.dat instead");
    reader r = {buf, buf + len};
    uint32_t count;
    /* an item takes at least 8 bytes (its version and format count) */
    if (read_u32(&r, &count) || count > len / 8)
        return cs_errc(err, CS_ECORRUPT, "not a CopyQ tab file: no item count at its start");
    out->items = calloc(count ? count : 1, sizeof *out->items);
    if (!out->items) return cs_errc(err, CS_ENOMEM, "out of memory");
    out->n = count;
    for (uint32_t i = 0; i < count; i++)
        if (read_item(&r, &out->items[i], i + 1, err)) {
            copyq_items_free(out);
            return -1;
        }
    if (r.p != r.end) {
        copyq_items_free(out);
        return cs_errc(err, CS_ECORRUPT, "not a CopyQ tab file: %zu bytes after its last item", (size_t)(r.end - r.p));
    }
    return 0;
}

void copyq_items_free(copyq_items *it) {
    if (!it) return;
    for (size_t i = 0; i < it->n; i++) free(it->items[i].formats);
    free(it->items);
    memset(it, 0, sizeof *it);
}
