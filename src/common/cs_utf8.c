/* cs_utf8: see cs_utf8.h. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "cs_utf8.h"

size_t cs_utf8_next(const unsigned char *s, size_t n, int32_t *cp) {
    unsigned b = s[0];
    if (b < 0x80) {
        *cp = (int32_t)b;
        return 1;
    }
    int need;
    unsigned lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
        need = 1;
    else if (b == 0xE0) {
        need = 2;
        lo = 0xA0;
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
        need = 2;
    else if (b == 0xED) {
        need = 2;
        hi = 0x9F;
    } else if (b == 0xF0) {
        need = 3;
        lo = 0x90;
    } else if (b >= 0xF1 && b <= 0xF3)
        need = 3;
    else if (b == 0xF4) {
        need = 3;
        hi = 0x8F;
    } else {
        *cp = -1;
        return 1;
    }
    int32_t v = (int32_t)(b & (0x3F >> need));
    size_t i = 1;
    for (; i <= (size_t)need; i++) {
        if (i >= n) {
            *cp = -1;
            return i;
        }
        unsigned c = s[i], l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (c < l || c > h) {
            *cp = -1;
            return i;
        }
        v = (v << 6) | (int32_t)(c & 0x3F);
    }
    *cp = v;
    return i;
}

int cs_utf8_valid(const void *p, size_t n, int allow_nul) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += cs_utf8_next(s + i, n - i, &cp);
        if (cp < 0 || (cp == 0 && !allow_nul)) return 0;
    }
    return 1;
}

char *cs_trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

int cs_utf8_is_space(int32_t c) {
    return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

int cs_utf8_unsafe(int32_t cp) {
    return (cp >= 0 && cp < 0x20) || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

char *cs_utf8_printable(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s), o = 0;
    char *out = malloc(n * 3 + 1); /* each invalid byte may become a 3-byte U+FFFD */
    if (!out) return NULL;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t k = cs_utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (cp < 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
        } else if (cp == '\n' || cp == '\t' || !cs_utf8_unsafe(cp)) {
            memcpy(out + o, s + i, k);
            o += k;
        }
        i += k;
    }
    out[o] = 0;
    return out;
}
