#!/usr/bin/env python3
"""A real multi-type Wayland clipboard owner for tests/wayland_test.sh.

wl-copy offers one type only. This is an application window, as a user's app would be: it takes
the clipboard when it receives a key press (the compositor accepts a selection only with the serial
of an input event, so the test types a key with wtype), and prints SET, then one REQUEST line for
every type a paster asks for.

  wl_owner.py qt-secret TEXT    Qt 5 (what KeePassXC is built on): text/plain + x-kde-passwordManagerHint = secret
  wl_owner.py gtk-hint TEXT     GTK 4: text/plain + x-kde-passwordManagerHint (GDK cannot hand that
                                type over: it refuses MIME names without a '/')
  wl_owner.py gtk-html-image PNG  GTK 4: text/html (<img ...>) + image/png, a browser's "Copy Image"
"""
import sys


def out(*a):
    print(*a, flush=True)


def run_qt(text):
    from PyQt5.QtCore import QByteArray, QMimeData, QVariant
    from PyQt5.QtWidgets import QApplication, QWidget

    class Data(QMimeData):
        items = {"text/plain": text.encode(), "x-kde-passwordManagerHint": b"secret"}

        def formats(self):
            return list(self.items)

        def hasFormat(self, m):
            return m in self.items

        def retrieveData(self, mime, kind):
            out("REQUEST", mime)
            # Qt asks for text/plain as "text/plain;charset=utf-8" too
            v = self.items.get("text/plain" if mime.startswith("text/plain") else mime)
            return QVariant(QByteArray(v)) if v is not None else QVariant()

    app = QApplication(sys.argv[:1])

    class Win(QWidget):
        def keyPressEvent(self, ev):
            app.clipboard().setMimeData(Data())
            out("SET")

    w = Win()
    w.resize(200, 100)
    w.show()
    out("READY")
    app.exec_()


def run_gtk(mode, arg):
    import gi
    gi.require_version("Gtk", "4.0")
    gi.require_version("Gdk", "4.0")
    from gi.repository import Gdk, GLib, Gtk

    if mode == "gtk-hint":
        items = [("text/plain;charset=utf-8", arg.encode()), ("x-kde-passwordManagerHint", b"secret")]
    else:
        png = open(arg, "rb").read()
        items = [("text/html", b'<img src="https://example.org/cat.png" alt="cat">'), ("image/png", png)]

    def on_activate(app):
        win = Gtk.ApplicationWindow(application=app)

        def take(*a):
            provs = [Gdk.ContentProvider.new_for_bytes(m, GLib.Bytes.new(b)) for m, b in items]
            win.get_display().get_clipboard().set_content(Gdk.ContentProvider.new_union(provs))
            out("SET")
            return True

        k = Gtk.EventControllerKey()
        k.connect("key-pressed", take)
        win.add_controller(k)
        win.present()
        out("READY")

    app = Gtk.Application(application_id="org.clipseek.TestOwner")
    app.connect("activate", on_activate)
    app.run([])


if __name__ == "__main__":
    if sys.argv[1] == "qt-secret":
        run_qt(sys.argv[2])
    else:
        run_gtk(sys.argv[1], sys.argv[2])
