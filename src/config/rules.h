/* rules: the user's capture policy, from the config file: what not to store, how much to keep.
 *
 * File: $CLIPSEEK_CONFIG, else $XDG_CONFIG_HOME/clipseek/config, else ~/.config/clipseek/config.
 * A missing file means the defaults. Lines are "key = value"; '#' starts a comment.
 *   ignore_text = REGEX     text clips matching this POSIX extended regex are not stored
 *                           (repeatable; e.g. ^[0-9]{6}$ for one-time codes)
 *   ignore_app = NAME       clips whose source application (X11 WM_CLASS) is NAME, ignoring case,
 *                           are not stored (repeatable; e.g. KeePassXC)
 *   max_entries = N         keep at most N unpinned entries (default 10000; 0 = no limit)
 *   max_age_days = N        drop unpinned entries last copied more than N days ago (0 = never)
 *   max_total_mb = N        keep at most N MB of unpinned content (0 = no limit)
 *   max_image_mb = N        refuse larger images (default 50)
 *   max_text_mb = N         refuse larger texts (default 5)
 *   primary = true|false    also capture the PRIMARY selection (default false)
 *   debounce_ms = N         X11 PRIMARY is read once it has not changed for N ms and the mouse
 *                           button and Shift are up, so a selection dragged out word by word is
 *                           one clip (default 300; 0 = at once)
 *   min_length = N          text clips with fewer than N characters, surrounding whitespace not
 *                           counted, are not stored (default 1; whitespace-only text never is)
 *   store_secrets = true|false  false: text that looks like a key, token or card number is not
 *                           stored at all (default true: stored and flagged as kind "secret")
 *   rule = MATCH... -> ACTION...   user rules, applied in file order (repeatable, at most 64).
 *                           Matchers (all must hold): kind:K (kind or text kind: image, url, code...),
 *                           regex:RE (POSIX extended, on the text, or on the text read from an
 *                           image), source:GLOB (application or file path, ignoring case),
 *                           category:C (image category; such rules run once the image is
 *                           categorised). Actions: tag:T, collection:NAME, pin, expire:DURATION
 *                           (30m, 12h, 7d: deleted that long after the first copy unless pinned),
 *                           ignore (not stored; for a category rule: deleted once categorised).
 *                           Values may be "quoted" to hold spaces.
 *   ocr = true|false        read the text in images (default true)
 *   ocr_lang = LANGS        Tesseract languages, e.g. eng or eng+deu (default eng)
 *   labels = PATH           the image category label file (default: see organize/labels.h)
 *   duplicate_threshold = X images at cosine >= X are near-duplicates (default 0.95)
 *   collection_threshold = X  entries join a collection at cosine >= X to its centre (default 0.85)
 *   web = true|false        serve the web page from the daemon (default true)
 *   web_port = N            its port on 127.0.0.1 and ::1 (default 7717)
 *   device = D              where the CLIP towers run: auto (default), cpu, vulkan, vulkan:N
 *                           (--device and CLIPSEEK_DEVICE take precedence)
 *   text_model = DIR        a sentence-transformers text tower into the CLIP model's space that
 *                           embeds text queries (docs/text-models.md); `model use --text-model` and
 *                           CLIPSEEK_TEXT_MODEL take precedence
 *   text_embedder = DIR     a sentence-transformers model that embeds text clips and queries into a
 *                           second, text-only space (docs/text-models.md); `model use
 *                           --text-embedder` and CLIPSEEK_TEXT_EMBEDDER take precedence
 * Unknown keys and bad values are errors naming the file and line. */
#ifndef RULES_H
#define RULES_H

#include "../common/cs_err.h"
#include "../store/store.h"
#include "../capture/capture.h"

typedef struct rules rules;

/* Loads the config (path NULL: the default location). Caller frees with rules_free. */
int rules_load(const char *path, rules **out, cs_err *err);
void rules_free(rules *r); /* NULL is a no-op */

/* Parses config text (name is used in error messages). rules_load reads a file and calls it. */
int rules_parse(const char *text, size_t len, const char *name, rules **out, cs_err *err);

/* The config path in effect (malloc'd), or NULL. */
char *rules_default_path(void);

/* NULL if the clip may be stored, else a static reason ("matches ignore_text", ...). */
const char *rules_reject(const rules *r, const char *kind, const char *subkind, const unsigned char *data, size_t len,
                         const char *source);

/* What a rule looks at. text is NUL-terminated (or NULL); any field may be NULL. */
typedef struct rule_facts {
    const char *kind, *subkind, *text, *source, *category;
} rule_facts;

enum { RULES_AT_STORE = 0, RULES_AFTER_CATEGORY = 1 };
/* Applies the actions of the rules that match entry id: phase RULES_AT_STORE runs the rules
 * without a category matcher (right after an entry is added), RULES_AFTER_CATEGORY those with
 * one (once the organiser has categorised it). Ignore rules act only in the second phase (the
 * first one's are rules_reject's, before storing). *deleted (may be NULL) is set when an ignore
 * rule deleted the entry. An entry that is gone is not an error. */
int rules_apply(const rules *r, store *s, int64_t id, int phase, int *deleted, cs_err *err);

/* Settings of the organiser (src/organize/); r NULL gives the defaults. */
typedef struct org_settings {
    int ocr;
    char ocr_lang[64];
    char labels[1024]; /* "" = default location */
    float duplicate_threshold, collection_threshold;
} org_settings;
org_settings rules_org(const rules *r);

/* The web page's port, or -1 when `web = false`. */
int rules_web_port(const rules *r);

/* The `device =` setting, or NULL when not set (r may be NULL). Borrowed: valid until
 * rules_free(r). */
const char *rules_device(const rules *r);
/* The `text_model =` setting (a folder), or NULL when not set (r may be NULL). */
const char *rules_text_model(const rules *r);
/* The `text_embedder =` setting (a folder), or NULL when not set (r may be NULL). */
const char *rules_text_embedder(const rules *r);

store_limits rules_limits(const rules *r);
capture_caps rules_caps(const rules *r);
int rules_primary(const rules *r);
int rules_debounce_ms(const rules *r); /* r NULL: the default */

#endif
