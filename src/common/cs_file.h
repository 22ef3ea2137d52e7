/* cs_file: whole-file reads and read-only memory maps, with size limits.
 *
 * Terms: a "map" is a read-only, private mmap of a whole file (or an empty buffer for an empty
 * file). Maps are how model weights are read: pages are only touched when a tensor is used. */
#ifndef CS_FILE_H
#define CS_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "cs_err.h"

/* Reads all of `path` into a malloc'd buffer (NUL-terminated for convenience; *len excludes the
 * NUL). Fails if the file is larger than max_bytes, or is not a regular file (a FIFO, device,
 * directory or socket: refused at once, never waited on; the message says which). Caller frees
 * *out with free(). */
int cs_read_file(const char *path, size_t max_bytes, char **out, size_t *len, cs_err *err);

/* Reads a whole stream (stdin, a pipe) into a malloc'd, NUL-terminated buffer; *len excludes the
 * NUL. Fails with errno EFBIG past max_bytes, or with the stream's errno. Returns 0 or -1. */
int cs_read_stream(FILE *f, size_t max_bytes, char **out, size_t *len);

typedef struct cs_map {
    const unsigned char *data; /* NULL for an empty file */
    size_t len;
} cs_map;

/* Maps `path` read-only (regular files only, checked as cs_read_file does). On success, release
 * with cs_unmap. */
int cs_map_file(const char *path, cs_map *m, cs_err *err);
void cs_unmap(cs_map *m); /* no-op on a zeroed map */

/* Joins dir and name with one '/'. Returns a malloc'd string (caller frees) or NULL on OOM. */
char *cs_path_join(const char *dir, const char *name);

/* 1 if path names something that exists (any type: a config path naming a FIFO is then refused
 * by cs_read_file with a message, not silently taken for "no file"), else 0. */
int cs_exists(const char *path);

/* 1 if path names an existing regular file, else 0. */
int cs_is_file(const char *path);

#endif
