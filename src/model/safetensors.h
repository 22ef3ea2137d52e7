/* safetensors: a validating, memory-mapped reader for Hugging Face safetensors files.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON ({name: {dtype, shape,
 * data_offsets: [begin, end]}, "__metadata__": {...}}), then raw little-endian tensor data; offsets
 * are relative to the end of the header. A model may also be sharded: `model.safetensors.index.json`
 * holds {"weight_map": {tensor: file}}.
 *
 * Invariants after st_open succeeds: every tensor's dtype is known, its shape has at most
 * ST_MAX_DIMS non-negative dims, its byte size equals numel * dtype size (no overflow), and its
 * bytes lie wholly inside its file's data section. Data pointers stay valid until st_close. Nothing
 * is copied: tensor data points into the read-only map, so unused tensors cost no memory.
 *
 * Threading: a st_set is immutable after open; concurrent readers are fine. */
#ifndef SAFETENSORS_H
#define SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"

#define ST_MAX_DIMS 8

typedef enum { ST_F32, ST_F16, ST_BF16, ST_F64, ST_I8, ST_U8, ST_I16, ST_I32, ST_I64, ST_BOOL } st_dtype;

typedef struct st_tensor {
    const char *name; /* borrowed from the set */
    const char *file; /* the file it came from (for messages); borrowed */
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    const void *data; /* into the map; may be unaligned for the dtype */
    size_t nbytes;
} st_tensor;

typedef struct st_set st_set;

/* Opens a .safetensors file, or a sharded model through its .index.json (shards are resolved
 * relative to the index's folder). On failure returns -1 with a message naming the file (and the
 * tensor, where one is at fault). Caller closes *out with st_close. */
int st_open(const char *path, st_set **out, cs_err *err);

/* Validates and indexes an in-memory safetensors image (used by st_open and by the fuzzer).
 * `buf` must outlive the set; `label` names it in messages. */
int st_open_buffer(const unsigned char *buf, size_t len, const char *label, st_set **out, cs_err *err);

void st_close(st_set *s); /* NULL is a no-op */

/* Looks a tensor up by exact name; NULL if absent. Borrowed (as st_at's): valid until st_close. */
const st_tensor *st_find(const st_set *s, const char *name);

size_t st_count(const st_set *s);
const st_tensor *st_at(const st_set *s, size_t i);

/* Bytes per element of a dtype. */
size_t st_dtype_size(st_dtype t);
const char *st_dtype_name(st_dtype t);

/* Copies a tensor's elements into dst as float32, converting F16/BF16/F64 (and integer types).
 * dst must hold t->numel floats. Returns 0, or -1 if the dtype cannot be converted. */
int st_to_f32(const st_tensor *t, float *dst);

/* Converts one IEEE half / bfloat16 value to float. */
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t h);

/* Bytes of the set's file maps resident in this process: their Rss from /proc/self/smaps (not
 * mincore, which would count pages that are merely in the page cache). 0 if smaps is unreadable. */
uint64_t st_resident_bytes(const st_set *s);
/* Hands the pages of a tensor that the caller will not read again back to the kernel
 * (madvise MADV_DONTNEED on the file map; only pages wholly inside the tensor). The data stays
 * valid: a later read faults it back in from the file. A no-op for sets opened from a buffer. */
void st_release(const st_set *s, const st_tensor *t);
/* Total bytes of the set's files. */
uint64_t st_file_bytes(const st_set *s);

/* ---- Building a set from another container format (see torch.h) ----
 * A reader maps its files into the set, adds tensors that point into those maps (or into buffers
 * the set owns, for data that had to be converted), then seals the set. After st_seal the set is
 * used exactly like one from st_open. Same invariants: the reader checks that every tensor's bytes
 * lie inside a map or an owned buffer before adding it. */

/* An empty set to fill. Caller closes it with st_close (also on failure). */
int st_new(st_set **out, cs_err *err);
/* Maps `path` into the set; *data and *len stay valid until st_close. *label is the set's copy of the
 * path (for tensors' `file`). */
int st_add_file(st_set *s, const char *path, const unsigned char **data, size_t *len, const char **label, cs_err *err);
/* A zeroed buffer of `bytes` owned by the set (freed by st_close, counted as resident). NULL when
 * out of memory. */
void *st_own(st_set *s, size_t bytes);
/* Adds a tensor; the name is copied, t->name must be set, t->file and t->data are borrowed. numel
 * and nbytes are computed here from dtype and shape. */
int st_add_tensor(st_set *s, const st_tensor *t, cs_err *err);
/* Sorts the tensors; fails if a name appears twice. */
int st_seal(st_set *s, cs_err *err);

/* Reads a sharded model's index (`*.index.json`, {"weight_map": {tensor: file}}): calls add(s,
 * path) once per distinct shard (a plain file name in the index's folder, in order of first
 * mention), seals the set, then checks that every tensor the index names is in the shard it names.
 * Shared by the safetensors and PyTorch readers. */
typedef int (*st_add_shard_fn)(st_set *s, const char *path, cs_err *err);
int st_open_index(st_set *s, const char *path, st_add_shard_fn add, cs_err *err);

/* The container format, for `model info`: "safetensors" by default; a reader sets its own (a
 * static string). */
const char *st_format(const st_set *s);
void st_set_format(st_set *s, const char *format);
/* Tensors whose bytes were copied at load (a strided view, for example) rather than used in place. */
size_t st_converted(const st_set *s);
void st_note_converted(st_set *s);

#endif
