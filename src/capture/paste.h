/* paste: puts an entry back on the clipboard, by handing its bytes to wl-copy (Wayland) or xclip
 * (X11) with the entry's type, so the next paste anywhere gives it back. A files entry on X11 is
 * served by this binary's internal `x11-own-files` command instead (x11own.h), which offers
 * text/uri-list, x-special/gnome-copied-files and text, so a file manager pastes the files. On
 * Wayland a files entry is handed to wl-copy as text/uri-list (which wl-copy also offers under the
 * plain-text names), whatever form it was stored in.
 *
 * Returns 0, or -1 with err saying why (no display, tool missing, tool failed). The tool keeps
 * serving the selection in the background after this returns, as both tools do by design. */
#ifndef PASTE_H
#define PASTE_H

#include "../common/cs_err.h"
#include "../store/store.h"

int paste_entry(store *s, const store_entry *e, cs_err *err);

/* Where the keyboard focus was before a popup took it, so the paste goes back there. */
typedef struct paste_target {
    enum { PASTE_FOCUSED = 0, PASTE_X11_WINDOW, PASTE_SWAY_CON } kind; /* PASTE_FOCUSED: whatever has focus */
    unsigned long id;                                                  /* the X11 window, or sway's container id */
} paste_target;

/* Records the focused window: on X11 through xdotool (the active window when a window manager
 * names one, else the input focus), under sway (SWAYSOCK set) its focused container through
 * swaymsg. Other Wayland compositors give the focus back to the previous window by themselves when
 * a popup closes, and offer no way to ask, so t->kind is then PASTE_FOCUSED; so it is when the tool
 * is missing or fails: never an error, the paste then goes to whatever has the focus. */
void paste_target_save(paste_target *t);

/* Gives the focus back to t (NULL: leaves it where it is), then types keys into it: "ctrl+v" when
 * keys is NULL, e.g. "ctrl+shift+v" for a terminal. Modifiers (ctrl, shift, alt, super) and one key
 * joined by '+'. X11 (DISPLAY set, no WAYLAND_DISPLAY): `xdotool key --clearmodifiers`, so a held
 * hotkey modifier does not change the keystroke; Wayland: wtype (virtual-keyboard protocol).
 * Returns 0, or -1 with err (no display, tool missing, a window that is gone, bad keys). */
int paste_keys(const paste_target *t, const char *keys, cs_err *err);

#endif
