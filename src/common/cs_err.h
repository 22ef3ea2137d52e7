/* cs_err: a small error-message carrier shared by all modules.
 *
 * Library code never prints; a failing function writes a human-readable reason into a caller-owned
 * cs_err and returns a negative int. The text names the file and the object that failed
 * ("model.safetensors: tensor 'x': ..."), so main can print it as-is: control characters
 * (which a name from a file or a server may hold) are replaced by '?'. A NULL cs_err is allowed
 * everywhere and discards the message. */
#ifndef CS_ERR_H
#define CS_ERR_H

#include <stddef.h>

typedef struct cs_err {
    char msg[1024];
} cs_err;

/* Formats a message into e (if e is not NULL). Always returns -1 so callers can
 * write `return cs_err_set(e, "...")`. */
int cs_err_set(cs_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the existing message with "prefix: " (if e is not NULL). Returns -1. */
int cs_err_prefix(cs_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
