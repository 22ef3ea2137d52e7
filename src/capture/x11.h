/* x11: clipboard capture on X11 through XFixes selection-owner notifications.
 *
 * When the owner of CLIPBOARD (and PRIMARY, if asked) changes, the backend asks the new owner for
 * TARGETS and chooses one: text/uri-list (files), else an image type (PNG, JPEG, WebP, GIF, BMP,
 * in that order), else text (UTF8_STRING, text/plain;charset=utf-8, text/plain, STRING). If the
 * owner offers x-kde-passwordManagerHint and it reads "secret" (KeePassXC, KDE), the clip is
 * skipped and its data is never requested. Large transfers use the INCR protocol. Every request
 * has a timeout, so an owner that never answers costs at most that long and nothing blocks.
 *
 * Threading: a capture_x11 belongs to the thread that runs it. */
#ifndef X11_H
#define X11_H

#include "../common/cs_err.h"
#include "capture.h"

typedef struct capture_x11 capture_x11;

typedef struct capture_x11_params {
    const char *display; /* NULL: $DISPLAY */
    int primary;         /* also watch PRIMARY (off by default) */
    int timeout_ms;      /* per request; default 2000 */
    capture_caps caps;
} capture_x11_params;

capture_x11_params capture_x11_default_params(void);

int capture_x11_open(const capture_x11_params *p, capture_x11 **out, cs_err *err);
void capture_x11_close(capture_x11 *x);

/* Runs until *stop becomes non-zero (checked at least every 200 ms) or the X connection
 * breaks (returns -1 with a message). fn receives each clip; skipped clips (secret, too large,
 * refused, timed out) are reported through log (may be NULL) with a reason. */
int capture_x11_run(capture_x11 *x, capture_fn fn, void *arg, void (*log)(const char *msg, void *arg),
                    volatile int *stop, cs_err *err);

#endif
