/* x11: clipboard capture on X11 through XFixes selection-owner notifications.
 *
 * When the owner of CLIPBOARD (and PRIMARY, if asked) changes, the backend asks the new owner for
 * TARGETS and chooses one with capture_pick_type (images over html, files, then text). If the
 * owner offers x-kde-passwordManagerHint and it reads "secret" (KeePassXC, KDE), or the owner will
 * not hand the hint over, the clip is skipped and its data is never requested. Large transfers use
 * the INCR protocol. Each transfer has one deadline for the whole of it (timeout_ms, plus a second
 * per MiB received) and is abandoned when the selection changes owner again or *stop is set, so a
 * slow or hostile owner costs at most that long and no other clip waits behind it.
 *
 * The source application is found from WM_CLASS, the owner's client leader or window group,
 * _NET_WM_PID, or the active window (see owner_name in x11.c and docs/capture.md).
 *
 * Bursts: queued owner changes of one selection are read once, at the latest; PRIMARY is read once
 * it has been quiet for debounce_ms and the mouse buttons and Shift are up.
 *
 * Losing the X server is not fatal: capture_x11_run returns -1 and the caller may reconnect
 * (Xlib's exit-on-IO-error is replaced, which needs libX11 >= 1.7).
 *
 * Threading: a capture_x11 belongs to the thread that runs it. */
#ifndef X11_H
#define X11_H

#include <stdatomic.h>

#include "../common/cs_err.h"
#include "capture.h"

typedef struct capture_x11 capture_x11;

typedef struct capture_x11_params {
    const char *display; /* NULL: $DISPLAY */
    int primary;         /* also watch PRIMARY (off by default) */
    int timeout_ms;      /* base budget of one transfer; default 2000 */
    capture_caps caps;
    int debounce_ms; /* PRIMARY is read once quiet this long; default 300, 0 = at once */
} capture_x11_params;

capture_x11_params capture_x11_default_params(void);

int capture_x11_open(const capture_x11_params *p, capture_x11 **out, cs_err *err);
void capture_x11_close(capture_x11 *x); /* NULL is a no-op */

/* Runs until *stop becomes non-zero (checked at least every 200 ms, also inside a transfer) or
 * the X connection breaks (returns -1 with a message; the process keeps running). fn receives each clip; skipped clips (secret, too large,
 * refused, timed out) are reported through log (may be NULL) with a reason. */
int capture_x11_run(capture_x11 *x, capture_fn fn, void *arg, void (*log)(const char *msg, void *arg), atomic_int *stop,
                    cs_err *err);

#endif
