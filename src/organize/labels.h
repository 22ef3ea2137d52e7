/* labels: image categories by CLIP zero-shot, from a user-editable label file.
 *
 * File: the `labels` setting, else $XDG_CONFIG_HOME/clipseek/labels, else
 * ~/.config/clipseek/labels; without one, the built-in set below. One label per line:
 *     LABEL: PROMPT | PROMPT | ...
 * '#' starts a comment. A label is 1-31 bytes without ':' or '|'; it gets the mean of its prompts'
 * text embeddings (each unit length; the mean made unit length again), the usual prompt
 * ensembling of zero-shot CLIP. An image's category is the label whose vector is nearest, its
 * confidence the softmax over labels of logit_scale * cosine (CLIP's own calibration).
 *
 * Built-in labels: screenshot, photo, document, receipt, chart, diagram, drawing, meme, code,
 * map, logo. */
#ifndef LABELS_H
#define LABELS_H

#include <stddef.h>

#include "../common/cs_err.h"
#include "../model/clip.h"

#define LABELS_MAX         64
#define LABELS_MAX_PROMPTS 16

typedef struct labels labels;

/* Parses label-file text; name is used in error messages ("file:line: ..."). */
int labels_parse(const char *text, size_t len, const char *name, labels **out, cs_err *err);
/* Loads path, or (NULL or "") the default file, or the built-in set when there is none. */
int labels_load(const char *path, labels **out, cs_err *err);
void labels_free(labels *l); /* NULL is a no-op */

int labels_count(const labels *l);
/* Borrowed, as labels_digest's: valid until labels_free(l). */
const char *labels_name(const labels *l, int i);
/* Hex SHA-256 of the parsed labels and prompts (a change means: categorise again). */
const char *labels_digest(const labels *l);

/* Computes the label vectors with the model's text tower (replacing earlier ones). */
int labels_embed(labels *l, clip_ctx *c, cs_err *err);
/* The best label for unit image vector v (dim must match the model), or -1 when the labels are
 * not embedded. *conf gets its softmax probability. */
int labels_classify(const labels *l, const float *v, int dim, float *conf);

#endif
