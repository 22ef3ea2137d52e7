/* x11: see x11.h.
 *
 * Protocol notes (ICCCM): we convert the selection into a property of our own hidden window and
 * read it back; format-32 data arrives from Xlib as arrays of long, not 32-bit ints. An owner
 * answers a large transfer with a property of type INCR; we then delete the property and read
 * chunks as PropertyNewValue notifications arrive, until a zero-length chunk. Events that are not
 * for the request in progress are queued by Xlib and handled after it.
 *
 * Hostile or broken owners: every transfer (TARGETS, the hint, the data) has one deadline for the
 * whole of it, not per chunk, so an owner that trickles a few bytes now and then cannot hold the
 * capture thread; the deadline grows only with bytes actually received (an owner cannot buy time
 * by announcing a large size). A transfer is abandoned as soon as the selection changes owner
 * again (or its owner goes away), and when *stop is set.
 *
 * Losing the server: Xlib's default IO-error path calls exit(). We install an IO-error handler and
 * an IO-error exit handler (libX11 >= 1.7) that return, marking the connection dead; every Xlib
 * call on a dead Display returns at once, and capture_x11_run returns -1 so the caller can
 * reconnect. */
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
#include <unistd.h>

struct capture_x11 {
    Display *dpy;
    Window win;
    int xfixes_event;
    capture_x11_params p;
    Atom clipboard, primary, targets, incr, hint, wm_pid, active, client_leader, client_machine;
    /* Each request gets the next of these property names: the answer to an abandoned request can
     * still arrive later, and must not be taken for the answer to the current one. */
    Atom props[8], prop;
    unsigned seq;
    atomic_int *stop;
    volatile int dead; /* the IO-error exit handler ran: the connection is gone */
    Atom busy_sel;     /* the selection a transfer is reading */
};

capture_x11_params capture_x11_default_params(void) {
    capture_x11_params p = {NULL, 0, 2000, capture_default_caps(), 300};
    return p;
}

/* The "whole transfer" budget grows by one second per MiB received. */
#define RATE_BYTES_PER_MS 1048

static int on_xerror(Display *d, XErrorEvent *e) {
    (void)d;
    (void)e; /* a vanished owner window, say: never fatal */
    return 0;
}

/* Library code does not print; the run loop reports the loss through err. */
static int on_xioerror(Display *d) {
    (void)d;
    return 0;
}

static void on_xioerror_exit(Display *d, void *arg) {
    (void)d;
    ((capture_x11 *)arg)->dead = 1; /* returning (not exiting) keeps the daemon alive */
}

int capture_x11_open(const capture_x11_params *p, capture_x11 **out, cs_err *err) {
    *out = NULL;
    capture_x11 *x = calloc(1, sizeof *x);
    if (!x) return cs_errc(err, CS_ENOMEM, "out of memory");
    x->p = p ? *p : capture_x11_default_params();
    if (x->p.timeout_ms <= 0) x->p.timeout_ms = 2000;
    if (x->p.debounce_ms < 0) x->p.debounce_ms = 0;
    x->dpy = XOpenDisplay(x->p.display);
    if (!x->dpy) {
        const char *name = x->p.display ? x->p.display : getenv("DISPLAY") ? getenv("DISPLAY") : "(DISPLAY unset)";
        cs_err_set(err, "cannot open X display %s", name);
        free(x);
        return -1;
    }
    XSetErrorHandler(on_xerror);
    XSetIOErrorHandler(on_xioerror);
    XSetIOErrorExitHandler(x->dpy, on_xioerror_exit, x);
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
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "CLIPSEEK_SELECTION_%d", i);
        x->props[i] = XInternAtom(x->dpy, name, False);
    }
    x->prop = x->props[0];
    x->hint = XInternAtom(x->dpy, "x-kde-passwordManagerHint", False);
    x->wm_pid = XInternAtom(x->dpy, "_NET_WM_PID", False);
    x->active = XInternAtom(x->dpy, "_NET_ACTIVE_WINDOW", False);
    x->client_leader = XInternAtom(x->dpy, "WM_CLIENT_LEADER", False);
    x->client_machine = XInternAtom(x->dpy, "WM_CLIENT_MACHINE", False);
    /* owner changes, and the owner going away (which also ends a transfer in progress) */
    unsigned long mask = XFixesSetSelectionOwnerNotifyMask | XFixesSelectionWindowDestroyNotifyMask |
                         XFixesSelectionClientCloseNotifyMask;
    XFixesSelectSelectionInput(x->dpy, x->win, x->clipboard, mask);
    if (x->p.primary) XFixesSelectSelectionInput(x->dpy, x->win, x->primary, mask);
    XFlush(x->dpy);
    if (x->dead) {
        capture_x11_close(x);
        return cs_err_set(err, "the X connection broke while setting up");
    }
    *out = x;
    return 0;
}

void capture_x11_close(capture_x11 *x) {
    if (!x) return;
    if (x->dpy) {
        if (!x->dead) XDestroyWindow(x->dpy, x->win);
        XCloseDisplay(x->dpy);
    }
    free(x);
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int is_owner_event(capture_x11 *x, XEvent *e) { return e->type == x->xfixes_event + XFixesSelectionNotify; }

typedef struct {
    capture_x11 *x;
    Atom sel;
} sel_key;
static Bool is_owner_event_of(Display *d, XEvent *e, XPointer a) {
    (void)d;
    sel_key *k = (sel_key *)a;
    return is_owner_event(k->x, e) && ((XFixesSelectionNotifyEvent *)e)->selection == k->sel;
}

/* Is a newer owner event for sel already queued? It stays queued for the run loop. */
static int superseded(capture_x11 *x, Atom sel) {
    sel_key k = {x, sel};
    XEvent ev;
    if (!XCheckIfEvent(x->dpy, &ev, is_owner_event_of, (XPointer)&k)) return 0;
    XPutBackEvent(x->dpy, &ev);
    return 1;
}

enum { WAIT_OK = 1, WAIT_TIMEOUT = 0, WAIT_SUPERSEDED = -1, WAIT_STOP = -2, WAIT_DEAD = -3 };

/* Waits for an event matching pred, until deadline. Gives up early when the selection being read
 * changes owner, when *stop is set, or when the connection dies. */
static int wait_event(capture_x11 *x, Bool (*pred)(Display *, XEvent *, XPointer), XPointer arg, XEvent *ev,
                      int64_t deadline) {
    for (;;) {
        if (x->dead) return WAIT_DEAD;
        if (XCheckIfEvent(x->dpy, ev, pred, arg)) return WAIT_OK;
        if (x->busy_sel != None && superseded(x, x->busy_sel)) return WAIT_SUPERSEDED;
        if (x->stop && atomic_load(x->stop)) return WAIT_STOP;
        int64_t left = deadline - now_ms();
        if (left <= 0) return WAIT_TIMEOUT;
        struct pollfd pfd = {ConnectionNumber(x->dpy), POLLIN, 0};
        int r = poll(&pfd, 1, (int)(left > 100 ? 100 : left));
        if (r < 0 && errno != EINTR) return WAIT_DEAD;
        if (r > 0 && XEventsQueued(x->dpy, QueuedAfterReading) == 0) {
            /* readable but nothing to read: the server closed the connection */
            char probe;
            if (recv(ConnectionNumber(x->dpy), &probe, 1, MSG_PEEK | MSG_DONTWAIT) == 0) x->dead = 1;
        }
    }
}

static const char *wait_reason(int w) {
    return w == WAIT_SUPERSEDED ? "a newer clip replaced it while it was read"
           : w == WAIT_STOP     ? "capture is stopping"
           : w == WAIT_DEAD     ? "the X connection was lost"
                                : "timed out";
}

typedef struct {
    Window w;
    Atom prop, target;
} req_key;
/* The answer to the current request: our property, or a refusal (None) of the same target. */
static Bool is_selnotify(Display *d, XEvent *e, XPointer a) {
    (void)d;
    req_key *k = (req_key *)a;
    return e->type == SelectionNotify && e->xselection.requestor == k->w &&
           (e->xselection.property == k->prop || (e->xselection.property == None && e->xselection.target == k->target));
}

typedef struct {
    Window w;
    Atom prop;
} prop_key;
static Bool is_newvalue(Display *d, XEvent *e, XPointer a) {
    (void)d;
    prop_key *k = (prop_key *)a;
    return e->type == PropertyNotify && e->xproperty.window == k->w && e->xproperty.atom == k->prop &&
           e->xproperty.state == PropertyNewValue;
}

/* Byte size of nitems items of a property format, as Xlib returns them (format 32 = long). */
static size_t item_bytes(int format) { return format == 8 ? 1 : format == 16 ? sizeof(short) : sizeof(long); }

/* Asks the owner of sel for target; reads the reply (INCR too) into *data (malloc'd, NUL added).
 * The whole transfer shares one deadline: timeout_ms, plus time in proportion to bytes received.
 * Returns 0 ok, 1 refused (no such target), -1 timeout, abandoned or too large (reason in err). */
static int get_selection(capture_x11 *x, Atom sel, Atom target, size_t cap, unsigned char **data, size_t *len,
                         Atom *type, int *format, cs_err *err) {
    *data = NULL;
    *len = 0;
    x->busy_sel = sel;
    x->prop = x->props[x->seq++ % 8];
    XDeleteProperty(x->dpy, x->win, x->prop);
    XConvertSelection(x->dpy, sel, target, x->prop, x->win, CurrentTime);
    XFlush(x->dpy);
    XEvent ev;
    int64_t start = now_ms();
    req_key rk = {x->win, x->prop, target};
    int w = wait_event(x, is_selnotify, (XPointer)&rk, &ev, start + x->p.timeout_ms);
    if (w == WAIT_TIMEOUT) return cs_err_set(err, "the clipboard owner did not answer within %d ms", x->p.timeout_ms);
    if (w != WAIT_OK) return cs_err_set(err, "%s", wait_reason(w));
    if (ev.xselection.property == None) return 1;
    unsigned long nitems, after;
    unsigned char *buf = NULL;
    if (XGetWindowProperty(x->dpy, x->win, x->prop, 0, 0x1fffffff, True, AnyPropertyType, type, format, &nitems, &after,
                           &buf) != Success)
        return 1;
    if (*type != x->incr) {
        size_t n = nitems * item_bytes(*format);
        if (n > cap) {
            XFree(buf);
            return cs_err_set(err, "clip of %zu bytes is over the cap", n);
        }
        *data = malloc(n + 1);
        if (!*data) {
            XFree(buf);
            return cs_errc(err, CS_ENOMEM, "out of memory");
        }
        if (n) memcpy(*data, buf, n);
        (*data)[n] = 0;
        *len = n;
        if (buf) XFree(buf);
        return 0;
    }
    /* INCR: the property was deleted by our read, which tells the owner to send the first chunk */
    if (buf) XFree(buf);
    XFlush(x->dpy);
    size_t sz = 0, cap_alloc = 1 << 16;
    unsigned char *acc = malloc(cap_alloc);
    if (!acc) return cs_errc(err, CS_ENOMEM, "out of memory");
    prop_key k = {x->win, x->prop};
    for (;;) {
        int64_t deadline = start + x->p.timeout_ms + (int64_t)(sz / RATE_BYTES_PER_MS);
        w = wait_event(x, is_newvalue, (XPointer)&k, &ev, deadline);
        if (w != WAIT_OK) {
            free(acc);
            if (w == WAIT_TIMEOUT)
                return cs_err_set(err, "an incremental transfer did not finish in time (%zu bytes in %lld ms)", sz,
                                  (long long)(now_ms() - start));
            return cs_err_set(err, "an incremental transfer was abandoned: %s", wait_reason(w));
        }
        if (XGetWindowProperty(x->dpy, x->win, x->prop, 0, 0x1fffffff, True, AnyPropertyType, type, format, &nitems,
                               &after, &buf) != Success) {
            free(acc);
            return 1;
        }
        XFlush(x->dpy);
        /* a stale notification (the INCR marker's own, or our delete's) finds no property: the
         * end of the transfer is a zero-length property that exists, with the data's type */
        if (*type == None) {
            if (buf) XFree(buf);
            continue;
        }
        size_t n = nitems * item_bytes(*format);
        if (n == 0) {
            if (buf) XFree(buf);
            break;
        }
        if (sz + n > cap) {
            XFree(buf);
            free(acc);
            /* keep draining would cost time; abandoning is allowed by the protocol */
            return cs_err_set(err, "clip over %zu bytes is over the cap", cap);
        }
        if (sz + n + 1 > cap_alloc) {
            while (sz + n + 1 > cap_alloc) cap_alloc *= 2;
            unsigned char *na = realloc(acc, cap_alloc);
            if (!na) {
                XFree(buf);
                free(acc);
                return cs_errc(err, CS_ENOMEM, "out of memory");
            }
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

/* One 32-bit property value (a window or a PID) of w, or 0. */
static unsigned long prop_card(capture_x11 *x, Window w, Atom prop, Atom type) {
    Atom t;
    int f;
    unsigned long n, after, v = 0;
    unsigned char *buf = NULL;
    if (XGetWindowProperty(x->dpy, w, prop, 0, 1, False, type, &t, &f, &n, &after, &buf) == Success && buf && n == 1 &&
        f == 32)
        v = *(unsigned long *)buf; /* format 32 arrives as long */
    if (buf) XFree(buf);
    return v;
}

static char *class_of(capture_x11 *x, Window w) {
    XClassHint ch;
    if (!w || !XGetClassHint(x->dpy, w, &ch)) return NULL;
    char *r = NULL;
    const char *s = ch.res_class && *ch.res_class ? ch.res_class : ch.res_name;
    if (s && *s) r = strdup(s);
    if (ch.res_name) XFree(ch.res_name);
    if (ch.res_class) XFree(ch.res_class);
    return r;
}

/* The program name of a PID that a window names, if the window's client runs on this machine
 * (a PID from another host means nothing here). */
static char *program_of(capture_x11 *x, Window w) {
    unsigned long pid = w ? prop_card(x, w, x->wm_pid, XA_CARDINAL) : 0;
    if (!pid) return NULL;
    XTextProperty tp;
    if (XGetTextProperty(x->dpy, w, &tp, x->client_machine) && tp.value) {
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        int here = tp.format == 8 && tp.nitems < sizeof host && !strncmp((char *)tp.value, host, tp.nitems) &&
                   host[tp.nitems] == 0;
        XFree(tp.value);
        if (!here) return NULL;
    }
    char path[64], name[64] = "";
    snprintf(path, sizeof path, "/proc/%lu/comm", pid);
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    int ok = fgets(name, sizeof name, f) != NULL;
    fclose(f);
    name[strcspn(name, "\n")] = 0;
    return ok && *name ? strdup(name) : NULL;
}

/* The application that owns sel, in order of reliability:
 *   1. WM_CLASS of the owner window or its nearest ancestor (Qt, xterm, Electron, most toolkits);
 *   2. WM_CLASS of the owner's client leader (WM_CLIENT_LEADER) or window group (WM_HINTS);
 *   3. the program whose PID the owner, its leader or its group names in _NET_WM_PID (GTK's
 *      clipboard owner is an unmapped window without WM_CLASS; GDK puts _NET_WM_PID on its leader);
 *   4. WM_CLASS of the window that is active now (_NET_ACTIVE_WINDOW): a guess, since the user may
 *      have switched windows between copying and our read. docs/capture.md says how reliable each is. */
static char *owner_name(capture_x11 *x, Window owner) {
    Window w = owner;
    for (int depth = 0; w && w != DefaultRootWindow(x->dpy) && depth < 8; depth++) {
        char *r = class_of(x, w);
        if (r) return r;
        Window root, parent, *kids = NULL;
        unsigned int nk;
        if (!XQueryTree(x->dpy, w, &root, &parent, &kids, &nk)) break;
        if (kids) XFree(kids);
        w = parent;
    }
    Window leader = (Window)prop_card(x, owner, x->client_leader, XA_WINDOW), group = 0;
    XWMHints *h = XGetWMHints(x->dpy, owner);
    if (h) {
        if (h->flags & WindowGroupHint) group = h->window_group;
        XFree(h);
    }
    char *r = class_of(x, leader);
    if (!r) r = class_of(x, group);
    if (!r) r = program_of(x, owner);
    if (!r) r = program_of(x, leader);
    if (!r) r = program_of(x, group);
    if (!r) r = class_of(x, (Window)prop_card(x, DefaultRootWindow(x->dpy), x->active, XA_WINDOW));
    return r;
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
    int tr = get_selection(x, sel, x->targets, 64 << 10, &tl, &tlen, &type, &format, &e);
    if (tr != 0) {
        logf_(log, arg, "clip skipped: %s", tr < 0 ? e.msg : "the owner offers no TARGETS");
        return;
    }
    if (format != 32) {
        free(tl);
        logf_(log, arg, "clip skipped: %s", "bad TARGETS reply");
        return;
    }
    long *atoms = (long *)tl;
    size_t n = tlen / sizeof(long);
    /* the offered names, newline-separated, for capture_pick_type and the store */
    size_t cap = 4096, ol = 0;
    char *offered = malloc(cap);
    if (!offered) {
        free(tl);
        logf_(log, arg, "clip skipped: %s", "out of memory");
        return;
    }
    offered[0] = 0;
    for (size_t i = 0; i < n && i < 512; i++) {
        char *name = atoms[i] ? XGetAtomName(x->dpy, (Atom)atoms[i]) : NULL;
        if (!name) continue;
        size_t l = strlen(name);
        if (ol + l + 2 > cap) {
            char *no = realloc(offered, cap = (ol + l + 2) * 2);
            if (!no) {
                XFree(name);
                break;
            }
            offered = no;
        }
        ol += (size_t)snprintf(offered + ol, cap - ol, "%s%s", ol ? "\n" : "", name);
        XFree(name);
    }
    free(tl);
    if (capture_offers_secret_hint(offered)) {
        /* a password manager marks secrets; read only the hint, never the data. An owner that
         * advertises the hint but will not hand it over is taken at its word: secret. */
        unsigned char *h = NULL;
        size_t hl = 0;
        int r = get_selection(x, sel, x->hint, 4096, &h, &hl, &type, &format, &e);
        int secret = capture_hint_is_secret(r == 0 ? h : NULL, hl);
        free(h);
        if (secret) {
            free(offered);
            logf_(log, arg, "clip skipped: %s",
                  r == 0 ? "marked secret by its owner"
                         : "its owner advertises a password-manager hint but did not hand it over (treated as secret)");
            return;
        }
    }
    const char *pick = capture_pick_type(offered);
    if (!pick) {
        free(offered);
        logf_(log, arg, "clip skipped: %s", "no text or image type offered");
        return;
    }
    Atom want = XInternAtom(x->dpy, pick, False);
    size_t dcap = x->p.caps.max_image > x->p.caps.max_text ? x->p.caps.max_image : x->p.caps.max_text;
    unsigned char *d;
    size_t len;
    int r = get_selection(x, sel, want, dcap, &d, &len, &type, &format, &e);
    if (r != 0) {
        free(offered);
        logf_(log, arg, "clip skipped: %s", r < 0 ? e.msg : "the owner refused the conversion");
        return;
    }
    char *src = owner_name(x, owner);
    capture_clip clip = {d, len, pick, offered, src};
    fn(&clip, arg);
    free(src);
    free(d);
    free(offered);
}

/* Waits until the selection has been quiet for debounce_ms and, for PRIMARY, until the mouse
 * buttons and Shift are up (the user is still dragging out a selection), the way CopyQ waits for
 * the button release and clipmenu skips a PRIMARY that is still growing. Bounded: after 10 s the
 * latest selection is taken anyway. Returns 0 to go ahead, 1 when a newer owner event is queued
 * (the caller handles that one instead). */
static int settle(capture_x11 *x, Atom sel) {
    if (sel != x->primary || x->p.debounce_ms == 0) return superseded(x, sel);
    int64_t quiet_until = now_ms() + x->p.debounce_ms, give_up = now_ms() + 10000;
    for (;;) {
        if (superseded(x, sel)) return 1;
        if (x->dead || (x->stop && atomic_load(x->stop))) return 1;
        int64_t now = now_ms();
        if (now >= give_up) return 0;
        if (now >= quiet_until) {
            Window rw, cw;
            int rx, ry, wx, wy;
            unsigned int mask = 0;
            XQueryPointer(x->dpy, DefaultRootWindow(x->dpy), &rw, &cw, &rx, &ry, &wx, &wy, &mask);
            if (!(mask & (Button1Mask | Button2Mask | Button3Mask | ShiftMask))) return 0;
        }
        struct pollfd pfd = {ConnectionNumber(x->dpy), POLLIN, 0};
        if (poll(&pfd, 1, 50) > 0) XEventsQueued(x->dpy, QueuedAfterReading);
    }
}

int capture_x11_run(capture_x11 *x, capture_fn fn, void *arg, void (*log)(const char *, void *), atomic_int *stop,
                    cs_err *err) {
    x->stop = stop;
    /* what is on the clipboard at start is a clip too */
    handle_change(x, x->clipboard, fn, arg, log);
    x->busy_sel = None;
    while (!atomic_load(stop)) {
        if (x->dead) return cs_err_set(err, "the X connection was lost (the X server stopped or restarted)");
        if (!XPending(x->dpy)) {
            struct pollfd pfd = {ConnectionNumber(x->dpy), POLLIN, 0};
            int r = poll(&pfd, 1, 200);
            if (r < 0 && errno != EINTR) return cs_err_set(err, "X connection: %s", strerror(errno));
            if (r > 0 && (pfd.revents & (POLLHUP | POLLERR))) x->dead = 1;
            if (r <= 0) continue;
            if (XEventsQueued(x->dpy, QueuedAfterReading) == 0) {
                /* readable but no event: the server went away */
                char probe;
                if (recv(ConnectionNumber(x->dpy), &probe, 1, MSG_PEEK | MSG_DONTWAIT) == 0) x->dead = 1;
                continue;
            }
        }
        while (!x->dead && XPending(x->dpy) && !atomic_load(stop)) {
            XEvent ev;
            XNextEvent(x->dpy, &ev);
            if (!is_owner_event(x, &ev)) continue;
            XFixesSelectionNotifyEvent *se = (XFixesSelectionNotifyEvent *)&ev;
            /* a burst of changes (a program setting the selection repeatedly, xterm's growing word
             * selection) is read once, at its latest state */
            if (se->subtype != XFixesSetSelectionOwnerNotify || se->owner == None || se->owner == x->win) continue;
            if (settle(x, se->selection)) continue;
            handle_change(x, se->selection, fn, arg, log);
            x->busy_sel = None;
        }
    }
    return 0;
}
