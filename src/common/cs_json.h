/* cs_json: reading a JSON object from a file or from text, with the error a person can act on
 * (config.json, vocab.json, model indexes, the hub's answers). */
#ifndef CS_JSON_H
#define CS_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "cs_err.h"

/* Parses len bytes of txt (name says where they came from, in messages) and checks the value is
 * an object. Returns it (the caller json_decref's it), or NULL with err: CS_EINVAL
 * "<name>: not a JSON object (line L: why)". */
json_t *cs_json_object(const char *txt, size_t len, const char *name, cs_err *err);

/* Reads path (at most max bytes, cs_read_file) and parses it as cs_json_object does. NULL with
 * err also when the file cannot be read (CS_ENOTFOUND for a missing file, CS_EPERM, ...). */
json_t *cs_json_read_object(const char *path, size_t max, cs_err *err);

#endif
