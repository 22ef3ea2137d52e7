/* wl_watch: see wl_watch.h. */
#include "wl_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/cs_log.h"
#include "../common/cs_proc.h"
#include "wayland.h"

/* Logs each complete line of the child's stderr; keeps the last one. Returns 0 at end of file. */
static int drain_lines(int fd, char *acc, size_t *accn, size_t cap, char *last, size_t lastn) {
    ssize_t k = read(fd, acc + *accn, cap - 1 - *accn);
    if (k <= 0) return k < 0 && (errno == EAGAIN || errno == EINTR) ? 1 : 0;
    *accn += (size_t)k;
    char *start = acc, *nl;
    while ((nl = memchr(start, '\n', (size_t)(acc + *accn - start)))) {
        *nl = 0;
        if (*start) {
            cs_log(CS_LOG_INFO, "%s", start);
            snprintf(last, lastn, "%s", start);
        }
        start = nl + 1;
    }
    size_t rest = (size_t)(acc + *accn - start);
    if (rest == cap - 1) rest = 0; /* an endless line: drop it */
    memmove(acc, start, rest);
    *accn = rest;
    return 1;
}

/* Watches the child until it exits or *stop is set (then ends it); logs what it says. Returns
 * its wait status; last gets its last line. */
static int watch_child(pid_t pid, int efd, atomic_int *stop, char *last, size_t lastn) {
    char acc[4096];
    size_t accn = 0;
    int st = 0, open_fd = 1;
    pid_t w = 0;
    while (!atomic_load(stop)) {
        struct pollfd pf = {efd, POLLIN, 0};
        if (open_fd && poll(&pf, 1, 200) > 0)
            open_fd = drain_lines(efd, acc, &accn, sizeof acc, last, lastn);
        else if (!open_fd)
            usleep(200000);
        if ((w = waitpid(pid, &st, WNOHANG)) == pid) break;
    }
    if (w != pid) { /* stopping: end our own child */
        kill(pid, SIGTERM);
        waitpid(pid, &st, 0);
    }
    /* what it said last, if it is still in the pipe */
    fcntl(efd, F_SETFL, O_NONBLOCK);
    while (open_fd && drain_lines(efd, acc, &accn, sizeof acc, last, lastn) && accn < sizeof acc - 1) {
        struct pollfd pf = {efd, POLLIN, 0};
        if (poll(&pf, 1, 0) <= 0) break;
    }
    return st;
}

/* One run of wl-paste --watch, from start to exit. Returns 1 if it ran a good while (so the
 * next failure is a fresh one). */
static int run_once(const wl_watch_params *p, atomic_int *stop, int backoff) {
    char msg[1024];
    int efd = -1;
    char *argv[] = {"wl-paste", "--watch", (char *)p->self_exe, "--data-dir", (char *)p->data_dir, "wl-event", NULL};
    pid_t pid = cs_proc_spawn_stderr_pipe(argv, &efd);
    if (pid < 0) {
        snprintf(msg, sizeof msg, "cannot start wl-paste: %s", strerror(errno));
        p->report(p->arg, NULL, msg, 0);
        return 0;
    }
    p->report(p->arg, "wayland", NULL, 0);
    cs_log(CS_LOG_INFO, "capturing through wl-paste --watch (pid %ld)", (long)pid);
    time_t started = time(NULL);
    char last[1024] = "";
    int st = watch_child(pid, efd, stop, last, sizeof last);
    close(efd);
    if (atomic_load(stop)) return 0;
    int fresh = time(NULL) - started > 60;
    if (fresh) backoff = 1;
    if (WIFEXITED(st))
        snprintf(msg, sizeof msg, "wl-paste --watch exited with status %d%s%.900s; restarting in %d s", WEXITSTATUS(st),
                 last[0] ? ": " : "", last, backoff);
    else
        snprintf(msg, sizeof msg, "wl-paste --watch was killed by signal %d%s%.900s; restarting in %d s", WTERMSIG(st),
                 last[0] ? " (last said: " : "", last, backoff);
    if (!WIFEXITED(st) && last[0]) strncat(msg, ")", sizeof msg - strlen(msg) - 1);
    p->report(p->arg, "failed", msg, 1);
    return fresh;
}

int wl_watch_run(const wl_watch_params *p, atomic_int *stop) {
    int backoff = 1;
    while (!atomic_load(stop)) {
        wayland_info wi;
        cs_err e;
        if (wayland_probe(&wi, &e) == 0 && !wi.data_control) {
            if (p->allow_x11 && getenv("DISPLAY")) {
                cs_log(CS_LOG_INFO,
                       "this compositor has no data-control protocol: capturing through XWayland (DISPLAY=%s) instead",
                       getenv("DISPLAY"));
                return 1;
            }
            p->report(p->arg, "failed",
                      "this compositor has no data-control protocol (GNOME/Mutter and weston have none), so "
                      "wl-paste --watch cannot capture; use XWayland capture: start the daemon with DISPLAY set",
                      0);
        } else if (run_once(p, stop, backoff))
            backoff = 1;
        for (int i = 0; i < backoff * 10 && !atomic_load(stop); i++) usleep(100000);
        backoff = backoff * 2 > 60 ? 60 : backoff * 2;
    }
    return 0;
}
