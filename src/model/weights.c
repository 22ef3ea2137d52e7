/* weights: see weights.h. */
#include "weights.h"

#include <stdlib.h>
#include <string.h>

#include "../common/cs_file.h"
#include "torch_ckpt.h"

static const char *const names[] = {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                                    "pytorch_model.bin.index.json"};

/* The first of names[] present in dir (*which: its index), or NULL. */
static char *find(const char *dir, size_t *which) {
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *p = cs_path_join(dir, names[i]);
        *which = i;
        if (!p || cs_is_file(p)) return p;
        free(p);
    }
    return NULL;
}

char *wt_find(const char *dir) {
    size_t i;
    return find(dir, &i);
}

int wt_open_dir(const char *dir, st_set **out, cs_err *err) {
    *out = NULL;
    size_t which;
    char *p = find(dir, &which);
    if (!p)
        return cs_err_set(err,
                          "%s: no weights (looked for model.safetensors, model.safetensors.index.json, "
                          "pytorch_model.bin and pytorch_model.bin.index.json)",
                          dir);
    int rc = which >= 2 ? tc_open(p, out, err) : st_open(p, out, err);
    free(p);
    return rc;
}
