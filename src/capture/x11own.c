/* x11own: see x11own.h. ICCCM 2.2 (responsibilities of the selection owner): answer each
 * SelectionRequest by writing the requested property on the requestor's window and sending it a
 * SelectionNotify; property None refuses; a request with property None comes from an obsolete
 * client and uses the target as the property. */
#include "x11own.h"

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <stdlib.h>
#include <string.h>

int x11own_files_items(const unsigned char *data, size_t len, const char *mime, x11own_item out[4], char **bufs,
                       cs_err *err) {
    *bufs = NULL;
    const unsigned char *uris = data;
    size_t ul = len;
    if (mime && !strcmp(mime, "x-special/gnome-copied-files")) {
        /* "copy" or "cut", a newline, then the URIs */
        const unsigned char *nl = memchr(data, '\n', len);
        if (!nl) return cs_err_set(err, "a gnome-copied-files entry without URIs");
        uris = nl + 1;
        ul = len - (size_t)(uris - data);
    }
    while (ul && (uris[ul - 1] == '\n' || uris[ul - 1] == '\r' || uris[ul - 1] == 0)) ul--;
    if (ul == 0 || !memchr(uris, ':', ul)) return cs_err_set(err, "the files entry holds no URI");
    /* one buffer: the uri-list (CRLF-terminated lines, RFC 2483), then GNOME's form */
    size_t lines = 1;
    for (size_t i = 0; i < ul; i++) lines += uris[i] == '\n';
    size_t cap = 2 * (ul + lines * 2) + 16;
    char *b = malloc(cap);
    if (!b) return cs_errc(err, CS_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < ul; i++) {
        if (uris[i] == '\r') continue;
        if (uris[i] == '\n') {
            b[k++] = '\r';
            b[k++] = '\n';
        } else
            b[k++] = (char)uris[i];
    }
    b[k++] = '\r';
    b[k++] = '\n';
    size_t uri_len = k;
    /* GNOME's form: "copy", then the URIs separated by newlines, no trailing newline */
    memcpy(b + k, "copy\n", 5);
    size_t g = k;
    k += 5;
    for (size_t i = 0; i < ul; i++)
        if (uris[i] != '\r') b[k++] = (char)uris[i];
    *bufs = b;
    out[0] = (x11own_item){"text/uri-list", (unsigned char *)b, uri_len};
    out[1] = (x11own_item){"x-special/gnome-copied-files", (unsigned char *)b + g, k - g};
    /* text fields get the plain list, one URI a line */
    out[2] = (x11own_item){"UTF8_STRING", (unsigned char *)b + g + 5, k - g - 5};
    out[3] = (x11own_item){"text/plain;charset=utf-8", (unsigned char *)b + g + 5, k - g - 5};
    return 4;
}

static int ignore_xerror(Display *d, XErrorEvent *e) {
    (void)d;
    (void)e; /* a requestor window that vanished: not our problem, keep serving */
    return 0;
}

int x11own_serve(const char *display, const x11own_item *items, int n, void (*owned)(void *), void *arg, cs_err *err) {
    Display *d = XOpenDisplay(display);
    if (!d)
        return cs_err_set(err, "cannot open X display %s",
                          display             ? display
                          : getenv("DISPLAY") ? getenv("DISPLAY")
                                              : "(DISPLAY unset)");
    XSetErrorHandler(ignore_xerror);
    long max = XExtendedMaxRequestSize(d) ? XExtendedMaxRequestSize(d) : XMaxRequestSize(d);
    Atom types[16];
    if (n > 14) n = 14;
    for (int i = 0; i < n; i++) {
        if (items[i].len > (size_t)max * 4 - 1024) {
            XCloseDisplay(d);
            return cs_err_set(err, "%s: %zu bytes is more than the X server takes at once", items[i].type,
                              items[i].len);
        }
        types[i] = XInternAtom(d, items[i].type, False);
    }
    Atom clipboard = XInternAtom(d, "CLIPBOARD", False), targets = XInternAtom(d, "TARGETS", False),
         timestamp = XInternAtom(d, "TIMESTAMP", False);
    types[n] = targets;
    types[n + 1] = timestamp;
    Window w = XCreateSimpleWindow(d, DefaultRootWindow(d), 0, 0, 1, 1, 0, 0, 0);
    /* ICCCM asks for a real timestamp, not CurrentTime: get one from a property change */
    XSelectInput(d, w, PropertyChangeMask);
    XChangeProperty(d, w, XA_WM_NAME, XA_STRING, 8, PropModeAppend, (const unsigned char *)"", 0);
    XEvent ev;
    XWindowEvent(d, w, PropertyChangeMask, &ev);
    Time t = ev.xproperty.time;
    XSetSelectionOwner(d, clipboard, w, t);
    if (XGetSelectionOwner(d, clipboard) != w) {
        XCloseDisplay(d);
        return cs_err_set(err, "could not take the CLIPBOARD selection");
    }
    if (owned) owned(arg);
    for (;;) {
        XNextEvent(d, &ev);
        if (ev.type == SelectionClear && ev.xselectionclear.selection == clipboard) break;
        if (ev.type != SelectionRequest) continue;
        XSelectionRequestEvent *r = &ev.xselectionrequest;
        Atom prop = r->property != None ? r->property : r->target;
        XSelectionEvent re = {SelectionNotify, 0, True, d, r->requestor, r->selection, r->target, prop, r->time};
        if (r->selection != clipboard)
            re.property = None;
        else if (r->target == targets)
            XChangeProperty(d, r->requestor, prop, XA_ATOM, 32, PropModeReplace, (unsigned char *)types, n + 2);
        else if (r->target == timestamp) {
            long tv = (long)t;
            XChangeProperty(d, r->requestor, prop, XA_INTEGER, 32, PropModeReplace, (unsigned char *)&tv, 1);
        } else {
            int i = 0;
            while (i < n && types[i] != r->target) i++;
            if (i < n)
                XChangeProperty(d, r->requestor, prop, r->target, 8, PropModeReplace, items[i].data, (int)items[i].len);
            else
                re.property = None;
        }
        XSendEvent(d, r->requestor, False, 0, (XEvent *)&re);
        XFlush(d);
    }
    XDestroyWindow(d, w);
    XCloseDisplay(d);
    return 0;
}
