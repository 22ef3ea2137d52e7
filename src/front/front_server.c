/* front_server: the engine server (front_server.h); the wire format is front_proto.h. */
#include "front_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front_proto.h"

/* One request read off a connection: the front's descriptors, umask, argv and environment. */
typedef struct request {
    int fds[FRONT_NFDS];
    int nfds;
    uint32_t umask, argc, envc;
    char *buf;   /* the strings */
    char **argv; /* argc + 1 (NULL) pointers into buf, then envc */
} request;

static void request_free(request *r) {
    for (int i = 0; i < r->nfds; i++) close(r->fds[i]);
    r->nfds = 0;
    free(r->buf);
    free(r->argv);
    r->buf = NULL;
    r->argv = NULL;
}

static int read_all(int fd, void *p, size_t n) {
    for (size_t got = 0; got < n;) {
        ssize_t k = read(fd, (char *)p + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        got += (size_t)k;
    }
    return 0;
}

/* Reads and checks one request; -1 on anything malformed (the connection is then closed: the
 * front runs the engine itself). */
static int read_request(int conn, request *r) {
    memset(r, 0, sizeof *r);
    front_hello h;
    char cbuf[CMSG_SPACE(sizeof(int) * FRONT_NFDS)];
    struct iovec iov = {&h, sizeof h};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    ssize_t k;
    do k = recvmsg(conn, &m, MSG_CMSG_CLOEXEC | MSG_WAITALL);
    while (k < 0 && errno == EINTR);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        r->nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        if (r->nfds > FRONT_NFDS) r->nfds = FRONT_NFDS; /* cannot happen: the buffer holds 4 */
        memcpy(r->fds, CMSG_DATA(c), sizeof(int) * (size_t)r->nfds);
    }
    if (k != (ssize_t)sizeof h || (m.msg_flags & MSG_CTRUNC) || r->nfds != FRONT_NFDS || h.magic != FRONT_MAGIC ||
        h.len < 3 * sizeof(uint32_t) || h.len > FRONT_MAX_LEN)
        return -1;
    uint32_t head[3];
    if (read_all(conn, head, sizeof head)) return -1;
    r->umask = head[0];
    r->argc = head[1];
    r->envc = head[2];
    size_t n = h.len - sizeof head;
    if (r->argc < 2 || r->argc > FRONT_MAX_STRINGS || r->envc > FRONT_MAX_STRINGS || !(r->buf = malloc(n + 1)) ||
        read_all(conn, r->buf, n))
        return -1;
    r->buf[n] = 0;
    size_t total = (size_t)r->argc + r->envc;
    if (!(r->argv = calloc(total + 1, sizeof *r->argv))) return -1;
    char *p = r->buf, *end = r->buf + n;
    for (size_t i = 0; i < total; i++) {
        if (p >= end) return -1; /* fewer strings than announced */
        size_t len = strnlen(p, (size_t)(end - p));
        if (p + len >= end) return -1; /* the last one is not terminated */
        /* argv ends with a NULL at [argc]: the environment follows one slot later */
        r->argv[i < r->argc ? i : i + 1] = p;
        p += len + 1;
    }
    if (p != end) return -1;
    return 0;
}

/* In the child: becomes the front's process (descriptors, directory, umask, environment) and
 * runs the command. Never returns. */
static void run_child(request *r, front_run_fn run) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    for (int i = 0; i < 3; i++)
        if (dup2(r->fds[i], i) < 0) _exit(127);
    if (fchdir(r->fds[3])) _exit(127);
    close_range(3, ~0U, 0); /* the server's socket, the other connections, the received fds */
    umask((mode_t)r->umask);
    clearenv();
    for (uint32_t i = 0; i < r->envc; i++) putenv(r->argv[r->argc + 1 + i]);
    int rc = run((int)r->argc, r->argv);
    /* stdio flushed, then _exit: exit() would also run every loaded library's destructors and
     * atexit handlers (OpenMP, BLIS, oneDNN, tesseract...), work the zygote's copy never needs;
     * the command has closed what it opened, and what the kernel closes needs no help */
    fflush(NULL);
    _exit(rc);
}

typedef struct conn {
    int fd;
    pid_t pid;
} conn;

static void send_int(int fd, int32_t v) {
    ssize_t k;
    do k = send(fd, &v, sizeof v, MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
}

/* Accepts one connection and starts its command; appends it to *cs. */
static void serve_one(int lfd, front_run_fn run, conn **cs, size_t *n) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return;
    struct timeval tv = {2, 0}; /* a front sends its request at once; a stuck one must not stall the rest */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    request r = {0};
    /* the socket is 0600 in a 0700 folder; this holds even if someone loosens them */
    struct ucred cred;
    socklen_t cl = sizeof cred;
    int foreign = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) || cred.uid != getuid();
    conn *grown = realloc(*cs, (*n + 1) * sizeof **cs);
    if (grown) *cs = grown;
    if (foreign || !grown || read_request(fd, &r)) {
        request_free(&r);
        close(fd);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) run_child(&r, run);
    request_free(&r);
    if (pid < 0) {
        close(fd);
        return;
    }
    send_int(fd, (int32_t)pid);
    (*cs)[(*n)++] = (conn){fd, pid};
}

/* Sends each finished child's wait status to its front. */
static void reap(conn *cs, size_t *n) {
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        for (size_t i = 0; i < *n; i++)
            if (cs[i].pid == pid) {
                send_int(cs[i].fd, (int32_t)st);
                close(cs[i].fd);
                cs[i] = cs[--*n];
                break;
            }
}

static void serve(int lfd, const char *path, pid_t parent, front_run_fn run) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(0); /* the daemon died before the line above */
    if (lfd != 3) {
        dup2(lfd, 3);
        lfd = 3;
    }
    close_range(4, ~0U, 0); /* nothing of the daemon's (its socket, files) stays open here */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) {
        unlink(path);
        _exit(1);
    }
    conn *cs = NULL;
    size_t n = 0;
    for (;;) {
        struct pollfd pf[2] = {{lfd, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(pf, 2, -1) < 0) continue;
        if (pf[1].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si && si.ssi_signo != SIGCHLD) break;
            reap(cs, &n);
        }
        if (pf[0].revents) serve_one(lfd, run, &cs, &n);
    }
    unlink(path);
    _exit(0);
}

pid_t front_server_start(const char *data_dir, front_run_fn run, cs_err *err) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", data_dir, FRONT_SOCKET) >= (int)sizeof a.sun_path)
        return cs_errc(err, CS_EINVAL, "%s/%s: path too long for a socket", data_dir, FRONT_SOCKET), -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return cs_err_sys(err, errno, "socket"), -1;
    unlink(a.sun_path); /* a dead server's file: the caller holds the daemon's socket */
    mode_t old = umask(0177);
    int bad = bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 64);
    umask(old);
    if (bad) {
        cs_errc(err, CS_EIO, "%s: %s", a.sun_path, strerror(errno));
        close(fd);
        return -1;
    }
    fflush(NULL); /* nothing buffered may be written twice */
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) serve(fd, a.sun_path, parent, run);
    close(fd);
    if (pid < 0) {
        unlink(a.sun_path);
        return cs_errc(err, CS_EIO, "fork: %s", strerror(errno)), -1;
    }
    return pid;
}

void front_server_stop(pid_t pid) {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
}
