/* cs_file: see cs_file.h. */
#include "cs_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads from fd until EOF, at most max_bytes (a pipe, a terminal, /dev/stdin, <(...)): their size
 * is unknown until the end, so the bound is checked as the data arrives. */
static int read_fd_bounded(int fd, const char *path, size_t max_bytes, char **out, size_t *len, cs_err *err) {
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return cs_err_set(err, "%s: out of memory", path);
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) break;
            size_t nc = cap * 2;
            char *nb = realloc(buf, nc + 1);
            if (!nb) {
                free(buf);
                return cs_err_set(err, "%s: out of memory", path);
            }
            buf = nb;
            cap = nc;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            return cs_err_sys(err, e, "%s", path);
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    if (n > max_bytes) {
        free(buf);
        return cs_err_set(err, "%s: input too large (over the limit of %zu bytes)", path, max_bytes);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

/* What a file that is not a regular one is, for the message. */
static const char *file_type(mode_t m) {
    return S_ISFIFO(m)   ? "a FIFO"
           : S_ISDIR(m)  ? "a directory"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "a special file";
}

/* Opens path for reading. O_NONBLOCK: opening a FIFO (a config line such as `labels = <a FIFO>`)
 * would otherwise wait for a writer forever before fstat could tell; a regular file ignores the
 * flag. A regular file is always accepted; with allow_stream, so are pipes, FIFOs, terminals and
 * sockets (`-`, /dev/stdin, `<(...)` named on the command line), and O_NONBLOCK is cleared so
 * reads wait for data as cat's would. Sets *st. Returns the fd, or -1 (err set). */
static int open_checked(const char *path, int allow_stream, struct stat *st, cs_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return cs_err_sys(err, errno, "%s", path);
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        return cs_err_sys(err, e, "%s", path);
    }
    if (S_ISREG(st->st_mode)) return fd;
    int stream = S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode) || S_ISSOCK(st->st_mode);
    if (allow_stream && stream) {
        int fl = fcntl(fd, F_GETFL);
        if (fl != -1 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0) return fd;
        int e = errno;
        close(fd);
        return cs_err_sys(err, e, "%s", path);
    }
    close(fd);
    if (S_ISDIR(st->st_mode)) return cs_err_set(err, "%s: is a folder, not a file", path);
    return cs_err_set(err, "%s: %s, not a regular file", path, file_type(st->st_mode));
}

static int read_path(const char *path, int allow_stream, size_t max_bytes, char **out, size_t *len, cs_err *err) {
    *out = NULL;
    *len = 0;
    struct stat st;
    int fd = open_checked(path, allow_stream, &st, err);
    if (fd < 0) return -1;
    if (!S_ISREG(st.st_mode)) { /* pipe, terminal, socket, /dev/stdin */
        int rc = read_fd_bounded(fd, path, max_bytes, out, len, err);
        close(fd);
        return rc;
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        close(fd);
        return cs_err_set(err, "%s: file too large (%lld bytes, limit %zu)", path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return cs_err_set(err, "%s: out of memory", path);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(buf);
        return cs_err_set(err, "%s: short read", path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int cs_read_file(const char *path, size_t max_bytes, char **out, size_t *len, cs_err *err) {
    return read_path(path, 0, max_bytes, out, len, err);
}

int cs_read_input(const char *path, size_t max_bytes, char **out, size_t *len, cs_err *err) {
    return read_path(path, 1, max_bytes, out, len, err);
}

const char *cs_input_path(const char *arg) { return arg && !strcmp(arg, "-") ? "/dev/stdin" : arg; }

int cs_read_stream(FILE *f, size_t max_bytes, char **out, size_t *len) {
    size_t cap = 65536, n = 0;
    char *b = malloc(cap + 1);
    if (!b) return -1;
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) {
                free(b);
                errno = EFBIG;
                return -1;
            }
            cap *= 2;
            char *nb = realloc(b, cap + 1);
            if (!nb) {
                free(b);
                return -1;
            }
            b = nb;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f) || n > max_bytes) {
        if (n > max_bytes) errno = EFBIG;
        free(b);
        return -1;
    }
    b[n] = 0;
    *out = b;
    *len = n;
    return 0;
}

static int map_path(const char *path, int allow_stream, cs_map *m, cs_err *err) {
    m->data = NULL;
    m->len = 0;
    m->heap = 0;
    struct stat st;
    int fd = open_checked(path, allow_stream, &st, err);
    if (fd < 0) return -1;
    if (!S_ISREG(st.st_mode)) { /* a pipe cannot be mapped: read it into memory, bounded */
        char *buf = NULL;
        size_t n = 0;
        int rc = read_fd_bounded(fd, path, CS_MAP_STREAM_MAX, &buf, &n, err);
        close(fd);
        if (rc) return -1;
        m->data = (const unsigned char *)buf;
        m->len = n;
        m->heap = 1;
        return 0;
    }
    if (st.st_size == 0) {
        close(fd);
        return 0;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return cs_err_set(err, "%s: mmap: %s", path, strerror(errno));
    m->data = p;
    m->len = (size_t)st.st_size;
    return 0;
}

int cs_map_file(const char *path, cs_map *m, cs_err *err) { return map_path(path, 0, m, err); }
int cs_map_input(const char *path, cs_map *m, cs_err *err) { return map_path(path, 1, m, err); }

void cs_unmap(cs_map *m) {
    if (m && m->data) {
        if (m->heap)
            free((void *)m->data);
        else
            munmap((void *)m->data, m->len);
    }
    if (m) {
        m->data = NULL;
        m->len = 0;
        m->heap = 0;
    }
}

char *cs_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t i = a;
    if (a == 0 || dir[a - 1] != '/') p[i++] = '/';
    memcpy(p + i, name, b + 1);
    return p;
}

int cs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int cs_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
