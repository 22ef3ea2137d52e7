/* cs_err: see cs_err.h. */
#include "cs_err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Messages carry names from files and servers (a tensor name, a hub's X-Error-Message) and main
 * prints them as-is: a control character (an ESC sequence can rewrite the terminal) becomes '?'. */
static void scrub(char *m) {
    for (; *m; m++)
        if ((unsigned char)*m < 0x20 || *m == 0x7f) *m = '?';
}

static int vset(cs_err *e, cs_err_code code, const char *fmt, va_list ap) {
    if (!e) return -1;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    scrub(e->msg);
    e->code = code;
    return -1;
}

int cs_err_set(cs_err *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset(e, CS_EFAIL, fmt, ap);
    va_end(ap);
    return -1;
}

int cs_errc(cs_err *e, cs_err_code code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, fmt, ap);
    va_end(ap);
    return -1;
}

int cs_err_sys(cs_err *e, int errnum, const char *fmt, ...) {
    if (!e) return -1;
    char what[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return cs_errc(e, cs_err_from_errno(errnum), "%.900s: %s", what, strerror(errnum));
}

cs_err_code cs_err_code_of(const cs_err *e) {
    return e && e->code >= CS_EFAIL && e->code <= CS_EUNSUPPORTED ? (cs_err_code)e->code : CS_EFAIL;
}

cs_err_code cs_err_from_errno(int errnum) {
    switch (errnum) {
    case ENOENT:
    case ENOTDIR: return CS_ENOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS: return CS_EPERM;
    case ENOMEM: return CS_ENOMEM;
    case ENOSPC:
    case EDQUOT: return CS_ENOSPC;
    case EIO: return CS_EIO;
    case EBUSY:
    case EAGAIN:
    case ETXTBSY: return CS_EBUSY;
    case EINVAL:
    case EISDIR:
    case ENAMETOOLONG: return CS_EINVAL;
    default: return CS_EFAIL;
    }
}

const char *cs_err_code_name(cs_err_code code) {
    static const char *const names[] = {"failed", "out of memory", "bad input", "not found", "permission denied",
                                        "busy",   "corrupt",       "i/o error", "disk full", "unsupported"};
    return code >= CS_EFAIL && code <= CS_EUNSUPPORTED ? names[code - CS_EFAIL] : "failed";
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
