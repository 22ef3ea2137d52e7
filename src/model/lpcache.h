/* lpcache: a tower's F16/Q8_0 weights (ops_lp.h), converted once and kept in a file, so that a
 * later start reads them back instead of reading and converting every F32 weight again.
 *
 * File (0600, written to a temporary name, fsynced and renamed into place, so a reader sees the
 * old file or the whole new one):
 *   "CSLPW002", u32 format (the dtype: F16 or Q8), u32 count, u32 key length, u32 0, u64 payload
 *   bytes, u64 checksum, the key, then count x {u32 n, u32 k, u32 format} (each weight's own
 *   layout: Q8 or its panels, Q8P, for a Q8 tower), then each weight's data in order
 *   (little-endian; the checksum covers everything after the fixed header). A file of the first
 *   version ("CSLPW001": no per-weight format) is never read: the tower is converted again.
 * The key names what the weights were converted from (lpc_key): the model folder and the size,
 * modification time and inode of each of its weight and config files, the tower, the format and
 * the converter's version. A file whose key, shapes, length or checksum differ is not used: the
 * caller converts again and overwrites it.
 * Errors: cs_err; nothing is printed. */
#ifndef LPCACHE_H
#define LPCACHE_H

#include <stddef.h>

#include "../common/cs_err.h"
#include "ops_lp.h"

/* Writes the key for (model folder, tower name, format) into key (n bytes) and a file name for it
 * into name (nn bytes: "<hash of the folder>-<tower>-<format>.lpw"). Returns 0, or -1 with *err
 * (the folder cannot be read). */
int lpc_key(const char *model_dir, const char *tower, int fmt, char *key, size_t n, char *name, size_t nn, cs_err *err);

/* Reads path back: count weights of dtype fmt (each in a layout of that dtype, ops_lp_family)
 * whose shapes must be shapes[i] = {n, k}. Returns
 * 0 with *out a new array of count weights (free each with ops_lp_free, then the array), or -1
 * with *err saying why (absent, another key, other shapes, truncated, checksum). */
int lpc_load(const char *path, const char *key, int fmt, const int (*shapes)[2], size_t count, ops_lpw ***out,
             cs_err *err);

/* Writes w[0..count) (all of one dtype, in any of its layouts) under key to path, atomically,
 * mode 0600, creating the folder (0700) if needed. Returns 0, or -1 with *err (nothing is left
 * half-written at path). Temporary files of an earlier save of path that was interrupted (an hour
 * old) are removed, and so, after the save, are the folder's other cache files that no load will
 * read again: of the first format, of an older converter, or made from a model folder that no
 * longer exists (a replaced or deleted model's towers, a few hundred MB each, would stay on the
 * disk for good). Files it is not sure of are kept. */
int lpc_save(const char *path, const char *key, const ops_lpw *const *w, size_t count, cs_err *err);

#endif
