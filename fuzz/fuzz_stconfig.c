/* Fuzz target: the text-model configuration files over arbitrary bytes: the first byte picks
 * modules.json (stm_parse_modules), config.json of a BERT/DistilBERT (bert_config_check),
 * tokenizer_config.json / tokenizer.json (wp_parse_config), or a vocab.txt (wp_load_mem, then a
 * short text through the tokenizer it makes). */
#include <stdint.h>
#include <stdlib.h>

#include "../src/model/stmodel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    cs_err e;
    switch (data[0] % 4) {
    case 0: {
        int n = stm_parse_modules(text, len, "modules.json", &e);
        if (n == 0 || n > 8) abort();
        break;
    }
    case 1: {
        bert_info bi;
        if (bert_config_check(text, len, "config.json", &bi, &e) == 0 &&
            (bi.hidden < 1 || bi.heads < 1 || bi.hidden % bi.heads || bi.layers < 1 || bi.vocab_size < 1))
            abort();
        break;
    }
    case 2: {
        wp_opts o = wp_default_opts();
        (void)wp_parse_config(text, len, "tokenizer_config.json", &o, &e);
        break;
    }
    default: {
        wp_opts o = wp_default_opts();
        wp_ctx *w;
        if (wp_load_mem(text, len, &o, "vocab.txt", &w, &e) == 0) {
            static const char probe[] = "[CLS] Hello, wörld! 中文 [UNK]x ##a";
            int32_t *ids;
            size_t n;
            if (wp_encode(w, probe, sizeof probe - 1, 0, &ids, &n, &e) == 0) {
                for (size_t i = 0; i < n; i++)
                    if (ids[i] < 0 || (size_t)ids[i] >= wp_vocab_size(w)) abort();
                free(ids);
            }
            wp_free(w);
        }
    }
    }
    return 0;
}
