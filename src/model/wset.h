/* wset: the weight-slot machinery shared by the model families (clip.c, bert.c): a list of named
 * tensors with their expected shapes and the float pointers they fill, checked against the
 * checkpoint's headers at load (no weight page touched), turned into float views on first use
 * (F32 of 1 MB and more in place, smaller ones copied, F16/BF16 widened once into owned copies),
 * and handed to a backend.
 *
 * Ownership: a wset borrows its st_set (the model owns and closes it) and owns its slots and the
 * copies it made (freed by ws_free). Groups let a model materialise part of its weights (CLIP's
 * text tower without the vision tower). Not thread-safe: the model's lock covers it. */
#ifndef WSET_H
#define WSET_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"
#include "backend.h"
#include "safetensors.h"

typedef struct ws_slot {
    char name[128];
    int ndim;
    int64_t shape[4];
    const float **dst;
    int group;
} ws_slot;

typedef struct wset {
    const char *dir; /* named in messages */
    st_set *st;      /* borrowed */
    ws_slot *slots;
    size_t nslots;
    void **owned; /* widened copies, stacked q/k/v, other derived weights */
    size_t nowned;
    uint64_t owned_bytes;
} wset;

/* Adds a slot: tensor `name` must be F32/F16/BF16 of shape [d0..d(ndim-1)]; its float view goes
 * to *dst. Returns 0, or -1 out of memory. */
int ws_add(wset *w, int group, const float **dst, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
           int64_t d3);
/* Finds tensor `name` with exactly this shape and a float dtype; else -1 with a message naming
 * the file, the tensor, and what was expected and found. */
int ws_check(const wset *w, const char *name, int nd, const int64_t *shape, const st_tensor **out, cs_err *err);
/* Checks every slot (headers only). */
int ws_check_all(const wset *w, cs_err *err);
/* Fills the float views of one group's slots. */
int ws_views(wset *w, int group, cs_err *err);
/* Keeps a malloc'd buffer until ws_free. Returns 0, or -1 (the buffer is freed) out of memory. */
int ws_own(wset *w, void *p, size_t bytes);
/* Gives back a weight that will not be read again: frees an owned copy, or releases the mapped
 * tensor's pages (by slot: *dst identifies it). */
void ws_drop(wset *w, const float *const *dst, size_t bytes);
/* After one group's weights were handed to the backend: releases the mapped pages of every tensor
 * of the group not read in place (copied, packed, converted or stacked), once more. Pages released
 * one by one (ws_drop) come back when a neighbour's page-cache folio is mapped whole (wset.c). */
void ws_release(wset *w, int group);
/* Stacks three [n, k] matrices (and their [n] biases) into an owned [3n, k] / [3n] pair, then
 * drops the three matrices (their pointers become NULL). The one-GEMM q/k/v projection. */
int ws_stack3(wset *w, const float **a, const float **b, const float **c, const float *ba, const float *bb,
              const float *bc, size_t n, size_t k, float **wout, float **bout, cs_err *err);
/* Hands one weight to backend b. When b keeps its own copy, the source is dropped and *src set to
 * NULL. On failure the message is prefixed with the backend's name. */
int ws_prep(wset *w, be *b, const float **src, int n, int k, int kind, be_w **out, cs_err *err);
/* Frees the slots and owned copies (not the st_set). NULL is a no-op. */
void ws_free(wset *w);

/* The weights' dtype for a model's info: "F32", "F16" or "BF16" when all its float tensors have
 * it, "mixed" otherwise (integer buffers such as position_ids are not weights). *params, when
 * params is not NULL, gets the number of float elements. */
const char *ws_dtype_summary(const st_set *st, uint64_t *params);

/* The end of every model family's free: frees backend b (whose prepared weights the caller freed
 * first), the wset's slots and copies, the st_set and dir (the model's copy of its folder). Any
 * may be NULL. */
void ws_free_model(wset *w, be *b, st_set *st, char *dir);

#endif
