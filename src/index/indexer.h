/* indexer: computes the CLIP vectors of entries that have none for the current model.
 *
 * Images: decoded from their blob, preprocessed, embedded by the vision tower in batches of 8.
 * Text (kinds "text" and "files"): tokenised without truncation and embedded in windows of up to
 * 75 tokens (77 with <|startoftext|>/<|endoftext|>), consecutive windows overlapping by 16 tokens
 * so a phrase across a boundary is whole in one of them; part i of the entry's vector is window i.
 * At most INDEX_MAX_WINDOWS windows per entry (about 60,000 tokens); the full-text index covers
 * the rest of a longer text.
 *
 * An entry that cannot be embedded (an undecodable image) gets a marker row (part -1, dim 0) so
 * it is not retried forever; searches skip rows of dim 0.
 *
 * Vectors carry a model id (index_model_id): a different checkpoint gives a different id, so a
 * model switch re-embeds everything. */
#ifndef INDEXER_H
#define INDEXER_H

#include <stdint.h>

#include "../common/cs_err.h"
#include "../model/clip.h"
#include "../model/stmodel.h"
#include "../store/store.h"

#define INDEX_WINDOW      75
#define INDEX_OVERLAP     16
#define INDEX_MAX_WINDOWS 1024

/* A short stable id for the checkpoint in dir: "<folder name>-<12 hex of SHA-256 over
 * config.json and the safetensors header(s), or the last 64 KB of
 * pytorch_model.bin where there is no safetensors file>". malloc'd; NULL on failure (err set). */
char *index_model_id(const char *dir, cs_err *err);

/* The CPU dtype (CLIP_DTYPE_*) for the model in dir on store s, when no --dtype names one: what
 * `model use --dtype` stored ("model_dtype"), else the store's "default_dtype". A store without
 * either gets one now: "f32" when it already holds vectors of this model (they were made when F32
 * was the default: queries embedded in q8 against F32 image vectors lost a toy-world query, so
 * an old store keeps the dtype of its vectors rather than mixing or re-embedding the history),
 * else "default" (the towers' defaults, clip_dtype_default). `model use` to another folder
 * clears "default_dtype" (its vectors are made anew). A value that does not parse, or a store
 * that cannot be read or written, gives CLIP_DTYPE_DEFAULT. */
int index_store_dtype(store *s, const char *dir);

typedef struct index_stats {
    int64_t embedded, failed, windows, pending;
} index_stats;

typedef void (*index_progress_fn)(const index_stats *st, void *arg);

/* Embeds up to max_entries entries missing vectors for model_id (0: until none is left).
 * progress (may be NULL) is called after each batch. */
int index_run(store *s, clip_ctx *c, const char *model_id, int64_t max_entries, index_stats *st,
              index_progress_fn progress, void *arg, cs_err *err);

/* The text embedder's pass (docs/text-models.md): embeds up to max_entries text entries (every
 * kind but images) that have no vector for model_id with the sentence model t, one vector each
 * (part 0) of the text truncated to the model's max_seq_length (the full-text index covers the
 * rest of a longer text), written in groups of up to 32 per commit. Images are never touched.
 * st->pending gets the text entries still without a vector afterwards. */
int index_run_text(store *s, stm_ctx *t, const char *model_id, int64_t max_entries, index_stats *st, cs_err *err);

/* Splits token ids [bos, c1..cn, eos] into windows; returns the count (<= max), each window a
 * malloc'd [bos, ..., eos] array in win[i] of lens[i] ids. Exposed for tests. */
int index_text_windows(const int32_t *ids, size_t n, int32_t bos, int32_t eos, int32_t **win, size_t *lens, int max);

#endif
