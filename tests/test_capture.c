/* capture: the type choice shared by X11 and Wayland, and the password-manager hint. */
#include "../src/capture/capture.h"
#include "testutil.h"

static void expect_pick(const char *offered, const char *want) {
    const char *got = capture_pick_type(offered);
    if (!want) cr_expect_null(got, "offer '%s' should pick nothing, got %s", offered, got ? got : "");
    else cr_expect(got && !strcmp(got, want), "offer '%s' should pick %s, got %s", offered, want, got ? got : "NULL");
}

Test(capture_pick, images_over_html) {
    /* a browser's "Copy Image" */
    expect_pick("text/html\nimage/png", "image/png");
    expect_pick("TARGETS\nTIMESTAMP\ntext/html\ntext/_moz_htmlinfo\nimage/jpeg\nimage/bmp\nimage/png", "image/png");
    expect_pick("text/html\nimage/jpeg\nimage/gif", "image/jpeg");
    expect_pick("image/webp\ntext/plain", "image/webp");
    /* an image type classify cannot read is not chosen */
    expect_pick("image/tiff\ntext/html", NULL);
    expect_pick("image/tiff\nUTF8_STRING", "UTF8_STRING");
}

Test(capture_pick, files) {
    /* what Nautilus offers */
    expect_pick("TARGETS\nx-special/gnome-copied-files\ntext/uri-list\nUTF8_STRING\nSTRING", "text/uri-list");
    expect_pick("x-special/gnome-copied-files\nUTF8_STRING", "x-special/gnome-copied-files");
    expect_pick("text/plain\ntext/uri-list", "text/uri-list");
}

Test(capture_pick, text_order) {
    expect_pick("STRING\nUTF8_STRING\nTEXT", "UTF8_STRING");
    expect_pick("text/plain\ntext/plain;charset=utf-8", "text/plain;charset=utf-8");
    expect_pick("text/plain;charset=UTF-8\r\ntext/plain\r\n", "text/plain;charset=UTF-8");
    expect_pick("TEXT", "TEXT");
    expect_pick("STRING\nTEXT", "STRING");
    expect_pick("text/plain\nSTRING", "text/plain");
    /* a prefix or a longer name is not the type */
    expect_pick("text/plainx\nUTF8_STRING_X\nimage/pn", NULL);
    expect_pick("", NULL);
    expect_pick(NULL, NULL);
    expect_pick("text/html\nTARGETS", NULL);
}

Test(capture_pick, returns_offered_name) {
    const char *offered = "UTF8_STRING\nimage/gif";
    const char *got = capture_pick_type(offered);
    cr_assert_str_eq(got, "image/gif");
}

Test(capture_hint, offered) {
    cr_expect_eq(capture_offers_secret_hint("UTF8_STRING\nx-kde-passwordManagerHint"), 1);
    cr_expect_eq(capture_offers_secret_hint("x-kde-passwordManagerHint\r\ntext/plain"), 1);
    cr_expect_eq(capture_offers_secret_hint("UTF8_STRING\nx-kde-passwordManagerHintX"), 0);
    cr_expect_eq(capture_offers_secret_hint("UTF8_STRING"), 0);
    cr_expect_eq(capture_offers_secret_hint(NULL), 0);
    /* the hint does not change the choice of type: the caller decides secrecy first */
    cr_expect_str_eq(capture_pick_type("x-kde-passwordManagerHint\ntext/plain"), "text/plain");
}

Test(capture_hint, values) {
    cr_expect_eq(capture_hint_is_secret((const unsigned char *)"secret", 6), 1);
    cr_expect_eq(capture_hint_is_secret((const unsigned char *)"secret\n", 7), 1);
    cr_expect_eq(capture_hint_is_secret((const unsigned char *)"secret\0", 7), 1);
    cr_expect_eq(capture_hint_is_secret(NULL, 0), 1, "an unreadable hint fails closed");
    /* X11 took an empty or blank value as "not secret" (stored) while wl-event took an empty one as
     * not handed over (secret); the type exists only to mark passwords, so neither may store */
    cr_expect_eq(capture_hint_is_secret((const unsigned char *)"", 0), 1, "an empty hint fails closed");
    cr_expect_eq(capture_hint_is_secret((const unsigned char *)" \n\0", 3), 1, "a blank hint fails closed");
    cr_expect_eq(capture_hint_is_secret((const unsigned char *)"Secret", 6), 1, "case does not matter");
    cr_expect_eq(capture_hint_is_secret((const unsigned char *)"\tSECRET\r\n", 9), 1);
    cr_expect_eq(capture_hint_is_secret((const unsigned char *)"public", 6), 0);
    cr_expect_eq(capture_hint_is_secret((const unsigned char *)"secrets", 7), 0);
}

Test(capture_classify, gnome_copied_files) {
    const char *d = "copy\nfile:///tmp/a.txt";
    capture_kind k;
    cs_err e;
    cr_assert_eq(capture_classify((const unsigned char *)d, strlen(d), "x-special/gnome-copied-files", NULL, &k, &e), 0);
    cr_expect_str_eq(k.kind, "files");
    cr_expect_str_eq(k.mime, "x-special/gnome-copied-files");
}

#include "../src/capture/x11own.h"

/* What copying a files entry back serves: RFC 2483 CRLF lines, GNOME's "copy" form, text. */
Test(x11own, files_items) {
    x11own_item it[4];
    char *buf;
    cs_err e;
    const char *uri = "file:///tmp/a%20b.txt\nfile:///tmp/c.txt\n";
    int n = x11own_files_items((const unsigned char *)uri, strlen(uri), "text/uri-list", it, &buf, &e);
    cr_assert_eq(n, 4, "%s", e.msg);
    cr_expect_str_eq(it[0].type, "text/uri-list");
    cr_expect(it[0].len == strlen("file:///tmp/a%20b.txt\r\nfile:///tmp/c.txt\r\n") &&
              !memcmp(it[0].data, "file:///tmp/a%20b.txt\r\nfile:///tmp/c.txt\r\n", it[0].len));
    cr_expect_str_eq(it[1].type, "x-special/gnome-copied-files");
    cr_expect(it[1].len == strlen("copy\nfile:///tmp/a%20b.txt\nfile:///tmp/c.txt") &&
              !memcmp(it[1].data, "copy\nfile:///tmp/a%20b.txt\nfile:///tmp/c.txt", it[1].len));
    cr_expect(it[2].len == strlen("file:///tmp/a%20b.txt\nfile:///tmp/c.txt"));
    free(buf);
    /* GNOME's own form in, the same four out */
    const char *g = "cut\nfile:///x/y";
    n = x11own_files_items((const unsigned char *)g, strlen(g), "x-special/gnome-copied-files", it, &buf, &e);
    cr_assert_eq(n, 4, "%s", e.msg);
    cr_expect(it[0].len == strlen("file:///x/y\r\n") && !memcmp(it[0].data, "file:///x/y\r\n", it[0].len));
    free(buf);
    cr_expect_eq(x11own_files_items((const unsigned char *)"copy", 4, "x-special/gnome-copied-files", it, &buf, &e), -1);
    cr_expect_eq(x11own_files_items((const unsigned char *)"\n\n", 2, "text/uri-list", it, &buf, &e), -1);
}
