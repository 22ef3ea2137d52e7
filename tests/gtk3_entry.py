#!/usr/bin/env python3
"""A real GTK3 text widget to paste into, for tests/popup_test.sh (X11) and tests/wayland_test.sh
(sway): `gtk3_entry.py OUT` shows a window titled "clipseek paste target" holding one Gtk.Entry,
prints "ready XID" (its X11 window id when on X11, else 0) once the entry has the keyboard focus,
"key NAME STATE" for each key pressed in it (STATE: GDK's modifier mask) (evidence that a key reached it), and writes the entry's text
to OUT (through a temporary file and a rename, so a reader never sees half of it) each time it
changes. Pasting with ctrl+v is GTK's own: the entry asks the clipboard owner for the text, as in
any app."""
import os
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

out = sys.argv[1]
win = Gtk.Window(title="clipseek paste target")
entry = Gtk.Entry()
win.add(entry)
win.set_default_size(400, 40)


def changed(e):
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(e.get_text())
    os.replace(tmp, out)


reported = []


def focused(*_):
    if not reported:
        reported.append(1)
        gw = win.get_window()
        xid = gw.get_xid() if hasattr(gw, "get_xid") else 0
        print("ready %d" % xid, flush=True)
    return False


def key(_w, ev):
    print("key %s %d" % (Gdk.keyval_name(ev.keyval), int(ev.state)), flush=True)
    return False  # the entry handles it as usual


entry.connect("changed", changed)
entry.connect("key-press-event", key)
entry.connect("focus-in-event", focused)
win.connect("destroy", Gtk.main_quit)
win.show_all()
win.present()
entry.grab_focus()
GLib.timeout_add_seconds(120, Gtk.main_quit)  # never outlives a broken test by much
Gtk.main()
