/* cs_err: a small error-message carrier shared by all modules.
 *
 * Library code never prints; a failing function writes a human-readable reason into a caller-owned
 * cs_err and returns a negative int. The text names the file and the object that failed
 * ("model.safetensors: tensor 'x': ..."), so main can print it as-is: control characters
 * (which a name from a file or a server may hold) are replaced by '?'. A NULL cs_err is allowed
 * everywhere and discards the message.
 *
 * Each message carries a code (cs_err_code), so that a caller that must react differently (the
 * daemon retrying a busy store, the CLI's exit status, the web page's HTTP status) can tell
 * out-of-memory, busy, corrupt, I/O, bad input and not-found apart without parsing text. The code
 * is set by the place that knows (the store from SQLite's result, a file open from errno, a
 * parser) and mapped once at each edge. cs_err_set keeps working as before and gives the generic
 * CS_EFAIL. */
#ifndef CS_ERR_H
#define CS_ERR_H

#include <stddef.h>

/* What went wrong, for a caller's decision; the message says the details. */
typedef enum cs_err_code {
    CS_EFAIL = 1,   /* generic: none of the below (the default of cs_err_set) */
    CS_ENOMEM,      /* out of memory */
    CS_EINVAL,      /* bad input: a malformed file, request or argument */
    CS_ENOTFOUND,   /* no such file, entry, model or collection */
    CS_EPERM,       /* permission denied */
    CS_EBUSY,       /* busy or locked by someone else: trying again later may work */
    CS_ECORRUPT,    /* stored data is damaged (a corrupt database) */
    CS_EIO,         /* an input/output error of the system */
    CS_ENOSPC,      /* the disk (or quota) is full */
    CS_EUNSUPPORTED /* a valid input this build cannot handle (a format, a device) */
} cs_err_code;

/* Zero it with `cs_err e = {0}` (`{{0}}` now warns: code is not initialised by it). */
typedef struct cs_err {
    char msg[1024];
    int code; /* a cs_err_code, set with msg */
} cs_err;

/* Formats a message into e (if e is not NULL). Always returns -1 so callers can
 * write `return cs_err_set(e, "...")`. */
int cs_err_set(cs_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* As cs_err_set, with a code other than CS_EFAIL. Returns -1. */
int cs_errc(cs_err *e, cs_err_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A failed system call: "<what>: <strerror(errnum)>" with cs_err_from_errno(errnum)'s code.
 * Returns -1. */
int cs_err_sys(cs_err *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with "prefix: " (if e is not NULL); the code stays. Returns -1. */
int cs_err_prefix(cs_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The code of a failure e describes: CS_EFAIL for NULL or a code out of range. Only meaningful
 * after a function returned an error into e. */
cs_err_code cs_err_code_of(const cs_err *e);

/* The code for an errno value: ENOENT/ENOTDIR -> CS_ENOTFOUND, EACCES/EPERM/EROFS -> CS_EPERM,
 * ENOMEM -> CS_ENOMEM, ENOSPC/EDQUOT -> CS_ENOSPC, EIO -> CS_EIO, EBUSY/EAGAIN/ETXTBSY ->
 * CS_EBUSY, EINVAL/EISDIR/ENAMETOOLONG -> CS_EINVAL, anything else CS_EFAIL. */
cs_err_code cs_err_from_errno(int errnum);

/* A short lowercase name for a code ("not found", "busy" ...), for logs and JSON. */
const char *cs_err_code_name(cs_err_code code);

#endif
