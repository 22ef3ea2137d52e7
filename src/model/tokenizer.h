/* tokenizer: OpenAI CLIP's byte-level BPE, identical to Hugging Face's CLIPTokenizer (the
 * tokenizers-backed one).
 *
 * Pipeline (each step reproduces a piece of HF's tokenizer.json for CLIP):
 *   1. bytes -> UTF-8: invalid sequences become U+FFFD, one per maximal invalid subpart (the
 *      Unicode-recommended practice, as Python's errors="replace" and Rust's from_utf8_lossy do);
 *   2. normaliser: NFC, every run of whitespace (Unicode White_Space, Oniguruma's \s) -> one space,
 *      lowercase character by character (Rust's char::to_lowercase: U+0130 becomes "i\u0307";
 *      no final-sigma rule);
 *   3. the special strings "<|startoftext|>" and "<|endoftext|>" in the normalised text are
 *      emitted as their ids (HF matches these added tokens after normalisation);
 *   4. pre-tokeniser, the CLIP split pattern, leftmost-first:
 *      's|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+ (whitespace is dropped);
 *   5. each piece's UTF-8 bytes mapped through GPT-2's bytes_to_unicode, "</w>" appended to the
 *      last symbol, then BPE merges applied lowest rank first (leftmost among equals), as HF's
 *      BPE model does with its priority queue;
 *   6. <|startoftext|> ... <|endoftext|> around the result; truncation to max_len keeps the last
 *      <|endoftext|> (the content is cut to max_len - 2).
 *
 * Threading: a tok_ctx holds a word cache, so it is not safe to share between threads without a
 * lock; tok_encode locks an internal mutex, so sharing is allowed but serialised. */
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"

typedef struct tok_ctx tok_ctx;

/* Loads vocab.json (token -> id) and merges.txt (one "a b" pair per line, an optional
 * "#version" first line). Fails with a message naming the file and line on any inconsistency
 * (a merge whose parts or result are not in the vocabulary, a byte symbol missing, bad JSON).
 * Caller frees *out with tok_free. */
int tok_load(const char *vocab_path, const char *merges_path, tok_ctx **out, cs_err *err);
void tok_free(tok_ctx *t); /* NULL is a no-op */

/* Encodes `len` bytes of text (any bytes; see step 1). max_len 0 means no truncation; otherwise
 * max_len >= 2. On success *ids is a malloc'd array of *n ids (caller frees), starting with the
 * BOS id and ending with the EOS id. */
int tok_encode(tok_ctx *t, const char *text, size_t len, int max_len, int32_t **ids, size_t *n, cs_err *err);

int32_t tok_bos(const tok_ctx *t);
int32_t tok_eos(const tok_ctx *t);
size_t tok_vocab_size(const tok_ctx *t);

/* A growable array of token ids (shared by the tokenizers). tok_ids_push returns 0, or -1 out of
 * memory (the array is unchanged). The caller frees v. */
typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
} tok_ids;
int tok_ids_push(tok_ids *b, int32_t x);

/* The token string of an id (byte-level encoded, with "</w>" where present), or NULL. Borrowed. */
const char *tok_token(const tok_ctx *t, int32_t id);

#endif
