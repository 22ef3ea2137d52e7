/* stmodel: a sentence-transformers model folder: a BERT-family encoder (bert.h) with its WordPiece
 * tokenizer (wordpiece.h), then the modules of modules.json, computing what
 * SentenceTransformer.encode does.
 *
 * Folder layout (as sentence-transformers 2.x/3.x saves it):
 *   modules.json: the module list in order. Supported types (sentence_transformers.models.*):
 *     Transformer (path "" or a subfolder: config.json, weights, vocab.txt, tokenizer_config.json,
 *       sentence_bert_config.json with max_seq_length),
 *     Pooling (path/config.json: pooling_mode_cls_token, _max_tokens, _mean_tokens,
 *       _mean_sqrt_len_tokens; several modes concatenate in that order, as sentence-transformers does;
 *       masked rows never count),
 *     Dense (path/config.json in_features, out_features, bias, activation_function Identity / Tanh /
 *       ReLU / Sigmoid / GELU; weights linear.weight [out, in] and linear.bias in path/model.safetensors
 *       or path/pytorch_model.bin),
 *     Normalize (L2; no files).
 *   Without modules.json the folder is a plain model: Transformer then mean pooling.
 * Truncation: max_seq_length (else the model's max_position_embeddings), [CLS] + content + [SEP].
 *
 * Ownership: an stm_ctx owns its encoder, tokenizer and Dense weights. Threading: the encoder
 * serialises passes; the rest is read-only after load. */
#ifndef STMODEL_H
#define STMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"
#include "bert.h"
#include "wordpiece.h"

typedef struct stm_ctx stm_ctx;

/* 1 when dir looks like a BERT-family folder: modules.json, or config.json whose model_type is
 * "bert" or "distilbert". Reads at most those two small files. */
int stm_detect(const char *dir);

/* Parses modules.json text (path names it in messages) and counts the supported modules; used by
 * stm_load and the fuzzer. Returns the number of modules, or -1 with *err. */
int stm_parse_modules(const char *txt, size_t len, const char *path, cs_err *err);

int stm_load(const char *dir, const bert_params *p, stm_ctx **out, cs_err *err);
void stm_free(stm_ctx *s); /* NULL is a no-op */

const bert_info *stm_encoder_info(const stm_ctx *s);
const wp_ctx *stm_tokenizer(const stm_ctx *s);
int stm_dim(const stm_ctx *s);              /* the sentence embedding's size */
int stm_threads(const stm_ctx *s);          /* the encoder's compute threads (bert_threads) */
int stm_max_seq(const stm_ctx *s);          /* max_seq_length, [CLS] and [SEP] included */
const char *stm_describe(const stm_ctx *s); /* "Transformer(distilbert) -> Pooling(mean) -> Dense(64->32)" */
uint64_t stm_resident_bytes(const stm_ctx *s);

/* Tokenises one text truncated to max_seq_length. *ids malloc'd (caller frees). */
int stm_tokenize(const stm_ctx *s, const char *text, size_t len, int32_t **ids, size_t *n, cs_err *err);

/* Runs the encoder and every module over `batch` token sequences (stacked as bert_forward;
 * mask as there, NULL = every token real). Outputs (each optional): last_hidden sum(lens) x hidden,
 * pooled batch x (pooling output), embeds batch x stm_dim after every module; normalize 1 adds an
 * L2 normalisation at the end (a Normalize module already made it a no-op). */
int stm_forward(stm_ctx *s, const int32_t *const *ids, const size_t *lens, int batch, const int32_t *mask,
                int normalize, float *last_hidden, float *pooled, float *embeds, cs_err *err);

/* Convenience: tokenise + stm_forward for n texts (embeds: n x stm_dim). */
int stm_embed_texts(stm_ctx *s, const char *const *texts, int n, int normalize, float *embeds, cs_err *err);

#endif
