/* mconf: typed getters for a model's JSON configuration files (config.json and its relatives),
 * shared by every model family (clip.c, bert.c, stmodel.c).
 *
 * Each getter reads key k of object o (o may be NULL: the default is used). An absent key or a
 * JSON null gives def; a present value of the wrong type or outside lo..hi fails with a message
 * naming `file` and the key. Returns 0 or -1. */
#ifndef MCONF_H
#define MCONF_H

#include <jansson.h>

#include "../common/cs_err.h"

int mc_get_int(json_t *o, const char *k, int def, int lo, int hi, int *out, const char *file, cs_err *err);
int mc_get_num(json_t *o, const char *k, double def, double lo, double hi, double *out, const char *file, cs_err *err);
int mc_get_bool(json_t *o, const char *k, int def, int *out, const char *file, cs_err *err);

/* The thread count a model runs with: `requested` when > 0, else $CLIPSEEK_THREADS, else the
 * number of online CPUs (at least 1). */
int mc_threads(int requested);

/* Maps an activation name of transformers' ACT2FN ("quick_gelu", "gelu" (exact erf), "gelu_new",
 * "gelu_pytorch_tanh", "gelu_fast", "relu") to an OPS_ACT_* value. Returns 0, or -1 when unknown. */
int mc_parse_act(const char *s, int *act);

#endif
