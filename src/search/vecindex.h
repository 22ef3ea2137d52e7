/* vecindex: the search matrix: every vector of one model, contiguous and memory-mapped.
 *
 * File <data dir>/vectors/<model id>.f32 (0600): a 32-byte header {"CSVEC001", u32 dim,
 * u32 zero, i64 count, i64 last_rowid} then count records {i64 entry, f32 vector[dim]}. It is
 * append-only: vecindex_sync appends the store's vectors whose rowid is past last_rowid (only the
 * new ones are read from SQLite) and then rewrites the header, under an flock, so concurrent
 * processes never double-append. Rows of deleted entries stay in the file and are dropped when
 * results are joined with the entries; a replaced vector leaves its old row, harmless for scoring
 * (an entry scores its best row). Deleting the file just makes the next sync rebuild it.
 *
 * Scoring is exact but does not read every float: a companion file <model id>.q8 (0600, kept
 * in step with the float file under the same lock, rebuilt when damaged) holds each row as int8
 * with one scale and its quantisation error err = ||v - v^||. A search streams that quarter-size
 * copy (AVX2 int8 dot products, both cores), bounds every row's true cosine within
 * err_r + err_q (1 + err_r) of its int8 score, and rescores in float only the rows whose upper
 * bound reaches the k-th best lower bound of distinct entries: the result is the float scan's,
 * also when one entry has many rows (text windows) near the query. Best row per entry, top k
 * entries by a bounded heap.
 *
 * A process keeps each file's mapping between opens (one per path, while it is the same file and
 * long enough; mapped with room to grow): a daemon that searches again and again does not map
 * 25 MB afresh and fault it in for every search (vecindex.c, vmap). */
#ifndef VECINDEX_H
#define VECINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"
#include "../store/store.h"

typedef struct vecindex vecindex;

/* Brings the file for `model` up to date with the store and maps it. Caller closes. When the new
 * rows cannot be written (ENOSPC, EDQUOT, EFBIG) it still succeeds, with the rows already on
 * disk, and vecindex_stale says so. */
int vecindex_open(store *s, const char *model, vecindex **out, cs_err *err);
void vecindex_close(vecindex *v); /* NULL is a no-op */

size_t vecindex_rows(const vecindex *v);
/* NULL when the index holds every vector of the store; else why some are missing, e.g. "index
 * out of date: disk full" (the new rows could not be appended: a full disk must not stop
 * searches, which go on from the rows already there; the next open appends the rest). Borrowed,
 * lives as long as v. */
const char *vecindex_stale(const vecindex *v);
int vecindex_dim(const vecindex *v);

typedef struct vec_hit {
    int64_t entry;
    float score;
} vec_hit;

/* Best k entries for query q (dim floats, unit length), best first; keep(entry, arg) may be NULL
 * or return 0 to exclude an entry (kind filters). *out is malloc'd; *n <= k. */
int vecindex_topk(const vecindex *v, const float *q, int k, int (*keep)(int64_t entry, void *arg), void *arg,
                  vec_hit **out, size_t *n, cs_err *err);

/* The same top-k for a batch of queries against one matrix: vecindex_scan_open scores all nq
 * queries (nq x dim floats, unit length; copied) against every row in one pass over the matrix,
 * blocked so that each block of rows is read once for the whole batch (the organiser's batch of
 * new entries); vecindex_scan_topk then gives query j's best k entries under keep, exactly what
 * vecindex_topk gives for that query alone (bit for bit; keep may differ per call). The scan
 * borrows v, which must outlive it. Errors: out of memory. */
typedef struct vecindex_scan vecindex_scan;
int vecindex_scan_open(const vecindex *v, const float *q, size_t nq, vecindex_scan **out, cs_err *err);
int vecindex_scan_topk(const vecindex_scan *sc, size_t j, int k, int (*keep)(int64_t entry, void *arg), void *arg,
                       vec_hit **out, size_t *n, cs_err *err);
void vecindex_scan_close(vecindex_scan *sc); /* NULL is a no-op */

/* Deleted entries leave their rows in the files (harmless to results, but their vectors stay on
 * disk). This drops the files of every model whose file holds more rows than the store has
 * vectors (stale rows), or that the store no longer has; the next open rebuilds them from the
 * store. Run at daemon start and by `clipseek gc`. *dropped gets the number of models dropped. */
int vecindex_compact(store *s, int64_t *dropped, cs_err *err);

/* Builds an index over an in-memory matrix (rows x dim, with ids), for benchmarks and tests.
 * The arrays are borrowed and must outlive the index. */
vecindex *vecindex_from_memory(const float *mat, const int64_t *ids, size_t rows, int dim);

#endif
