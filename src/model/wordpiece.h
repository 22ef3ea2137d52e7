/* wordpiece: BERT's WordPiece tokenizer, identical to Hugging Face's fast BertTokenizer (the Rust
 * `tokenizers` pipeline that transformers' convert_slow_tokenizer.BertConverter builds).
 *
 * Pipeline, per text:
 *   1. bytes -> code points; invalid UTF-8 becomes U+FFFD (which step 3 then drops, as Rust's
 *      clean_text does with it);
 *   2. the special tokens ([PAD], [UNK], [CLS], [SEP], [MASK], those present in the vocabulary)
 *      are matched in the raw text, leftmost-longest, and emitted as their ids: they are HF's
 *      "non-normalized" added tokens, so "[CLS]" matches and "[cls]" does not; the text between
 *      them goes through steps 3-6 on its own;
 *   3. BertNormalizer: clean_text (drop U+0000, U+FFFD and control characters Cc/Cf/Co/Cs except
 *      \t \n \r; every White_Space character becomes ' '), handle_chinese_chars (a space on both
 *      sides of each CJK ideograph of the Rust table: U+4E00-9FFF, 3400-4DBF, 20000-2A6DF,
 *      2A700-2B73F, 2B740-2B81F, 2B920-2CEAF, F900-FAFF, 2F800-2FA1F), strip_accents (NFD, then drop
 *      nonspacing marks Mn; when unset: exactly when lowercasing), lowercase (per character as
 *      Rust's char::to_lowercase: U+0130 becomes "i\u0307");
 *   4. BertPreTokenizer: split on White_Space (dropped), then isolate each punctuation character
 *      (ASCII punctuation or Unicode P*);
 *   5. WordPiece: a word of more than max_input_chars_per_word (100) characters is [UNK]; else
 *      greedy longest match from the left, continuation pieces prefixed "##"; a word with an
 *      unmatched rest is [UNK] as a whole;
 *   6. [CLS] ... [SEP] around the result; truncation to max_len keeps both (the content is cut to
 *      max_len - 2 tokens, as truncation=True with max_length does).
 *
 * Settings: vocab.txt (one token per line, id = line number; a repeated token keeps its last id,
 * as HF's dict does) and tokenizer_config.json (do_lower_case, strip_accents,
 * tokenize_chinese_chars, unk/cls/sep/pad/mask tokens); when that is absent, tokenizer.json's
 * normalizer and model sections. Special ids always come from the vocabulary, never fixed numbers.
 *
 * Threading: a wp_ctx is read-only after wp_load; wp_encode may run on several threads at once. */
#ifndef WORDPIECE_H
#define WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"

typedef struct wp_ctx wp_ctx;

/* The tokenizer settings (defaults: BERT cased with clean_text and Chinese handling on). */
typedef struct wp_opts {
    int lowercase;     /* do_lower_case */
    int strip_accents; /* -1: as lowercase (HF's null), 0 or 1 */
    int chinese;       /* handle_chinese_chars / tokenize_chinese_chars */
    int clean_text;
    int max_word_chars; /* max_input_chars_per_word (100) */
    char unk[32], cls[32], sep[32], pad[32], mask[32];
} wp_opts;

wp_opts wp_default_opts(void);

/* Parses tokenizer_config.json text into *o (keys absent keep their value in *o). Errors name
 * `file`. Used by wp_load and the fuzzer. */
int wp_parse_config(const char *txt, size_t len, const char *file, wp_opts *o, cs_err *err);

/* Loads a model folder's vocab.txt and settings (see above). Caller frees with wp_free. */
int wp_load(const char *dir, wp_ctx **out, cs_err *err);
/* Builds a tokenizer from vocabulary text (lines) and settings; the text is copied. */
int wp_load_mem(const char *vocab, size_t len, const wp_opts *o, const char *file, wp_ctx **out, cs_err *err);
void wp_free(wp_ctx *w); /* NULL is a no-op */

/* Encodes `len` bytes of text. max_len 0: no truncation; otherwise max_len >= 2. On success *ids
 * is a malloc'd array of *n ids ([CLS] first, [SEP] last; caller frees). */
int wp_encode(const wp_ctx *w, const char *text, size_t len, int max_len, int32_t **ids, size_t *n, cs_err *err);

int32_t wp_cls(const wp_ctx *w);
int32_t wp_sep(const wp_ctx *w);
int32_t wp_pad(const wp_ctx *w);
int32_t wp_unk(const wp_ctx *w);
size_t wp_vocab_size(const wp_ctx *w);
const wp_opts *wp_get_opts(const wp_ctx *w);
/* The token string of an id, or NULL. Borrowed. */
const char *wp_token(const wp_ctx *w, int32_t id);
/* The id of a token string, or -1. */
int32_t wp_id(const wp_ctx *w, const char *tok);

#endif
