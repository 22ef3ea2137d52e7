/* paste: see paste.h. */
#include "paste.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "x11own.h"

int paste_entry(store *s, const store_entry *e, cs_err *err) {
    unsigned char *d = NULL;
    size_t n = 0;
    if (store_content(s, e, &d, &n, err)) return -1;
    /* X11 clients ask plain text as UTF8_STRING; images by their MIME type */
    const char *type = e->text ? "text/plain;charset=utf-8" : e->mime;
    char *args[8];
    const char *prog = NULL; /* what to run, when it is not args[0] looked up in PATH */
    int k = 0;
    if (!getenv("WAYLAND_DISPLAY") && getenv("DISPLAY") && !strcmp(e->kind, "files")) {
        /* xclip offers one target; a file manager wants text/uri-list or GNOME's form, so our own
         * binary serves them all (x11own.h) */
        prog = "/proc/self/exe";
        args[k++] = "clipseek";
        args[k++] = "x11-own-files";
        args[k++] = (char *)(e->mime ? e->mime : "text/uri-list");
    } else if (getenv("WAYLAND_DISPLAY")) {
        if (!strcmp(e->kind, "files")) {
            /* wl-copy offers one type (and, for a text/ type, the plain-text names beside it), so a
             * files entry goes out as a text/uri-list (CRLF lines, RFC 2483), which file managers
             * on Wayland paste as files; GNOME's own form would need a second offer */
            x11own_item items[4];
            char *bufs = NULL;
            if (x11own_files_items(d, n, e->mime, items, &bufs, err) < 0) { free(d); return -1; }
            unsigned char *u = malloc(items[0].len);
            if (u) memcpy(u, items[0].data, items[0].len);
            n = items[0].len;
            free(bufs);
            free(d);
            d = u;
            if (!d) return cs_errc(err, CS_ENOMEM, "out of memory");
            type = "text/uri-list";
        }
        args[k++] = "wl-copy";
        args[k++] = "--type";
        args[k++] = (char *)type;
    } else if (getenv("DISPLAY")) {
        args[k++] = "xclip";
        args[k++] = "-selection";
        args[k++] = "clipboard";
        args[k++] = "-t";
        args[k++] = (char *)(!strcmp(e->kind, "text") ? "UTF8_STRING" : type);
        args[k++] = "-i";
    } else {
        free(d);
        return cs_err_set(err, "copy: no display (neither WAYLAND_DISPLAY nor DISPLAY is set)");
    }
    args[k] = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) { free(d); return cs_err_set(err, "pipe: %s", strerror(errno)); }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[0], 0);
        if (prog) execv(prog, args);
        else execvp(args[0], args);
        _exit(127);
    }
    close(fds[0]);
    /* a tool that dies early must not kill us with SIGPIPE (the daemon serves the web page) */
    struct sigaction ign = {0}, old;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old);
    size_t off = 0;
    while (pid > 0 && off < n) {
        ssize_t w = write(fds[1], d + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(fds[1]);
    sigaction(SIGPIPE, &old, NULL);
    free(d);
    if (pid < 0) return cs_err_set(err, "fork: %s", strerror(errno));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return cs_err_set(err, "copy: %s failed%s", args[0], WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (not installed?)" : "");
    if (off < n) return cs_err_set(err, "copy: %s did not take the whole clip", args[0]);
    return 0;
}
