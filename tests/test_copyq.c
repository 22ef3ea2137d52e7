/* The CopyQ tab-file reader (src/capture/copyq.c) on files laid out as CopyQ's serialize.cpp writes
 * them (tests/popup_test.sh imports a file written by a real CopyQ): prefixes restored, null
 * arrays, every truncation refused, and the formats it must not take for a tab file. */
#include <stdint.h>

#include "../src/capture/copyq.h"
#include "testutil.h"

typedef struct buf {
    unsigned char d[512];
    size_t n;
} buf;

static void u32(buf *b, uint32_t v) {
    for (int i = 3; i >= 0; i--) b->d[b->n++] = (unsigned char)(v >> (8 * i));
}
/* a QString of ASCII text, as UTF-16BE */
static void qstr(buf *b, const char *s) {
    u32(b, (uint32_t)(2 * strlen(s)));
    for (; *s; s++) {
        b->d[b->n++] = 0;
        b->d[b->n++] = (unsigned char)*s;
    }
}
static void qbytes(buf *b, const char *s) {
    u32(b, (uint32_t)strlen(s));
    memcpy(b->d + b->n, s, strlen(s));
    b->n += strlen(s);
}
/* one format of a v2 item: compressed MIME, flag, data */
static void format(buf *b, const char *mime, int compressed, const char *data) {
    qstr(b, mime);
    b->d[b->n++] = (unsigned char)compressed;
    if (data)
        qbytes(b, data);
    else
        u32(b, 0xffffffffu); /* a null QByteArray */
}

/* a whole tab file of one item with one format */
static buf one_format(const char *mime, int compressed, const char *data) {
    buf b = {{0}, 0};
    u32(&b, 1);
    u32(&b, 0xfffffffeu);
    u32(&b, 1);
    format(&b, mime, compressed, data);
    return b;
}

/* two items, the newest first: an HTML copy with its plain text, and an empty note */
static buf sample(void) {
    buf b = {{0}, 0};
    u32(&b, 2);
    u32(&b, 0xfffffffeu);
    u32(&b, 2);
    format(&b, "5", 0, "<b>hi</b>");
    format(&b, "4", 0, "hi");
    u32(&b, 0xfffffffeu);
    u32(&b, 2);
    format(&b, "2", 0, NULL);
    format(&b, "0x-custom/thing", 0, "x");
    return b;
}

Test(copyq, prefixes_are_restored_and_data_points_into_the_file) {
    buf b = sample();
    copyq_items it;
    cs_err e;
    cr_assert_eq(copyq_parse(b.d, b.n, &it, &e), 0, "%s", e.msg);
    cr_assert_eq(it.n, 2);
    cr_assert_eq(it.items[0].n, 2);
    cr_assert_str_eq(it.items[0].formats[0].mime, "text/html");
    cr_assert_eq(it.items[0].formats[0].len, 9);
    cr_assert_eq(memcmp(it.items[0].formats[0].data, "<b>hi</b>", 9), 0);
    cr_assert_str_eq(it.items[0].formats[1].mime, "text/plain");
    cr_assert_str_eq(it.items[1].formats[0].mime, "application/x-copyq-item-notes");
    cr_assert_eq(it.items[1].formats[0].len, 0);
    cr_assert_str_eq(it.items[1].formats[1].mime, "x-custom/thing");
    copyq_items_free(&it);
    copyq_items_free(&it); /* freed: a no-op */
}

Test(copyq, image_prefix_and_empty_tab) {
    buf b = one_format("7png", 0, "\x89PNG");
    copyq_items it;
    cs_err e;
    cr_assert_eq(copyq_parse(b.d, b.n, &it, &e), 0, "%s", e.msg);
    cr_assert_str_eq(it.items[0].formats[0].mime, "image/png");
    copyq_items_free(&it);
    buf z = {{0}, 0};
    u32(&z, 0);
    cr_assert_eq(copyq_parse(z.d, z.n, &it, &e), 0, "%s", e.msg);
    cr_assert_eq(it.n, 0);
    copyq_items_free(&it);
}

Test(copyq, every_truncation_is_refused) {
    buf b = sample();
    for (size_t n = 0; n < b.n; n++) {
        copyq_items it;
        cs_err e = {0};
        cr_assert_eq(copyq_parse(n ? b.d : NULL, n, &it, &e), -1, "cut at %zu of %zu accepted", n, b.n);
        cr_assert_eq(e.code, CS_ECORRUPT, "cut at %zu: %s", n, e.msg);
        cr_assert_eq(it.n, 0);
    }
}

Test(copyq, trailing_bytes_and_huge_counts_are_refused) {
    buf b = sample();
    b.d[b.n++] = 0;
    copyq_items it;
    cs_err e;
    cr_assert_eq(copyq_parse(b.d, b.n, &it, &e), -1);
    cr_assert(strstr(e.msg, "after its last item"), "%s", e.msg);
    buf h = {{0}, 0};
    u32(&h, 0x7fffffffu);
    u32(&h, 0xfffffffeu);
    cr_assert_eq(copyq_parse(h.d, h.n, &it, &e), -1);
    cr_assert_eq(e.code, CS_ECORRUPT);
    buf f = {{0}, 0};
    u32(&f, 1);
    u32(&f, 0xfffffffeu);
    u32(&f, 0x10000000u); /* formats */
    cr_assert_eq(copyq_parse(f.d, f.n, &it, &e), -1);
    cr_assert(strstr(e.msg, "format count"), "%s", e.msg);
}

Test(copyq, foreign_formats_say_what_they_are) {
    copyq_items it;
    cs_err e;
    /* compressed data */
    buf c = one_format("4", 1, "zz");
    cr_assert_eq(copyq_parse(c.d, c.n, &it, &e), -1);
    cr_assert_eq(e.code, CS_EUNSUPPORTED, "%s", e.msg);
    /* a v1 item: its format count where v2 has -2 */
    buf v = {{0}, 0};
    u32(&v, 1);
    u32(&v, 1);
    qstr(&v, "text/plain");
    qbytes(&v, "zz");
    cr_assert_eq(copyq_parse(v.d, v.n, &it, &e), -1);
    cr_assert_eq(e.code, CS_EUNSUPPORTED, "%s", e.msg);
    cr_assert(strstr(e.msg, "older compressed format"), "%s", e.msg);
    /* an exportData file: a QByteArray "CopyQ v4" first */
    buf x = {{0}, 0};
    qbytes(&x, "CopyQ v4");
    u32(&x, 2);
    cr_assert_eq(copyq_parse(x.d, x.n, &it, &e), -1);
    cr_assert(strstr(e.msg, "export file"), "%s", e.msg);
    /* a MIME type with an unknown prefix id, and one that is not ASCII */
    buf p = one_format("ztext", 0, "a");
    cr_assert_eq(copyq_parse(p.d, p.n, &it, &e), -1);
    cr_assert(strstr(e.msg, "prefix id"), "%s", e.msg);
    buf a = one_format("0te\x01xt", 0, "a");
    cr_assert_eq(copyq_parse(a.d, a.n, &it, &e), -1);
    cr_assert(strstr(e.msg, "ASCII"), "%s", e.msg);
}
