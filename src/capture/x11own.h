/* x11own: owns the X11 CLIPBOARD and serves several representations of one clip, which xclip
 * cannot do (it offers a single target). Used to copy a `files` entry back so that a file manager
 * pastes files: text/uri-list, x-special/gnome-copied-files (Nautilus, Nemo, Caja, Thunar) and
 * UTF8_STRING / text/plain for text fields.
 *
 * The owner answers TARGETS, TIMESTAMP and each item's type; other targets (MULTIPLE included)
 * are refused. It serves until another client takes CLIPBOARD or the X connection ends. Items
 * larger than the server's maximum request are refused up front (no INCR: a list of files is
 * small). */
#ifndef X11OWN_H
#define X11OWN_H

#include <stddef.h>

#include "../common/cs_err.h"

typedef struct x11own_item {
    const char *type;          /* target name, e.g. "text/uri-list" */
    const unsigned char *data; /* borrowed for the whole of x11own_serve */
    size_t len;
} x11own_item;

/* Builds the items of a files entry from its stored content: a text/uri-list (mime
 * "text/uri-list") or GNOME's form ("copy"/"cut" line, then the URIs). Writes up to 4 items
 * into out, pointing into *bufs (malloc'd, caller frees *bufs). Returns the item count, or -1
 * with a reason when the content holds no URI. */
int x11own_files_items(const unsigned char *data, size_t len, const char *mime, x11own_item out[4], char **bufs,
                       cs_err *err);

/* Takes CLIPBOARD on display (NULL: $DISPLAY) for items. Once it owns the selection, calls
 * owned(arg) (may be NULL; the place to tell a waiting parent), then serves requests until the
 * selection is lost. Returns 0 when it ended normally (lost the selection), -1 with a reason when
 * it could not open the display, take the selection, or an item is too large. */
int x11own_serve(const char *display, const x11own_item *items, int n, void (*owned)(void *arg), void *arg,
                 cs_err *err);

#endif
