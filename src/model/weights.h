/* weights: finds and opens the weights of a Hugging Face model folder, whatever their container,
 * as one tensor set (safetensors.h), so model code does not care where tensors came from.
 *
 * Accepted, in this order of preference (the first present wins):
 *   model.safetensors, model.safetensors.index.json (+ shards)      -> format "safetensors"
 *   pytorch_model.bin (zip or legacy), pytorch_model.bin.index.json -> "pytorch zip" / "pytorch legacy"
 * safetensors is preferred when both exist: its header alone validates the file, and nothing in it
 * needs interpreting. */
#ifndef WEIGHTS_H
#define WEIGHTS_H

#include "../common/cs_err.h"
#include "safetensors.h"

/* Opens the weights in `dir`. Caller closes *out with st_close. Returns 0, or -1 with a message
 * naming the file (and tensor) at fault, or listing the names looked for when there is none. */
int wt_open_dir(const char *dir, st_set **out, cs_err *err);

/* The weights file wt_open_dir would open in `dir` (malloc'd path; caller frees), or NULL. */
char *wt_find(const char *dir);

#endif
