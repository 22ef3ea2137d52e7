/* Fuzz target: the WordPiece tokenizer over arbitrary bytes (invalid UTF-8, control and format
 * characters, CJK, combining marks, special tokens, very long words), cased and uncased. Needs
 * the mBERT and bert-base-uncased vocabularies of the text fixtures: $CLIPSEEK_FIXTURES, else
 * ../shared/fixtures. The first byte picks the tokenizer and the truncation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../src/model/wordpiece.h"

static wp_ctx *wp[2];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *fx = getenv("CLIPSEEK_FIXTURES");
    static const char *dirs[2] = {"tiny-distilbert-multilingual", "tiny-bert-minilm"};
    for (int i = 0; i < 2; i++) {
        char d[4096];
        snprintf(d, sizeof d, "%s/%s", fx ? fx : "../shared/fixtures", dirs[i]);
        cs_err e;
        if (wp_load(d, &wp[i], &e) != 0) {
            fprintf(stderr, "fuzz_wordpiece: skipped, %s\n", e.msg);
            wp[i] = NULL;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    wp_ctx *w = wp[data[0] & 1];
    if (!w) return 0;
    int max = (data[0] >> 1) % 64;
    if (max == 1) max = 0;
    int32_t *ids;
    size_t n;
    if (wp_encode(w, (const char *)data + 1, size - 1, max, &ids, &n, NULL) == 0) {
        if (n < 2 || ids[0] != wp_cls(w) || ids[n - 1] != wp_sep(w)) abort();
        if (max && n > (size_t)max) abort();
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= wp_vocab_size(w)) abort();
        free(ids);
    }
    return 0;
}
