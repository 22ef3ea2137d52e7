/* x11_helper: clipboard owners and test images for tests/x11_test.sh.
 *   x11_helper png OUT W H SEED          write a W x H PNG of pseudo-random pixels
 *   x11_helper own-secret TEXT LOG SECS  own CLIPBOARD offering UTF8_STRING and
 *                                        x-kde-passwordManagerHint=secret; log each target asked for
 *   x11_helper own-silent SECS           own CLIPBOARD and never answer a request
 * The owners print "owning" once they own the selection, and exit after SECS or on losing it. */
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

static int own(const char *text, const char *logpath, int secs, int silent) {
    Display *d = XOpenDisplay(NULL);
    if (!d) { fprintf(stderr, "no display\n"); return 1; }
    Window w = XCreateSimpleWindow(d, DefaultRootWindow(d), 0, 0, 1, 1, 0, 0, 0);
    Atom clip = XInternAtom(d, "CLIPBOARD", False), targets = XInternAtom(d, "TARGETS", False),
         utf8 = XInternAtom(d, "UTF8_STRING", False), hint = XInternAtom(d, "x-kde-passwordManagerHint", False);
    XSetSelectionOwner(d, clip, w, CurrentTime);
    XSync(d, False);
    if (XGetSelectionOwner(d, clip) != w) { fprintf(stderr, "could not own CLIPBOARD\n"); return 1; }
    printf("owning\n");
    fflush(stdout);
    FILE *log = logpath ? fopen(logpath, "w") : NULL;
    time_t end = time(NULL) + secs;
    while (time(NULL) < end) {
        if (!XPending(d)) {
            struct pollfd pfd = {ConnectionNumber(d), POLLIN, 0};
            poll(&pfd, 1, 100);
            continue;
        }
        XEvent ev;
        XNextEvent(d, &ev);
        if (ev.type == SelectionClear) break;
        if (ev.type != SelectionRequest || silent) continue;
        XSelectionRequestEvent *r = &ev.xselectionrequest;
        char *name = XGetAtomName(d, r->target);
        if (log) { fprintf(log, "%s\n", name ? name : "?"); fflush(log); }
        if (name) XFree(name);
        XSelectionEvent re = {SelectionNotify, 0, True, d, r->requestor, r->selection, r->target, r->property, r->time};
        if (r->target == targets) {
            Atom list[3] = {targets, utf8, hint};
            XChangeProperty(d, r->requestor, r->property, XA_ATOM, 32, PropModeReplace, (unsigned char *)list, 3);
        } else if (r->target == hint) {
            XChangeProperty(d, r->requestor, r->property, XA_STRING, 8, PropModeReplace, (const unsigned char *)"secret", 6);
        } else if (r->target == utf8) {
            XChangeProperty(d, r->requestor, r->property, utf8, 8, PropModeReplace, (const unsigned char *)text, (int)strlen(text));
        } else
            re.property = None;
        XSendEvent(d, r->requestor, False, 0, (XEvent *)&re);
        XFlush(d);
    }
    if (log) fclose(log);
    XCloseDisplay(d);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 6 && !strcmp(argv[1], "png")) return write_png(argv[2], atoi(argv[3]), atoi(argv[4]), (unsigned)atoi(argv[5]));
    if (argc == 5 && !strcmp(argv[1], "own-secret")) return own(argv[2], argv[3], atoi(argv[4]), 0);
    if (argc == 3 && !strcmp(argv[1], "own-silent")) return own("", NULL, atoi(argv[2]), 1);
    fprintf(stderr, "usage: see the top of tests/x11_helper.c\n");
    return 2;
}
