/* Fuzz target: the safetensors reader and the config parsers (untrusted model files).
 * Input: a safetensors image; or, when it starts with '{', config.json text, optionally followed
 * by a NUL and preprocessor_config.json text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/model/clip.h"
#include "../src/model/safetensors.h"
#include "fuzz_tensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cs_err e;
    if (size && data[0] == '{') {
        const uint8_t *nul = memchr(data, 0, size);
        size_t clen = nul ? (size_t)(nul - data) : size;
        clip_info info;
        clip_config_check((const char *)data, clen, nul ? (const char *)nul + 1 : NULL,
                          nul ? size - clen - 1 : 0, &info, &e);
        return 0;
    }
    st_set *s;
    if (st_open_buffer(data, size, "fuzz", &s, &e) == 0) {
        fuzz_touch_tensors(s);
        st_close(s);
    }
    return 0;
}
