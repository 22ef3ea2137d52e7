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
 * directory or socket: refused at once, never waited on; the message says which). For files the
 * program or its config names (config, labels, model files). Caller frees *out with free(). */
int cs_read_file(const char *path, size_t max_bytes, char **out, size_t *len, cs_err *err);

/* As cs_read_file, for a FILE the user names on the command line: `path` may also be a pipe, a
 * FIFO, a terminal or /dev/stdin (`-` through cs_input_path, `<(...)`), read to its end, failing as
 * soon as more than max_bytes arrive. A folder is refused. Caller frees *out with free(). */
int cs_read_input(const char *path, size_t max_bytes, char **out, size_t *len, cs_err *err);

/* Reads a whole stream (stdin, a pipe) into a malloc'd, NUL-terminated buffer; *len excludes the
 * NUL. Fails with errno EFBIG past max_bytes, or with the stream's errno. Returns 0 or -1. */
int cs_read_stream(FILE *f, size_t max_bytes, char **out, size_t *len);

/* The path a command-line FILE argument names: "-" (Unix habit for stdin) is /dev/stdin, anything
 * else itself. Borrowed: returns arg or a static string. */
const char *cs_input_path(const char *arg);

typedef struct cs_map {
    const unsigned char *data; /* NULL for an empty file */
    size_t len;
    int heap; /* 1: data was read into memory (a pipe), freed by cs_unmap */
} cs_map;

/* The most cs_map_file reads from a file that cannot be mapped (a pipe). */
#define CS_MAP_STREAM_MAX ((size_t)1 << 30)

/* Maps `path` read-only (regular files only, checked as cs_read_file does). On success, release
 * with cs_unmap. */
int cs_map_file(const char *path, cs_map *m, cs_err *err);

/* As cs_map_file, for a FILE named on the command line: a pipe or /dev/stdin cannot be mapped, so it
 * is read into memory instead (at most CS_MAP_STREAM_MAX bytes), which callers do not see. */
int cs_map_input(const char *path, cs_map *m, cs_err *err);
void cs_unmap(cs_map *m); /* no-op on a zeroed map */

/* Joins dir and name with one '/'. Returns a malloc'd string (caller frees) or NULL on OOM. */
char *cs_path_join(const char *dir, const char *name);

/* 1 if path names an existing regular file, else 0. */
int cs_is_file(const char *path);

/* 1 if path names something that exists (any type: a config path naming a FIFO is then refused
 * by cs_read_file with a message, not silently taken for "no file"), else 0. */
int cs_exists(const char *path);

#endif
