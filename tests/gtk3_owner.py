#!/usr/bin/env python3
"""A real GTK3 clipboard owner for tests/x11_test.sh: `gtk3_owner.py TEXT SECS [PRGNAME]` sets
CLIPBOARD to TEXT through GtkClipboard, prints "owning" once GTK owns it, and serves requests until
SECS pass. PRGNAME is the program name GLib reports (a desktop app's is its binary's name). Like a GNOME app, its
clipboard owner window is GTK's own unmapped window, which has no WM_CLASS."""
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import GLib  # noqa: E402

text, secs = sys.argv[1], float(sys.argv[2])
if len(sys.argv) > 3:
    GLib.set_prgname(sys.argv[3])  # before GTK initialises, which reads it
from gi.repository import Gdk, Gtk  # noqa: E402
cb = Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD)
cb.set_text(text, -1)
cb.store()


def report():
    print("owning", flush=True)
    return False


GLib.idle_add(report)
GLib.timeout_add(int(secs * 1000), Gtk.main_quit)
Gtk.main()
