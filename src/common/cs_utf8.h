/* cs_utf8: strict UTF-8 decoding (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
#ifndef CS_UTF8_H
#define CS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the scalar at s[0..n) (n >= 1). Returns the bytes consumed (>= 1). On invalid input
 * *cp is -1 and the count is the maximal invalid subpart (Unicode's recommended practice: one
 * replacement per maximal subpart, as Python's errors="replace" and Rust's from_utf8_lossy). */
size_t cs_utf8_next(const unsigned char *s, size_t n, int32_t *cp);

/* 1 if s[0..n) is valid UTF-8 (and, unless allow_nul, has no NUL byte). */
int cs_utf8_valid(const void *s, size_t n, int allow_nul);

/* 1 for a scalar that clip content must not send to a terminal: C0 and C1 controls and DEL
 * (escape sequences; U+009B alone is a CSI to a terminal that reads C1), and the bidi formatting
 * characters U+061C, U+200E, U+200F, U+202A-U+202E and U+2066-U+2069, which reorder what follows
 * so that a line reads otherwise than it is ("Trojan Source", CVE-2021-42574). Tab and newline
 * are C0 too: callers that keep lines let them through themselves. */
int cs_utf8_unsafe(int32_t cp);

/* A copy of s fit for a terminal (malloc'd, NULL when out of memory or s is NULL): unsafe
 * scalars (above) dropped except tab and newline, invalid UTF-8 as U+FFFD. */
char *cs_utf8_printable(const char *s);

/* Trims ASCII white space at both ends of s in place; returns the first kept character. */
char *cs_trim(char *s);

#endif
