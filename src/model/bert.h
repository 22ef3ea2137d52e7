/* bert: BERT and DistilBERT encoders (transformers' BertModel / DistilBertModel) from a Hugging
 * Face model folder, computing last_hidden_state exactly as they do.
 *
 * A folder holds config.json (model_type "bert" or "distilbert") and weights in any container
 * weights.h opens; tensor names may carry the "bert." / "distilbert." prefix of a checkpoint
 * saved from a task model. Architecture: word + learned absolute position (+ token type 0, BERT)
 * embeddings, LayerNorm, then post-LN layers: x = LN(x + attn(x)); x = LN(x + ffn(x)) with the
 * config's activation (gelu = exact erf GELU), bidirectional attention with an optional key mask.
 * position_embedding_type other than "absolute" and sinusoidal DistilBERT positions computed at
 * run time are refused with a message.
 *
 * Memory: weights are memory-mapped and validated from the headers at load; they are read on the
 * first pass. The word-embedding table stays mapped as stored: only the rows of tokens actually
 * seen are touched (mBERT's 119,547 x 768 table is 367 MB in F32, of which a query reads a few
 * KB).
 *
 * Runs on the same backends as CLIP (backend.h): params.device as clip.h describes; a GPU failure
 * moves the context to the CPU (bert_device_note says why). Threading: one pass at a time per
 * context (an internal lock serialises calls). */
#ifndef BERT_H
#define BERT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"

typedef struct bert_ctx bert_ctx;

typedef struct bert_params {
    int threads;        /* 0: CLIPSEEK_THREADS, else the number of online CPUs */
    int reference;      /* 1: the plain reference kernels (tests) */
    const char *device; /* "auto", "cpu", "vulkan", "vulkan:N"; NULL: $CLIPSEEK_DEVICE, else "auto" */
    int f32;            /* GPU: keep weights in F32 */
    int fit_threads;    /* 1: each run uses only the CPUs free when it starts (clip_params.fit_threads) */
} bert_params;

bert_params bert_default_params(void);

typedef struct bert_info {
    const char *family; /* "bert" or "distilbert" */
    int hidden, intermediate, layers, heads;
    int vocab_size, max_positions, type_vocab_size;
    float eps;
    char act[32];
    const char *dtype; /* "F32", "F16", "BF16" or "mixed" */
    uint64_t params, file_bytes;
    const char *format; /* weights.h's container name */
} bert_info;

/* Parses config.json text (path names it in messages) without weights. Used by the fuzzer and
 * by tools that inspect a folder. */
int bert_config_check(const char *txt, size_t len, const char *path, bert_info *out, cs_err *err);

/* Loads a model folder. Errors name the file and, for weights, the tensor. Caller frees. */
int bert_load(const char *dir, const bert_params *p, bert_ctx **out, cs_err *err);
void bert_free(bert_ctx *b); /* NULL is a no-op */

const bert_info *bert_get_info(const bert_ctx *b);
/* Resident weight bytes in use now (mapped pages touched + own copies). */
uint64_t bert_resident_bytes(const bert_ctx *b);
/* NULL, or why the asked device is not in use. */
const char *bert_device_note(const bert_ctx *b);
/* The compute threads its CPU backend runs with (bert_params.threads, resolved by mc_threads). */
int bert_threads(const bert_ctx *b);

/* The encoder over `batch` sequences (ids[b] of lens[b] tokens, 1..max_positions each), stacked:
 * writes sum(lens) x hidden floats to last_hidden, sequence after sequence. mask: NULL, or one
 * flag per stacked token (0 = padding: no query attends to it, as HF's attention_mask; its own
 * row is still computed). */
int bert_forward(bert_ctx *b, const int32_t *const *ids, const size_t *lens, int batch, const int32_t *mask,
                 float *last_hidden, cs_err *err);

#endif
