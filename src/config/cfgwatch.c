/* cfgwatch: see cfgwatch.h. */
#include "cfgwatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

struct cfgwatch {
    int fd;
    char *name; /* the file's name within the watched folder */
};

int cfgwatch_open(const char *path, cfgwatch **out, cs_err *err) {
    *out = NULL;
    const char *slash = strrchr(path, '/');
    if (!slash || !slash[1]) return cs_errc(err, CS_EINVAL, "%s: not a file path", path);
    cfgwatch *w = calloc(1, sizeof *w);
    char *dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (!w || !dir || !(w->name = strdup(slash + 1))) {
        free(dir);
        if (w) free(w->name);
        free(w);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    /* one level, as the config folder's parent (~/.config) nearly always exists */
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        cs_err_sys(err, errno, "%s", dir);
        goto fail;
    }
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        cs_err_sys(err, errno, "inotify");
        goto fail;
    }
    if (inotify_add_watch(w->fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM) < 0) {
        cs_err_sys(err, errno, "%s: cannot watch", dir);
        close(w->fd);
        goto fail;
    }
    free(dir);
    *out = w;
    return 0;
fail:
    free(dir);
    free(w->name);
    free(w);
    return -1;
}

int cfgwatch_fd(const cfgwatch *w) { return w->fd; }

int cfgwatch_changed(cfgwatch *w) {
    /* aligned as the kernel's records are */
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int hit = 0;
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->len && !strcmp(ev->name, w->name)) hit = 1;
            if (ev->mask & IN_Q_OVERFLOW) hit = 1; /* events were lost: it may have changed */
            p += sizeof *ev + ev->len;
        }
    }
    return hit;
}

void cfgwatch_close(cfgwatch *w) {
    if (!w) return;
    close(w->fd);
    free(w->name);
    free(w);
}
