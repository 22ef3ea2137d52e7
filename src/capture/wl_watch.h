/* wl_watch: supervising `wl-paste --watch clipseek wl-event`, the daemon's capture on Wayland.
 *
 * wl-paste runs as our child with its stderr (and that of every wl-event it runs) on a pipe we
 * read, so what it says reaches the log (cs_log) and, when it exits, the error report. When it
 * exits (a crash, the compositor restarting, no data-control protocol) the reason is reported and
 * it is started again with a growing pause (1 s doubling to 60 s; back to 1 s after a run of a
 * minute). A compositor without data-control (GNOME/Mutter, weston) cannot work at all: with
 * allow_x11 and DISPLAY set, wl_watch_run returns so the caller captures X11 through XWayland
 * instead (docs/capture.md). */
#ifndef WL_WATCH_H
#define WL_WATCH_H

#include <stdatomic.h>

typedef struct wl_watch_params {
    const char *self_exe; /* the clipseek binary wl-paste runs for each clip */
    const char *data_dir; /* passed to it as --data-dir */
    int allow_x11;        /* 1: without data-control, fall back to X11 when DISPLAY is set */
    /* each change: state is the capture state to show ("wayland", "failed"; NULL: unchanged),
     * error a failure to record (NULL: none), restarted 1 when wl-paste exited and will be
     * started again. Called on the watching thread. */
    void (*report)(void *arg, const char *state, const char *error, int restarted);
    void *arg;
} wl_watch_params;

/* Runs until *stop is set (then ends its child with SIGTERM and reaps it) and returns 0; returns
 * 1 at once when the compositor has no data-control protocol and the caller should capture X11
 * through XWayland instead. */
int wl_watch_run(const wl_watch_params *p, atomic_int *stop);

#endif
