/* Fuzz target: the CLIP tokenizer over arbitrary bytes (invalid UTF-8, special strings, long runs).
 * Needs the CLIP vocabulary: $CLIPSEEK_FIXTURES/clip-vocab, else ../shared/fixtures/clip-vocab. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../src/model/tokenizer.h"

static tok_ctx *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *fx = getenv("CLIPSEEK_FIXTURES");
    char v[4096], m[4096];
    snprintf(v, sizeof v, "%s/clip-vocab/vocab.json", fx ? fx : "../shared/fixtures");
    snprintf(m, sizeof m, "%s/clip-vocab/merges.txt", fx ? fx : "../shared/fixtures");
    cs_err e;
    if (tok_load(v, m, &tok, &e) != 0) {
        fprintf(stderr, "fuzz_tokenizer: skipped, %s\n", e.msg);
        tok = NULL;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok) return 0;
    int32_t *ids;
    size_t n;
    int max = size ? data[0] % 80 : 0;
    if (max == 1) max = 0;
    if (tok_encode(tok, (const char *)data, size, max, &ids, &n, NULL) == 0) {
        if (n < 2 || ids[0] != tok_bos(tok) || ids[n - 1] != tok_eos(tok)) abort();
        if (max && n > (size_t)max) abort();
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= tok_vocab_size(tok)) abort();
        free(ids);
    }
    return 0;
}
