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

#endif
