/* torch_ckpt: reads PyTorch checkpoints (`pytorch_model.bin`, torch.save of a state dict) into a
 * tensor set (safetensors.h's st_set), without Python, libtorch or running anything in the file.
 *
 * Formats (both as written by torch.save, little-endian only):
 *  - zip (torch >= 1.6): an uncompressed zip with one top-level folder of any name holding
 *    `data.pkl` (the pickled state dict), `data/<key>` (one raw storage per key), `version` and
 *    maybe `byteorder`. Set format "pytorch zip".
 *  - legacy (torch < 1.6): five pickles back to back (magic number, protocol version 1001, system
 *    info, the state dict, the list of storage keys), then each storage in that order as an 8-byte
 *    little-endian element count and its raw bytes. Set format "pytorch legacy".
 *  - sharded: `pytorch_model.bin.index.json` with {"weight_map": {tensor: shard file}}.
 * The pickle is read by pickle.h's restricted reader: only state-dict globals are accepted.
 *
 * Tensors: a state dict maps names to tensors rebuilt by torch._utils._rebuild_tensor_v2
 * (storage, storage offset, size, stride), possibly wrapped in _rebuild_parameter. Storage dtypes:
 * F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL. Many tensors may share one storage. A tensor
 * whose elements are contiguous in row-major order is used in place (a view into the file map,
 * nothing copied, pages read only when used); any other view (transposed strides, for example) is
 * copied once at load into a buffer the set owns, and counted by st_converted().
 *
 * Errors name the file and, where one is at fault, the tensor: truncated files, a storage shorter
 * than a tensor's view, zip entries that are compressed (torch never writes them; refused), a big-
 * endian checkpoint, a refused pickle global, bounds of pickle.h.
 *
 * Threading: the resulting set is immutable; see safetensors.h. */
#ifndef TORCH_CKPT_H
#define TORCH_CKPT_H

#include <stddef.h>

#include "../common/cs_err.h"
#include "safetensors.h"

/* Opens a checkpoint file, or a sharded one through its .index.json. Caller closes *out with
 * st_close. Returns 0, or -1 with a message. */
int tc_open(const char *path, st_set **out, cs_err *err);

/* Adds the tensors of one checkpoint image (zip or legacy) to s (not sealed). `buf` must outlive
 * the set; `label` names it in messages and becomes the tensors' `file`. Used by tc_open and by
 * the fuzzer. Also sets the set's format. */
int tc_add_buffer(st_set *s, const unsigned char *buf, size_t len, const char *label, cs_err *err);

#endif
