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
 *   store_secrets = true|false  false: text that looks like a key, token or card number is not
 *                           stored at all (default true: stored and flagged as kind "secret")
 * Unknown keys and bad values are errors naming the file and line. */
#ifndef RULES_H
#define RULES_H

#include "../common/cs_err.h"
#include "../store/store.h"
#include "capture.h"

typedef struct rules rules;

/* Loads the config (path NULL: the default location). Caller frees with rules_free. */
int rules_load(const char *path, rules **out, cs_err *err);
void rules_free(rules *r);

/* The config path in effect (malloc'd), or NULL. */
char *rules_default_path(void);

/* NULL if the clip may be stored, else a static reason ("matches ignore_text", ...). */
const char *rules_reject(const rules *r, const char *kind, const char *subkind, const unsigned char *data, size_t len,
                         const char *source);

store_limits rules_limits(const rules *r);
capture_caps rules_caps(const rules *r);
int rules_primary(const rules *r);

#endif
