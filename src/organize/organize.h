/* organize: sorts the history by itself. Runs in the daemon's index worker after embedding (and
 * from `clipseek organize`); every step is incremental and safe to repeat.
 *
 *   - text kinds by rules (capture/textkind.h) for text entries without one;
 *   - OCR (ocr.h) of images not read yet: the text joins the full-text index;
 *   - with a model: for each entry with vectors not yet organised with that model,
 *       * images get a category by CLIP zero-shot (labels.h) and rules with a category matcher run;
 *       * near-duplicate images: an image at cosine >= duplicate_threshold to an earlier image
 *         joins that image's group (dup_of = the group's first entry);
 *       * collections: the entry joins the collection whose centre (the normalised mean of its
 *         members) is nearest if the cosine is >= collection_threshold, and the centre moves;
 *         otherwise, if an entry of the same modality (image / text) outside any collection is
 *         that close, the two start a new collection. Lone entries stay outside (no singletons).
 *         Automatic names: words most members share (from their text or OCR text), else the
 *         nearest category label; a name the user gave is never changed.
 * A change of labels, thresholds or model organises every entry again (collections stay). */
#ifndef ORGANIZE_H
#define ORGANIZE_H

#include <stdint.h>

#include "../config/rules.h"
#include "../common/cs_err.h"
#include "../model/clip.h"
#include "../store/store.h"

typedef struct organizer organizer;

typedef struct org_stats {
    int64_t kinds, ocr, organised, categorised, duplicates, collected, deleted;
} org_stats;

/* rules supplies the settings and user rules and must outlive the organiser (NULL: defaults,
 * no rules). Loads the label file; errors name it. */
int org_open(const rules *r, organizer **out, cs_err *err);
void org_close(organizer *o); /* NULL is a no-op */

/* Sets the model for the model-based steps (NULL: none); embeds the labels with it. */
int org_set_model(organizer *o, clip_ctx *c, const char *model_id, cs_err *err);

/* One pass of each step over at most max entries each; adds to *st (not cleared). OCR problems
 * (no language data) turn OCR off for this organiser with one error. Returns 0 or -1. */
int org_text_kinds(organizer *o, store *s, int max, org_stats *st, cs_err *err);
int org_ocr(organizer *o, store *s, int max, org_stats *st, cs_err *err);
int org_model(organizer *o, store *s, int max, org_stats *st, cs_err *err);

#endif
