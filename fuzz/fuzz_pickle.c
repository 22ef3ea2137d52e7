/* Fuzz target: the PyTorch checkpoint reader (torch_ckpt.h: zip directory, legacy layout, storage
 * and view checks) and its restricted pickle reader (pickle.h). Input: a whole checkpoint file
 * image (seeds: fuzz/make_pickle_seeds.py); the same bytes are also read as one bare pickle. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/model/pickle.h"
#include "../src/model/safetensors.h"
#include "../src/model/torch_ckpt.h"
#include "fuzz_tensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cs_err e;
    st_set *s;
    if (st_new(&s, &e) == 0) {
        if (tc_add_buffer(s, data, size, "fuzz", &e) == 0 && st_seal(s, &e) == 0) fuzz_touch_tensors(s);
        st_close(s);
    }
    pk_doc *d;
    const pk_val *root;
    if (pk_load(data, size, "fuzz", &d, &root, NULL, &e) == 0 && !root) abort();
    pk_free(d);
    return 0;
}
