/* copyq: reads a CopyQ tab file, the file CopyQ (3.x to 6.x, Debian 12 ships 6.4) keeps each tab's
 * items in: ~/.config/copyq/copyq_tab_<base64 of the tab name>.dat, the clipboard tab being
 * copyq_tab_JmNsaXBib2FyZA==.dat ("&clipboard"). The format is CopyQ's own (src/item/serialize.cpp),
 * a Qt QDataStream, big-endian:
 *   qint32 count; then count items, the newest first; each item:
 *     qint32 -2 (the "v2" item format), qint32 n, then n formats:
 *       QString mime (qint32 byte length, UTF-16BE; its first character a hex id of a prefix that
 *         was cut off: 0 none, 1 application/x-copyq-owner-window-title, 2 application/x-copyq-item-notes,
 *         3 application/x-copyq-, 4 text/plain, 5 text/html, 6 text/uri-list, 7 image/, 8 text/,
 *         9 application/, a audio/, b video/),
 *       bool compressed (one byte), QByteArray data (quint32 length, 0xffffffff for a null array).
 * Refused, with the reason in err: the older "v1" items (every value compressed with qCompress) and
 * compressed values, which CopyQ since 3.x never writes; a file that ends early, has bytes after
 * the last item, or a length past its end. A newer CopyQ keeps large values in separate files and
 * names them with a "FILE:" prefix on the MIME type; such a format is returned as it is (its data
 * is the file's path), and a caller that does not read it passes it over. */
#ifndef COPYQ_H
#define COPYQ_H

#include <stddef.h>

#include "../common/cs_err.h"

typedef struct copyq_format {
    char mime[128];            /* with its prefix restored, e.g. "text/plain", "image/png" */
    const unsigned char *data; /* borrowed from the buffer given to copyq_parse */
    size_t len;
} copyq_format;

typedef struct copyq_item {
    copyq_format *formats; /* owned by the copyq_items */
    size_t n;
} copyq_item;

typedef struct copyq_items {
    copyq_item *items; /* in the file's order: the newest first */
    size_t n;
} copyq_items;

/* Parses buf (len bytes, a whole tab file) into out. The formats' data point into buf, which must
 * outlive out. Returns 0, or -1 with err (CS_ECORRUPT for a damaged or foreign file, CS_EUNSUPPORTED
 * for the older compressed items, CS_ENOMEM) and out empty. Free out with copyq_items_free. */
int copyq_parse(const unsigned char *buf, size_t len, copyq_items *out, cs_err *err);

/* Frees what copyq_parse allocated; a zeroed or freed copyq_items is a no-op. */
void copyq_items_free(copyq_items *it);

#endif
