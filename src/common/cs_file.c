/* cs_file: see cs_file.h. */
#include "cs_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a file that is not a regular one is, for the message. */
static const char *file_type(mode_t m) {
    return S_ISFIFO(m) ? "a FIFO" : S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "a special file";
}

/* Opens path for reading only if it is a regular file. O_NONBLOCK: opening a FIFO (a config
 * line such as `labels = <a FIFO>`) would otherwise wait for a writer forever before fstat could
 * tell; a regular file ignores the flag, so reads stay ordinary. Returns the fd, or -1 (err set). */
static int open_regular(const char *path, struct stat *st, cs_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return cs_err_set(err, "%s: %s", path, strerror(errno));
    int known = fstat(fd, st) == 0;
    if (!known || !S_ISREG(st->st_mode)) {
        int e = errno;
        close(fd);
        return cs_err_set(err, "%s: %s, not a regular file", path, known ? file_type(st->st_mode) : strerror(e));
    }
    return fd;
}

int cs_read_file(const char *path, size_t max_bytes, char **out, size_t *len, cs_err *err) {
    *out = NULL;
    *len = 0;
    struct stat st;
    int fd = open_regular(path, &st, err);
    if (fd < 0) return -1;
    if ((unsigned long long)st.st_size > max_bytes) {
        close(fd);
        return cs_err_set(err, "%s: file too large (%lld bytes, limit %zu)", path, (long long)st.st_size,
                          max_bytes);
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

int cs_read_stream(FILE *f, size_t max_bytes, char **out, size_t *len) {
    size_t cap = 65536, n = 0;
    char *b = malloc(cap + 1);
    if (!b) return -1;
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) { free(b); errno = EFBIG; return -1; }
            cap *= 2;
            char *nb = realloc(b, cap + 1);
            if (!nb) { free(b); return -1; }
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

int cs_map_file(const char *path, cs_map *m, cs_err *err) {
    m->data = NULL;
    m->len = 0;
    struct stat st;
    int fd = open_regular(path, &st, err);
    if (fd < 0) return -1;
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

void cs_unmap(cs_map *m) {
    if (m && m->data) munmap((void *)m->data, m->len);
    if (m) {
        m->data = NULL;
        m->len = 0;
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
