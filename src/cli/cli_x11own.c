/* `clipseek x11-own-files MIME` (internal, run by `copy` through paste.c): reads a files entry's
 * content on stdin and serves it on the X11 CLIPBOARD as text/uri-list, GNOME's copied-files form
 * and text (x11own.h). Like xclip, it returns once it owns the selection and keeps serving from a
 * background child until another client takes it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../capture/x11own.h"
#include "cli.h"

static void tell_parent(void *arg) {
    int fd = *(int *)arg;
    (void)!write(fd, "1", 1);
    close(fd);
    /* nothing of the caller's pipes stays open: the caller waits for EOF on them */
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        close(nul);
    }
}

int cmd_x11_own_files(int argc, char **argv) {
    if (argc != 2) return cli_usage("x11-own-files MIME (internal: used by copy)");
    size_t cap = 1 << 16, n = 0;
    unsigned char *d = malloc(cap);
    for (;;) {
        if (!d) return cli_fail("out of memory");
        ssize_t r = read(0, d + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            free(d);
            return cli_fail("stdin: %s", strerror(errno));
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n == cap) {
            if (cap >= (16u << 20)) {
                free(d);
                return cli_fail("the files entry is over 16 MB");
            }
            unsigned char *nd = realloc(d, cap *= 2);
            if (!nd) free(d);
            d = nd;
        }
    }
    x11own_item items[4];
    char *bufs = NULL;
    cs_err e;
    int k = x11own_files_items(d, n, argv[1], items, &bufs, &e);
    if (k < 0) {
        free(d);
        return cli_fail_err(&e);
    }
    int p[2];
    if (pipe(p)) {
        free(bufs);
        free(d);
        return cli_fail("pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        free(bufs);
        free(d);
        return cli_fail("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        setsid();
        int rc = x11own_serve(NULL, items, k, tell_parent, &p[1], &e);
        if (rc) cli_fail_err(&e);
        free(bufs);
        free(d);
        _exit(rc ? CLI_FAIL : CLI_OK);
    }
    close(p[1]);
    char c;
    ssize_t r;
    while ((r = read(p[0], &c, 1)) < 0 && errno == EINTR) {}
    close(p[0]);
    free(bufs);
    free(d);
    /* the child printed why it could not own the selection */
    return r == 1 ? CLI_OK : CLI_FAIL;
}
