/* x11: see x11.h.
 *
 * Protocol notes (ICCCM): we convert the selection into a property of our own hidden window and
 * read it back; format-32 data arrives from Xlib as arrays of long, not 32-bit ints. An owner
 * answers a large transfer with a property of type INCR; we then delete the property and read
 * chunks as PropertyNewValue notifications arrive, until a zero-length chunk. Events that are not
 * for the request in progress are queued by Xlib and handled after it. */
#include "x11.h"

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/Xfixes.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct capture_x11 {
    Display *dpy;
    Window win;
    int xfixes_event;
    capture_x11_params p;
    Atom clipboard, primary, targets, incr, prop, utf8, hint;
};

capture_x11_params capture_x11_default_params(void) {
    capture_x11_params p = {NULL, 0, 2000, capture_default_caps()};
    return p;
}

static int xerr_count;
static int on_xerror(Display *d, XErrorEvent *e) {
    (void)d;
    (void)e;
    xerr_count++; /* a vanished owner window, say: never fatal */
    return 0;
}

int capture_x11_open(const capture_x11_params *p, capture_x11 **out, cs_err *err) {
    *out = NULL;
    capture_x11 *x = calloc(1, sizeof *x);
    if (!x) return cs_err_set(err, "out of memory");
    x->p = p ? *p : capture_x11_default_params();
    if (x->p.timeout_ms <= 0) x->p.timeout_ms = 2000;
    x->dpy = XOpenDisplay(x->p.display);
    if (!x->dpy) {
        const char *name = x->p.display ? x->p.display : getenv("DISPLAY") ? getenv("DISPLAY") : "(DISPLAY unset)";
        cs_err_set(err, "cannot open X display %s", name);
        free(x);
        return -1;
    }
    XSetErrorHandler(on_xerror);
    int ev, er;
    if (!XFixesQueryExtension(x->dpy, &ev, &er)) {
        XCloseDisplay(x->dpy);
        free(x);
        return cs_err_set(err, "the X server has no XFixes extension");
    }
    x->xfixes_event = ev;
    x->win = XCreateSimpleWindow(x->dpy, DefaultRootWindow(x->dpy), -10, -10, 1, 1, 0, 0, 0);
    XSelectInput(x->dpy, x->win, PropertyChangeMask);
    x->clipboard = XInternAtom(x->dpy, "CLIPBOARD", False);
    x->primary = XA_PRIMARY;
    x->targets = XInternAtom(x->dpy, "TARGETS", False);
    x->incr = XInternAtom(x->dpy, "INCR", False);
    x->prop = XInternAtom(x->dpy, "CLIPSEEK_SELECTION", False);
    x->utf8 = XInternAtom(x->dpy, "UTF8_STRING", False);
    x->hint = XInternAtom(x->dpy, "x-kde-passwordManagerHint", False);
    XFixesSelectSelectionInput(x->dpy, x->win, x->clipboard, XFixesSetSelectionOwnerNotifyMask);
    if (x->p.primary) XFixesSelectSelectionInput(x->dpy, x->win, x->primary, XFixesSetSelectionOwnerNotifyMask);
    XFlush(x->dpy);
    *out = x;
    return 0;
}

void capture_x11_close(capture_x11 *x) {
    if (!x) return;
    if (x->dpy) {
        XDestroyWindow(x->dpy, x->win);
        XCloseDisplay(x->dpy);
    }
    free(x);
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits for an event matching pred, until deadline. Returns 1 (found, in *ev), 0 (timeout). */
static int wait_event(capture_x11 *x, Bool (*pred)(Display *, XEvent *, XPointer), XPointer arg, XEvent *ev, int64_t deadline) {
    for (;;) {
        if (XCheckIfEvent(x->dpy, ev, pred, arg)) return 1;
        int64_t left = deadline - now_ms();
        if (left <= 0) return 0;
        struct pollfd pfd = {ConnectionNumber(x->dpy), POLLIN, 0};
        int r = poll(&pfd, 1, (int)(left > 100 ? 100 : left));
        if (r < 0 && errno != EINTR) return 0;
        XEventsQueued(x->dpy, QueuedAfterReading);
    }
}

static Bool is_selnotify(Display *d, XEvent *e, XPointer a) {
    (void)d;
    return e->type == SelectionNotify && e->xselection.requestor == *(Window *)a;
}

typedef struct { Window w; Atom prop; } prop_key;
static Bool is_newvalue(Display *d, XEvent *e, XPointer a) {
    (void)d;
    prop_key *k = (prop_key *)a;
    return e->type == PropertyNotify && e->xproperty.window == k->w && e->xproperty.atom == k->prop &&
           e->xproperty.state == PropertyNewValue;
}

/* Byte size of nitems items of a property format, as Xlib returns them (format 32 = long). */
static size_t item_bytes(int format) { return format == 8 ? 1 : format == 16 ? sizeof(short) : sizeof(long); }

/* Asks the owner of sel for target; reads the reply (INCR too) into *data (malloc'd).
 * Returns 0 ok, 1 refused/empty, -1 timeout or too large (reason in err). */
static int get_selection(capture_x11 *x, Atom sel, Atom target, size_t cap, unsigned char **data, size_t *len,
                         Atom *type, int *format, cs_err *err) {
    *data = NULL;
    *len = 0;
    XDeleteProperty(x->dpy, x->win, x->prop);
    XConvertSelection(x->dpy, sel, target, x->prop, x->win, CurrentTime);
    XFlush(x->dpy);
    XEvent ev;
    int64_t deadline = now_ms() + x->p.timeout_ms;
    if (!wait_event(x, is_selnotify, (XPointer)&x->win, &ev, deadline))
        return cs_err_set(err, "the clipboard owner did not answer within %d ms", x->p.timeout_ms);
    if (ev.xselection.property == None) return 1;
    unsigned long nitems, after;
    unsigned char *buf = NULL;
    if (XGetWindowProperty(x->dpy, x->win, x->prop, 0, 0x1fffffff, True, AnyPropertyType, type, format, &nitems, &after,
                           &buf) != Success)
        return 1;
    if (*type != x->incr) {
        size_t n = nitems * item_bytes(*format);
        if (n > cap) { XFree(buf); return cs_err_set(err, "clip of %zu bytes is over the cap", n); }
        *data = malloc(n + 1);
        if (!*data) { XFree(buf); return cs_err_set(err, "out of memory"); }
        memcpy(*data, buf, n);
        (*data)[n] = 0;
        *len = n;
        XFree(buf);
        return 0;
    }
    /* INCR: the property was deleted by our read, which tells the owner to send the first chunk */
    XFree(buf);
    XFlush(x->dpy);
    size_t sz = 0, cap_alloc = 1 << 16;
    unsigned char *acc = malloc(cap_alloc);
    if (!acc) return cs_err_set(err, "out of memory");
    prop_key k = {x->win, x->prop};
    for (;;) {
        deadline = now_ms() + x->p.timeout_ms;
        if (!wait_event(x, is_newvalue, (XPointer)&k, &ev, deadline)) {
            free(acc);
            return cs_err_set(err, "an incremental transfer stalled for %d ms", x->p.timeout_ms);
        }
        if (XGetWindowProperty(x->dpy, x->win, x->prop, 0, 0x1fffffff, True, AnyPropertyType, type, format, &nitems,
                               &after, &buf) != Success) {
            free(acc);
            return 1;
        }
        XFlush(x->dpy);
        /* a stale notification (the INCR marker's own, or our delete's) finds no property: the
         * end of the transfer is a zero-length property that exists, with the data's type */
        if (*type == None) { if (buf) XFree(buf); continue; }
        size_t n = nitems * item_bytes(*format);
        if (n == 0) { XFree(buf); break; }
        if (sz + n > cap) {
            XFree(buf);
            free(acc);
            /* keep draining would cost time; abandoning is allowed by the protocol */
            return cs_err_set(err, "clip over %zu bytes is over the cap", cap);
        }
        if (sz + n + 1 > cap_alloc) {
            while (sz + n + 1 > cap_alloc) cap_alloc *= 2;
            unsigned char *na = realloc(acc, cap_alloc);
            if (!na) { XFree(buf); free(acc); return cs_err_set(err, "out of memory"); }
            acc = na;
        }
        memcpy(acc + sz, buf, n);
        sz += n;
        XFree(buf);
    }
    acc[sz] = 0;
    *data = acc;
    *len = sz;
    return 0;
}

/* The application that owns sel: WM_CLASS of the owner window or its nearest ancestor. */
static char *owner_name(capture_x11 *x, Atom sel) {
    Window w = XGetSelectionOwner(x->dpy, sel);
    for (int depth = 0; w && w != DefaultRootWindow(x->dpy) && depth < 8; depth++) {
        XClassHint ch;
        if (XGetClassHint(x->dpy, w, &ch)) {
            char *r = strdup(ch.res_class ? ch.res_class : ch.res_name ? ch.res_name : "");
            if (ch.res_name) XFree(ch.res_name);
            if (ch.res_class) XFree(ch.res_class);
            return r;
        }
        Window root, parent, *kids = NULL;
        unsigned int nk;
        if (!XQueryTree(x->dpy, w, &root, &parent, &kids, &nk)) break;
        if (kids) XFree(kids);
        w = parent;
    }
    return NULL;
}

static void logf_(void (*log)(const char *, void *), void *arg, const char *fmt, const char *a) {
    if (!log) return;
    char m[1200];
    snprintf(m, sizeof m, fmt, a);
    log(m, arg);
}

static void handle_change(capture_x11 *x, Atom sel, capture_fn fn, void *arg, void (*log)(const char *, void *)) {
    cs_err e;
    unsigned char *tl;
    size_t tlen;
    Atom type;
    int format;
    Window owner = XGetSelectionOwner(x->dpy, sel);
    if (owner == None || owner == x->win) return;
    int tr = get_selection(x, sel, x->targets, 1 << 20, &tl, &tlen, &type, &format, &e);
    if (tr != 0) {
        logf_(log, arg, "clip skipped: %s", tr < 0 ? e.msg : "the owner offers no TARGETS");
        return;
    }
    if (format != 32) { free(tl); logf_(log, arg, "clip skipped: %s", "bad TARGETS reply"); return; }
    long *atoms = (long *)tl;
    size_t n = tlen / sizeof(long);
    static const char *prefer[] = {"text/uri-list", "image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp",
                                   "UTF8_STRING", "text/plain;charset=utf-8", "text/plain", "STRING"};
    char offered[2048] = "";
    size_t ol = 0;
    int has_hint = 0, best = -1;
    Atom best_atom = None;
    for (size_t i = 0; i < n; i++) {
        char *name = XGetAtomName(x->dpy, (Atom)atoms[i]);
        if (!name) continue;
        if ((Atom)atoms[i] == x->hint) has_hint = 1;
        for (int k = 0; k < (int)(sizeof prefer / sizeof prefer[0]); k++)
            if (!strcmp(name, prefer[k]) && (best < 0 || k < best)) { best = k; best_atom = (Atom)atoms[i]; }
        if (ol + strlen(name) + 2 < sizeof offered) ol += (size_t)snprintf(offered + ol, sizeof offered - ol, "%s%s", ol ? "\n" : "", name);
        XFree(name);
    }
    free(tl);
    if (has_hint) {
        /* a password manager marks secrets; read only the hint, never the data */
        unsigned char *h;
        size_t hl;
        int r = get_selection(x, sel, x->hint, 4096, &h, &hl, &type, &format, &e);
        int secret = r == 0 && hl >= 6 && !memcmp(h, "secret", 6);
        free(h);
        if (secret || r < 0) {
            logf_(log, arg, "clip skipped: %s", secret ? "marked secret by its owner" : e.msg);
            return;
        }
    }
    if (best < 0) { logf_(log, arg, "clip skipped: %s", "no text or image type offered"); return; }
    size_t cap = x->p.caps.max_image > x->p.caps.max_text ? x->p.caps.max_image : x->p.caps.max_text;
    unsigned char *d;
    size_t len;
    int r = get_selection(x, sel, best_atom, cap, &d, &len, &type, &format, &e);
    if (r != 0) {
        logf_(log, arg, "clip skipped: %s", r < 0 ? e.msg : "the owner refused the conversion");
        return;
    }
    char *src = owner_name(x, sel);
    capture_clip clip = {d, len, prefer[best], offered, src};
    fn(&clip, arg);
    free(src);
    free(d);
}

int capture_x11_run(capture_x11 *x, capture_fn fn, void *arg, void (*log)(const char *, void *), volatile int *stop,
                    cs_err *err) {
    /* what is on the clipboard at start is a clip too */
    handle_change(x, x->clipboard, fn, arg, log);
    while (!*stop) {
        struct pollfd pfd = {ConnectionNumber(x->dpy), POLLIN, 0};
        if (!XPending(x->dpy)) {
            int r = poll(&pfd, 1, 200);
            if (r < 0 && errno != EINTR) return cs_err_set(err, "X connection: %s", strerror(errno));
            if (r > 0 && (pfd.revents & (POLLHUP | POLLERR))) return cs_err_set(err, "the X connection was closed");
            if (r <= 0) continue;
        }
        if (XEventsQueued(x->dpy, QueuedAfterReading) == 0) {
            /* readable but no event: the server went away */
            char probe;
            if (recv(ConnectionNumber(x->dpy), &probe, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
                return cs_err_set(err, "the X connection was closed");
            continue;
        }
        while (XPending(x->dpy) && !*stop) {
            XEvent ev;
            XNextEvent(x->dpy, &ev);
            if (ev.type == x->xfixes_event + XFixesSelectionNotify) {
                XFixesSelectionNotifyEvent *se = (XFixesSelectionNotifyEvent *)&ev;
                if (se->owner != None && se->owner != x->win) handle_change(x, se->selection, fn, arg, log);
            }
        }
    }
    return 0;
}
