/* clip: OpenAI CLIP (text and vision towers) from a Hugging Face model folder, embedding text and
 * images exactly as transformers' CLIPModel does.
 *
 * A model folder holds config.json, weights (model.safetensors, model.safetensors.index.json +
 * shards, or a PyTorch pytorch_model.bin / pytorch_model.bin.index.json: see weights.h), vocab.json, merges.txt and optionally preprocessor_config.json (CLIP defaults when absent).
 * Any CLIP geometry is accepted: widths, depths, heads, image and patch sizes, quick_gelu or gelu,
 * F32/F16/BF16 weights.
 *
 * Memory: weights are memory-mapped. clip_load validates every tensor's name and shape from the
 * headers alone; a tower's pages are first touched when that tower first runs, so a text-only
 * user (a search) never reads the vision weights, and the reverse. F32 tensors are used in place;
 * F16/BF16 tensors are widened to F32 once, per tower, on first use (the BLAS needs F32).
 *
 * Outputs: "embeds" are projected and (unless normalize is 0) L2-normalised, as CLIPModel's
 * text_embeds / image_embeds; with normalize 0 they equal get_text_features / get_image_features.
 *
 * Devices: the towers run on a backend (backend.h): the CPU (the default without a GPU), the plain
 * reference kernels (params.reference, for tests), or a GPU through Vulkan. params.device names it
 * ("auto", "cpu", "vulkan", "vulkan:N"; NULL: $CLIPSEEK_DEVICE, else "auto"). "auto" takes a
 * discrete GPU, then an integrated one, never a CPU implementation of Vulkan (lavapipe: only when
 * named). When the asked device cannot be used (no loader, no device, out of device memory, a lost
 * device), the context runs on the CPU instead and clip_device_note says why; it never fails for
 * that alone.
 *
 * Threading: a clip_ctx runs one forward pass at a time (calls are serialised by an internal
 * lock); each pass uses params.threads threads. */
#ifndef CLIP_H
#define CLIP_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"
#include "../image/image.h"

typedef struct clip_ctx clip_ctx;

/* The CPU's linear weights: F32 as stored, F16 or Q8 (q8_0, 8-bit blocks) converted copies, see
 * ops_lp.h. DEFAULT: each tower's own default, chosen by measured fidelity (docs/performance.md):
 * clip_dtype_default. Embedding tables, biases and norms stay as stored. */
enum { CLIP_DTYPE_DEFAULT, CLIP_DTYPE_F32, CLIP_DTYPE_F16, CLIP_DTYPE_Q8 };

typedef struct clip_params {
    int threads;           /* 0: CLIPSEEK_THREADS, else the number of online CPUs */
    uint64_t max_pixels;   /* decoder limit; 0: IMG_DEFAULT_MAX_PIXELS */
    int reference;         /* 1: use the plain reference kernels (slow; for tests) */
    int no_tokenizer;      /* 1: skip vocab.json and merges.txt (image-only commands: about 80 ms saved);
                           * clip_tokenize and clip_texts_embed then fail with a message */
    const char *device;    /* "auto", "cpu", "vulkan", "vulkan:N"; NULL: $CLIPSEEK_DEVICE, else "auto" */
    int f32;               /* GPU: keep weights in F32 (default: F16, accumulating in F32) */
    int dtype;             /* CPU: CLIP_DTYPE_*, both towers (DEFAULT: per tower) */
    const char *cache_dir; /* NULL, or a folder for converted F16/Q8 weights (lpcache.h): a tower converted
                           * once is read back from there at the next load instead of converted again;
                           * the string must outlive the context */
    int fit_threads;       /* 1: each run on the CPU uses at most as many of threads as CPUs are free
                           * when it starts (be_fit_threads): the daemon, whose towers run next to
                           * whatever else the person is doing. 0: always threads (benchmarks, tests) */
} clip_params;

/* Parses "f32", "f16", "q8" (and "default") into CLIP_DTYPE_*. Returns 0, or -1 with *err. */
int clip_dtype_parse(const char *s, int *out, cs_err *err);
const char *clip_dtype_name(int dtype); /* "f32", "f16", "q8", "default" */
/* The dtype a tower runs in on the CPU when params.dtype is DEFAULT (vision: 1 or 0). */
int clip_dtype_default(int vision);

clip_params clip_default_params(void);

typedef struct clip_tower_info {
    int hidden, intermediate, layers, heads;
    float eps;
    const char *act; /* "quick_gelu", "gelu", ... */
} clip_tower_info;

typedef struct clip_info {
    clip_tower_info text, vision;
    int vocab_size, max_positions, bos_id, eos_id, pad_id;
    int image_size, patch_size, channels;
    int projection_dim;
    float logit_scale; /* exp() of the stored logit_scale */
    const char *dtype; /* dtype of most weights: "F32", "F16", "BF16" or "mixed" */
    uint64_t text_params, vision_params, total_params;
    uint64_t file_bytes; /* bytes of the weights files */
    const char *format;  /* "safetensors", "pytorch zip" or "pytorch legacy" (weights.h) */
    size_t converted;    /* tensors copied at load (strided views of a .bin), not mapped */
    img_preproc preproc;
} clip_info;

/* Loads a model folder. Errors name the file and, for weights, the tensor. Caller frees. */
int clip_load(const char *dir, const clip_params *p, clip_ctx **out, cs_err *err);
void clip_free(clip_ctx *c); /* NULL is a no-op */

/* The model's shape. Borrowed: valid until clip_free(c). */
const clip_info *clip_get_info(const clip_ctx *c);

/* Resident weight bytes in use right now (mapped pages touched + widened copies): the Rss of
 * the weight mappings from /proc/self/smaps (st_resident_bytes). */
uint64_t clip_resident_bytes(const clip_ctx *c);

/* The device the towers run on. */
typedef struct clip_device {
    char backend[16];      /* "cpu", "reference", "vulkan" */
    char device[128];      /* "CPU (BLIS)", "NVIDIA H200 (discrete GPU)" */
    char driver[128];      /* "" on the CPU */
    const char *precision; /* weights as kept there: "F32" or "F16" */
    uint64_t weight_bytes; /* prepared weights (device memory on a GPU; packed copies on the CPU) */
    uint64_t work_bytes;   /* workspace (and staging on a GPU) */
    double upload_ms;      /* preparing/uploading weights so far */
    int cached;            /* towers whose converted weights came from params.cache_dir: bit 0 text, bit 1 vision */
    int threads;           /* CPU threads of the towers' CPU kernels (params.threads, resolved) */
    uint64_t dispatches;   /* GPU kernels recorded so far (0 on the CPU); a pass's count by difference */
} clip_device;

/* The device is opened on the first pass (or by these queries, which may then take a moment). */
void clip_get_device(const clip_ctx *c, clip_device *out);
/* NULL, or one line saying why the asked device is not in use (the towers run on the CPU).
 * *asked (if not NULL) is 1 when the caller should show it: a device named explicitly, or a GPU
 * that failed after it was found; 0 when "auto" simply found no GPU. Borrowed: valid until
 * clip_free(c). */
const char *clip_device_note(const clip_ctx *c, int *asked);

/* Parses and validates config.json text and (optionally, NULL = absent) preprocessor_config.json
 * text without loading weights; fills *out (its text/vision act names are not set). Used by the
 * fuzzer and by tools that inspect a folder. */
int clip_config_check(const char *config, size_t clen, const char *preproc, size_t plen, clip_info *out, cs_err *err);

/* Tokenises text with the model's tokenizer (see tokenizer.h). max_len 0: no truncation.
 * *ids is malloc'd (caller frees). */
int clip_tokenize(clip_ctx *c, const char *text, size_t len, int max_len, int32_t **ids, size_t *n, cs_err *err);

/* Text tower over `batch` token sequences (ids[b] of lens[b] tokens, each 1..max_positions).
 * Writes batch x projection_dim floats to embeds. Pooling is HF's: the first eos_id position
 * (argmax of the ids when the config's eos_token_id is 2, the legacy rule). Padding is never
 * needed: the tower is causal, so tokens after the pooled one cannot change it. */
int clip_text_embed(clip_ctx *c, const int32_t *const *ids, const size_t *lens, int batch, int normalize, float *embeds,
                    cs_err *err);

/* One sequence with full outputs, for conformance tests. mask: NULL or n flags (0 = padding key,
 * HF's attention_mask). last_hidden: NULL or n x hidden (after the final layer norm).
 * embeds: NULL or projection_dim. */
int clip_text_forward(clip_ctx *c, const int32_t *ids, const int32_t *mask, int n, int normalize, float *last_hidden,
                      float *embeds, cs_err *err);

/* Vision tower over `batch` preprocessed images (batch x 3 x S x S, S = image_size).
 * last_hidden: NULL or batch x (1 + patches) x hidden (encoder output, before post-LN, as HF).
 * embeds: NULL or batch x projection_dim. */
int clip_vision_forward(clip_ctx *c, const float *pixels, int batch, int normalize, float *last_hidden, float *embeds,
                        cs_err *err);

/* Preprocesses a decoded image for this model into 3 x S x S floats. */
int clip_preprocess(const clip_ctx *c, const img_rgb *im, float *out, cs_err *err);

/* Convenience: decode + preprocess + embed image files (embeds: n x projection_dim). */
int clip_image_files_embed(clip_ctx *c, const char *const *paths, int n, int normalize, float *embeds, cs_err *err);

/* Convenience: tokenise (truncated to max_positions) + embed texts. */
int clip_texts_embed(clip_ctx *c, const char *const *texts, int n, int normalize, float *embeds, cs_err *err);

#endif
