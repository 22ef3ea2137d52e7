/* cs_err: see cs_err.h. */
#include "cs_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Messages carry names from files and servers (a tensor name, a hub's X-Error-Message) and main
 * prints them as-is: a control character (an ESC sequence can rewrite the terminal) becomes '?'. */
static void scrub(char *m) {
    for (; *m; m++)
        if ((unsigned char)*m < 0x20 || *m == 0x7f) *m = '?';
}

int cs_err_set(cs_err *e, const char *fmt, ...) {
    if (!e) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    scrub(e->msg);
    return -1;
}

int cs_err_prefix(cs_err *e, const char *fmt, ...) {
    if (!e) return -1;
    char old[sizeof e->msg];
    memcpy(old, e->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    size_t at = (size_t)n < sizeof e->msg - 1 ? (size_t)n : sizeof e->msg - 1;
    /* append ": old", truncating at the buffer's end */
    const char *sep = ": ";
    for (const char *s = sep; *s && at < sizeof e->msg - 1; s++) e->msg[at++] = *s;
    for (const char *s = old; *s && at < sizeof e->msg - 1; s++) e->msg[at++] = *s;
    e->msg[at] = 0;
    scrub(e->msg);
    return -1;
}
