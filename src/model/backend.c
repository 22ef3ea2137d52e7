/* backend: device names and choosing a backend. See backend.h. */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void be_free(be *b) {
    if (b) b->v->destroy(b);
}

int be_parse_device(const char *s, int *kind, int *index, cs_err *err) {
    *index = -1;
    if (!strcmp(s, "auto"))
        *kind = 0;
    else if (!strcmp(s, "cpu"))
        *kind = 1;
    else if (!strcmp(s, "vulkan"))
        *kind = 2;
    else if (!strncmp(s, "vulkan:", 7)) {
        char *end;
        long v = strtol(s + 7, &end, 10);
        if (!s[7] || *end || v < 0 || v > 255)
            return cs_err_set(err, "device \"%s\": the index after vulkan: must be a number from 0 to 255", s);
        *kind = 2;
        *index = (int)v;
    } else
        return cs_err_set(err, "device \"%s\" is not one of auto, cpu, vulkan, vulkan:N", s);
    return 0;
}

be *be_open(const char *device, int f32, int threads, char *note, size_t nn, int *loud, cs_err *err) {
    note[0] = 0;
    *loud = 0;
    if (device && !strcmp(device, "reference")) {
        be *b = be_ref_new(threads);
        if (!b) cs_errc(err, CS_ENOMEM, "out of memory");
        return b;
    }
    const char *env = getenv("CLIPSEEK_DEVICE");
    const char *name = device && *device ? device : env && *env ? env : "auto";
    int kind, index;
    if (be_parse_device(name, &kind, &index, err)) return NULL;
    if (kind != 1) {
        cs_err why = {0};
        int found = 0;
#ifdef CS_VULKAN
        be *g = be_vk_new(index, !f32, &found, &why);
        if (g) return g;
#else
        (void)f32;
        cs_err_set(&why, "this build has no Vulkan backend (VULKAN=0)");
#endif
        /* "auto" without any GPU is the ordinary case on a desktop without one: said quietly */
        snprintf(note, nn, "%s: %.240s; running on the CPU", kind == 0 ? "auto" : name, why.msg);
        *loud = kind == 2 || found;
    }
    be *b = be_cpu_new(threads);
    if (!b) cs_errc(err, CS_ENOMEM, "out of memory");
    return b;
}
