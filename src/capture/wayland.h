/* wayland: what clipseek needs to know about the Wayland session, without reading any clipboard.
 *
 * Capture itself runs through wl-clipboard (`wl-paste --watch clipseek wl-event`, see
 * src/cli/cli_wayland.c and docs/capture.md): the data-control protocol XML (wlr or ext) ships in
 * no Debian 12 package, and we do not vendor it. This module only
 *   - asks the compositor which globals it offers (core wl_registry: no protocol XML needed), to
 *     tell whether clipboard capture can work at all (GNOME/Mutter and weston have no
 *     data-control protocol; wl-paste --watch exits at once there), and
 *   - asks sway's IPC (i3 protocol, $SWAYSOCK) which application has the focus, the only way to
 *     name a clip's source application on Wayland (the protocol never says who owns a selection). */
#ifndef WAYLAND_H
#define WAYLAND_H

#include <stddef.h>

#include "../common/cs_err.h"

typedef struct wayland_info {
    int data_control;  /* zwlr_data_control_manager_v1 or ext_data_control_manager_v1 offered */
    char protocol[64]; /* the one found, "" when none */
} wayland_info;

/* Connects to $WAYLAND_DISPLAY and lists the compositor's globals. Returns 0, or -1 when no
 * compositor answers (err says why). */
int wayland_probe(wayland_info *out, cs_err *err);

/* The focused application by sway's IPC ($SWAYSOCK): its app_id, or its X11 class for an
 * XWayland window. Returns 0 with buf filled, or -1 (not sway, no socket, nothing focused).
 * timeout_ms bounds the whole exchange. */
int wayland_focused_app(char *buf, size_t n, int timeout_ms);

#endif
