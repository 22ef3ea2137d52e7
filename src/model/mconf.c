/* mconf: see mconf.h. */
#include "mconf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

int mc_get_int(json_t *o, const char *k, int def, int lo, int hi, int *out, const char *file, cs_err *err) {
    json_t *v = o ? json_object_get(o, k) : NULL;
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return cs_err_set(err, "%s: \"%s\" must be an integer in %d..%d", file, k, lo, hi);
    *out = (int)json_integer_value(v);
    return 0;
}

int mc_get_num(json_t *o, const char *k, double def, double lo, double hi, double *out, const char *file, cs_err *err) {
    json_t *v = o ? json_object_get(o, k) : NULL;
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
        return cs_err_set(err, "%s: \"%s\" must be a number in %g..%g", file, k, lo, hi);
    *out = json_number_value(v);
    return 0;
}

int mc_get_bool(json_t *o, const char *k, int def, int *out, const char *file, cs_err *err) {
    json_t *v = o ? json_object_get(o, k) : NULL;
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v)) return cs_err_set(err, "%s: \"%s\" must be true or false", file, k);
    *out = json_is_true(v);
    return 0;
}

int mc_parse_act(const char *s, int *act) {
    if (strcmp(s, "quick_gelu") == 0)
        *act = OPS_ACT_QUICK_GELU;
    else if (strcmp(s, "gelu") == 0)
        *act = OPS_ACT_GELU;
    else if (strcmp(s, "gelu_new") == 0 || strcmp(s, "gelu_pytorch_tanh") == 0 || strcmp(s, "gelu_fast") == 0)
        *act = OPS_ACT_GELU_TANH;
    else if (strcmp(s, "relu") == 0)
        *act = OPS_ACT_RELU;
    else
        return -1;
    return 0;
}

int mc_threads(int requested) {
    if (requested > 0) return requested;
    const char *e = getenv("CLIPSEEK_THREADS");
    int n = e && atoi(e) > 0 ? atoi(e) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}
