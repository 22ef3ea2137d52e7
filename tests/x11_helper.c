/* x11_helper: clipboard owners and test images for tests/x11_test.sh.
 *   x11_helper png OUT W H SEED          write a W x H PNG of pseudo-random pixels
 *   x11_helper own-secret TEXT LOG SECS  own CLIPBOARD offering UTF8_STRING and
 *                                        x-kde-passwordManagerHint=secret; log each target asked for
 *   x11_helper own-hint-refused TEXT LOG SECS  like own-secret, but refuses to convert the hint
 *   x11_helper own-silent SECS           own CLIPBOARD and never answer a request
 *   x11_helper own-trickle SECS          offer UTF8_STRING, answer it with INCR and then send 8
 *                                        bytes every 1.5 s, never the final empty chunk
 *   x11_helper own-endless-targets SECS  answer TARGETS the same way (an endless INCR of atoms)
 * The owners print "owning" once they own the selection, "trickling" when an endless transfer
 * starts and "chunk" for each chunk sent, and exit after SECS or on losing the selection (the
 * endless ones keep sending after losing it). */
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <png.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int write_png(const char *out, int w, int h, unsigned seed) {
    FILE *f = fopen(out, "wb");
    if (!f) return 1;
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop i = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) return 1;
    png_init_io(p, f);
    png_set_IHDR(p, i, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, i);
    unsigned char *row = malloc((size_t)w * 3);
    unsigned x = seed * 2654435761u + 1;
    for (int y = 0; y < h; y++) {
        for (int k = 0; k < w * 3; k++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; row[k] = (unsigned char)x; }
        png_write_row(p, row);
    }
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &i);
    free(row);
    return fclose(f) != 0;
}

enum { OWN_SECRET, OWN_SILENT, OWN_HINT_REFUSED, OWN_TRICKLE, OWN_ENDLESS_TARGETS };

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* An INCR transfer in progress, owner side (ICCCM 2.7.2): after the requestor deletes the
 * property, write the next chunk there. A trickling owner waits TRICKLE_MS before each chunk and
 * never sends the final empty one. */
#define TRICKLE_MS 1500
typedef struct { Window req; Atom prop, type; int format, active, deleted; long long next_at; } incr_state;

static int own(const char *text, const char *logpath, int secs, int mode) {
    Display *d = XOpenDisplay(NULL);
    if (!d) { fprintf(stderr, "no display\n"); return 1; }
    Window w = XCreateSimpleWindow(d, DefaultRootWindow(d), 0, 0, 1, 1, 0, 0, 0);
    Atom clip = XInternAtom(d, "CLIPBOARD", False), targets = XInternAtom(d, "TARGETS", False),
         utf8 = XInternAtom(d, "UTF8_STRING", False), hint = XInternAtom(d, "x-kde-passwordManagerHint", False),
         incr = XInternAtom(d, "INCR", False);
    XSetSelectionOwner(d, clip, w, CurrentTime);
    XSync(d, False);
    if (XGetSelectionOwner(d, clip) != w) { fprintf(stderr, "could not own CLIPBOARD\n"); return 1; }
    printf("owning\n");
    fflush(stdout);
    FILE *log = logpath ? fopen(logpath, "w") : NULL;
    incr_state is = {0};
    long long end = now_ms() + secs * 1000LL;
    while (now_ms() < end) {
        if (is.active && is.deleted && now_ms() >= is.next_at) {
            /* the next few bytes of a transfer that never ends */
            if (is.type == XA_ATOM) {
                Atom a[2] = {utf8, utf8};
                XChangeProperty(d, is.req, is.prop, XA_ATOM, 32, PropModeReplace, (unsigned char *)a, 2);
            } else
                XChangeProperty(d, is.req, is.prop, is.type, 8, PropModeReplace, (const unsigned char *)"trickle.", 8);
            XFlush(d);
            is.deleted = 0;
            printf("chunk\n");
            fflush(stdout);
        }
        if (!XPending(d)) {
            struct pollfd pfd = {ConnectionNumber(d), POLLIN, 0};
            poll(&pfd, 1, 50);
            continue;
        }
        XEvent ev;
        XNextEvent(d, &ev);
        /* losing the selection ends the owner, except in the middle of an endless transfer: a slow
         * owner finishes what it started (ICCCM lets it), so the requestor must give up itself */
        if (ev.type == SelectionClear && !is.active) break;
        if (ev.type == PropertyNotify && is.active && ev.xproperty.window == is.req && ev.xproperty.atom == is.prop &&
            ev.xproperty.state == PropertyDelete) {
            is.deleted = 1;
            is.next_at = now_ms() + TRICKLE_MS;
            continue;
        }
        if (ev.type != SelectionRequest || mode == OWN_SILENT) continue;
        XSelectionRequestEvent *r = &ev.xselectionrequest;
        char *name = XGetAtomName(d, r->target);
        if (log) { fprintf(log, "%s\n", name ? name : "?"); fflush(log); }
        if (name) XFree(name);
        XSelectionEvent re = {SelectionNotify, 0, True, d, r->requestor, r->selection, r->target, r->property, r->time};
        int start_incr = (mode == OWN_ENDLESS_TARGETS && r->target == targets) || (mode == OWN_TRICKLE && r->target == utf8);
        if (start_incr && !is.active) {
            /* answer with INCR (a lower bound of the size), then trickle */
            long size = 1 << 20;
            XSelectInput(d, r->requestor, PropertyChangeMask);
            XChangeProperty(d, r->requestor, r->property, incr, 32, PropModeReplace, (unsigned char *)&size, 1);
            is = (incr_state){r->requestor, r->property, r->target == targets ? XA_ATOM : utf8, 8, 1, 0, 0};
            printf("trickling\n");
            fflush(stdout);
        } else if (start_incr) {
            re.property = None; /* one endless transfer at a time is enough */
        } else if (r->target == targets) {
            Atom list[3] = {targets, utf8, hint};
            XChangeProperty(d, r->requestor, r->property, XA_ATOM, 32, PropModeReplace, (unsigned char *)list,
                            mode == OWN_SECRET || mode == OWN_HINT_REFUSED ? 3 : 2);
        } else if (r->target == hint && mode == OWN_SECRET) {
            XChangeProperty(d, r->requestor, r->property, XA_STRING, 8, PropModeReplace, (const unsigned char *)"secret", 6);
        } else if (r->target == utf8) {
            XChangeProperty(d, r->requestor, r->property, utf8, 8, PropModeReplace, (const unsigned char *)text, (int)strlen(text));
        } else
            re.property = None; /* including the hint, for OWN_HINT_REFUSED */
        XSendEvent(d, r->requestor, False, 0, (XEvent *)&re);
        XFlush(d);
    }
    if (log) fclose(log);
    XCloseDisplay(d);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 6 && !strcmp(argv[1], "png")) return write_png(argv[2], atoi(argv[3]), atoi(argv[4]), (unsigned)atoi(argv[5]));
    if (argc == 5 && !strcmp(argv[1], "own-secret")) return own(argv[2], argv[3], atoi(argv[4]), OWN_SECRET);
    if (argc == 5 && !strcmp(argv[1], "own-hint-refused")) return own(argv[2], argv[3], atoi(argv[4]), OWN_HINT_REFUSED);
    if (argc == 3 && !strcmp(argv[1], "own-silent")) return own("", NULL, atoi(argv[2]), OWN_SILENT);
    if (argc == 3 && !strcmp(argv[1], "own-trickle")) return own("", NULL, atoi(argv[2]), OWN_TRICKLE);
    if (argc == 3 && !strcmp(argv[1], "own-endless-targets")) return own("", NULL, atoi(argv[2]), OWN_ENDLESS_TARGETS);
    fprintf(stderr, "usage: see the top of tests/x11_helper.c\n");
    return 2;
}
