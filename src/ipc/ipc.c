/* ipc: see ipc.h. */
#include "ipc.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef struct conn conn;

struct ipc_server {
    int fd;
    struct sockaddr_un addr;
    /* the connections' threads, joinable: ipc_join waits for them so that nothing the handler
     * uses is freed under a connection still being answered; finished ones are reaped as new
     * ones come (conns is only touched by the serving thread and by ipc_join after it) */
    conn *conns;
};

static int sock_path(const char *data_dir, struct sockaddr_un *a) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path, sizeof a->sun_path, "%s/daemon.sock", data_dir);
    return n > 0 && (size_t)n < sizeof a->sun_path ? 0 : -1;
}

/* Reads up to the first newline (or n - 1 bytes, or end of file) into buf, NUL-terminated
 * without the newline. Returns the bytes read, or -1 if poll timed out or failed (buf then holds
 * what came before). */
static ssize_t read_line(int fd, char *buf, size_t n, int timeout_ms) {
    size_t got = 0;
    while (got + 1 < n) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms > 0 ? timeout_ms : -1) <= 0) {
            buf[got] = 0;
            return -1;
        }
        ssize_t k = read(fd, buf + got, n - 1 - got);
        if (k <= 0) break;
        got += (size_t)k;
        if (memchr(buf, '\n', got)) break;
    }
    buf[got] = 0;
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
    return (ssize_t)got;
}

/* Writes n bytes; -1 when the peer went away, or did not take them all within IPC_IO_TIMEOUT_MS
 * (each write may wait that long too, the socket's send timeout): a reader that takes a little
 * now and then must not hold the connection's thread, and so ipc_join, for long. */
static int write_all(int fd, const char *s, size_t n) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (n) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL); /* a peer that went away is an error, not a SIGPIPE */
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        s += k;
        n -= (size_t)k;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (n && (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > IPC_IO_TIMEOUT_MS) return -1;
    }
    return 0;
}

static int write_line(int fd, const char *s) { return write_all(fd, s, strlen(s)) || write_all(fd, "\n", 1) ? -1 : 0; }

int ipc_request(const char *data_dir, const char *req, char *buf, size_t n, int timeout_ms) {
    struct sockaddr_un a;
    if (sock_path(data_dir, &a)) return 1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return 1;
    }
    if (write_line(fd, req)) {
        close(fd);
        return -1;
    }
    ssize_t got = read_line(fd, buf, n, timeout_ms);
    close(fd);
    return got > 0 ? 0 : -1;
}

int ipc_listen(const char *data_dir, ipc_server **out, cs_err *err) {
    *out = NULL;
    char buf[64];
    if (ipc_request(data_dir, "PING", buf, sizeof buf, 2000) == 0)
        return cs_err_set(err, "a daemon is already running for %s (%s)", data_dir, buf);
    ipc_server *srv = calloc(1, sizeof *srv);
    if (!srv) return cs_errc(err, CS_ENOMEM, "out of memory");
    if (sock_path(data_dir, &srv->addr)) {
        free(srv);
        return cs_errc(err, CS_EINVAL, "%s: path too long for a socket", data_dir);
    }
    unlink(srv->addr.sun_path); /* stale: nobody answered */
    srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(0177); /* created 0600: the socket hands out search results and login codes */
    int b = srv->fd >= 0 ? bind(srv->fd, (struct sockaddr *)&srv->addr, sizeof srv->addr) : -1;
    umask(old);
    if (b != 0 || listen(srv->fd, 16) != 0) {
        int rc = cs_errc(err, CS_EIO, "%s: %s", srv->addr.sun_path, strerror(errno));
        if (srv->fd >= 0) close(srv->fd);
        free(srv);
        return rc;
    }
    chmod(srv->addr.sun_path, 0600);
    *out = srv;
    return 0;
}

const char *ipc_path(const ipc_server *srv) { return srv->addr.sun_path; }

struct conn {
    int fd;
    ipc_handler handler;
    void *arg;
    atomic_int *stop;
    pthread_t thread;
    atomic_int done; /* set by the thread as its last act: joining it then cannot wait long */
    conn *next;
};

static void *conn_thread(void *p) {
    conn *c = p;
    char line[65536];
    char *reply = NULL;
    size_t len = 0;
    int act = IPC_CONTINUE;
    read_line(c->fd, line, sizeof line, IPC_IO_TIMEOUT_MS); /* a slow client: what it sent in time is its request */
    act = c->handler(c->arg, line, &reply, &len);
    /* a client that went away is no error */
    if (reply && len)
        write_all(c->fd, reply, len);
    else
        write_line(c->fd, reply ? reply : "ERR out of memory");
    free(reply);
    close(c->fd);
    if (act == IPC_STOP) atomic_store(c->stop, 1);
    atomic_store(&c->done, 1);
    return NULL;
}

/* Joins and frees the connections whose thread has finished (all of them with all set, waiting
 * for those still running). */
static void reap(ipc_server *srv, int all) {
    for (conn **p = &srv->conns; *p;) {
        conn *c = *p;
        if (!all && !atomic_load(&c->done)) {
            p = &c->next;
            continue;
        }
        pthread_join(c->thread, NULL);
        *p = c->next;
        free(c);
    }
}

void ipc_serve(ipc_server *srv, ipc_handler handler, void *arg, atomic_int *stop) {
    while (!atomic_load(stop)) {
        struct pollfd pfd = {srv->fd, POLLIN, 0};
        if (poll(&pfd, 1, 200) <= 0) continue;
        int cfd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) continue;
        /* the socket is 0600 in a 0700 folder; this holds even if someone loosens them: its
         * answers hold the history's text (the front's CLI request) and login codes */
        struct ucred cred;
        socklen_t cl = sizeof cred;
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) || cred.uid != getuid()) {
            close(cfd);
            continue;
        }
        reap(srv, 0);
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(cfd);
            continue;
        }
        /* a client that stops reading cannot hold the reply's write (and so ipc_join) for long */
        struct timeval tv = {IPC_IO_TIMEOUT_MS / 1000, 0};
        setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        c->fd = cfd;
        c->handler = handler;
        c->arg = arg;
        c->stop = stop;
        if (pthread_create(&c->thread, NULL, conn_thread, c) != 0) {
            close(cfd);
            free(c);
            continue;
        }
        c->next = srv->conns;
        srv->conns = c;
    }
}

void ipc_join(ipc_server *srv) {
    if (srv) reap(srv, 1);
}

void ipc_close(ipc_server *srv) {
    if (!srv) return;
    ipc_join(srv);
    close(srv->fd);
    unlink(srv->addr.sun_path);
    free(srv);
}
