/* fuzz_tensors: shared by the fuzz targets whose input becomes a tensor set: reads every tensor's
 * bytes (up to 64 Ki elements each, as float32) so ASan sees any pointer the reader got wrong, and
 * checks that lookup by name finds each tensor. */
#ifndef FUZZ_TENSORS_H
#define FUZZ_TENSORS_H

#include <stdlib.h>

#include "../src/model/safetensors.h"

static void fuzz_touch_tensors(const st_set *s) {
    for (size_t i = 0; i < st_count(s); i++) {
        const st_tensor *t = st_at(s, i);
        if (t->numel > (1 << 16)) continue;
        float *f = malloc((size_t)t->numel * sizeof *f + 1);
        if (f) st_to_f32(t, f);
        free(f);
        if (st_find(s, t->name) != t) abort();
    }
}

#endif
