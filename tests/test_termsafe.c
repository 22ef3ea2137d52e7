/* Clip content on its way to a terminal: C0 and C1 controls, DEL and bidi formatting characters
 * are dropped (escape sequences, U+009B as a one-character CSI, "Trojan Source" reordering), from
 * the one-line preview (list, pick, search) and from `show`'s full text (cs_utf8_printable). */
#include <stdlib.h>
#include <string.h>

#include "../src/common/cs_utf8.h"
#include "../src/store/store.h"
#include "testutil.h"

/* every character that must not reach a terminal, in UTF-8 */
static const char *const unsafe[] = {
    "\x1b", "\x07", "\x7f", "\xc2\x80", "\xc2\x9b", "\xc2\x9f", "\xd8\x9c", "\xe2\x80\x8e", "\xe2\x80\x8f",
    "\xe2\x80\xaa", "\xe2\x80\xab", "\xe2\x80\xac", "\xe2\x80\xad", "\xe2\x80\xae", "\xe2\x81\xa6",
    "\xe2\x81\xa7", "\xe2\x81\xa8", "\xe2\x81\xa9",
};

Test(termsafe, unsafe_code_points) {
    int32_t bad[] = {0x00, 0x1b, 0x1f, 0x7f, 0x80, 0x9b, 0x9f, 0x061c, 0x200e, 0x200f, 0x202a, 0x202e, 0x2066, 0x2069};
    int32_t good[] = {' ', 'a', '~', 0xa0, 0xe9, 0x05d0, 0x0627, 0x200d, 0x2028 - 8, 0x2070, 0x1f600};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) cr_expect(cs_utf8_unsafe(bad[i]), "U+%04X is unsafe", bad[i]);
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) cr_expect(!cs_utf8_unsafe(good[i]), "U+%04X is fine", good[i]);
}

Test(termsafe, preview_drops_controls_and_bidi) {
    for (size_t i = 0; i < sizeof unsafe / sizeof *unsafe; i++) {
        char text[64];
        snprintf(text, sizeof text, "ab%scd", unsafe[i]);
        store_entry e = {0};
        strcpy(e.kind, "text");
        e.text = text;
        char *pv = store_preview(&e, 80);
        cr_assert_not_null(pv);
        cr_expect_str_eq(pv, "abcd", "case %zu", i);
        free(pv);
    }
}

Test(termsafe, preview_keeps_text_and_replaces_broken_utf8) {
    store_entry e = {0};
    strcpy(e.kind, "text");
    e.text = "caf\xc3\xa9 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xff end"; /* Hebrew stays, 0xff is U+FFFD */
    char *pv = store_preview(&e, 80);
    cr_assert_not_null(pv);
    cr_expect_str_eq(pv, "caf\xc3\xa9 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xef\xbf\xbd end");
    free(pv);
    /* the cut stays inside max bytes with replacement characters too */
    e.text = "\xff\xff\xff\xff\xff";
    pv = store_preview(&e, 7);
    cr_assert_not_null(pv);
    cr_expect(strncmp(pv, "\xef\xbf\xbd\xef\xbf\xbd", 6) == 0 && cs_utf8_valid(pv, strlen(pv), 0), "got '%s'", pv);
    free(pv);
}

Test(termsafe, printable_keeps_lines) {
    char *p = cs_utf8_printable("line 1\n\tline \x1b[2J2\xc2\x9b" "6n\r\n\xe2\x80\xae" "exe.txt\xe2\x81\xa9\n");
    cr_assert_not_null(p);
    cr_expect_str_eq(p, "line 1\n\tline [2J26n\nexe.txt\n");
    free(p);
    p = cs_utf8_printable("a\xc0\x80z");
    cr_assert_not_null(p);
    cr_expect(cs_utf8_valid(p, strlen(p), 0) && p[0] == 'a' && p[strlen(p) - 1] == 'z', "got '%s'", p);
    free(p);
    cr_expect_null(cs_utf8_printable(NULL));
}
