/* The control socket (ipc.h) against a real AF_UNIX socket in a temporary data directory, and
 * the log's sink (cs_log.h). The server runs in a thread of this process; every wait is a
 * request with a timeout, never a blind sleep. */
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/common/cs_log.h"
#include "../src/ipc/ipc.h"
#include "../src/ipc/ipc_search.h"
#include "testutil.h"

static char dir[64];
static void setup(void) { make_tmpdir(dir, sizeof dir); }
static void teardown(void) { rm_rf(dir); }
TestSuite(ipc, .init = setup, .fini = teardown);

/* One hit whose id is the request's limit, so the test sees the request arrived whole. */
static int fake_search(void *arg, search_query *q, search_hit **h, size_t *n, double *embed_ms, cs_err *e) {
    (void)arg;
    *embed_ms = 1.5;
    if (!strcmp(q->text, "fail")) return cs_errc(e, CS_EBUSY, "store busy");
    *h = calloc(1, sizeof **h);
    (*h)[0].id = q->limit;
    (*h)[0].score = 0.5;
    (*h)[0].signals = 1;
    *n = 1;
    snprintf(q->warning, sizeof q->warning, "index out of date: test");
    return 0;
}

/* A daemon stand-in with the real daemon's answers to PING and STOP, and SEARCH through
 * ipc_search_answer. */
static int handler(void *arg, const char *line, char **reply, size_t *reply_len) {
    (void)arg;
    if (!strcmp(line, "PING")) *reply = strdup("OK 1");
    else if (!strncmp(line, "BYTES ", 6)) { /* a reply of N bytes, sent as they are: 'a'-'z' and NULs */
        size_t n = strtoul(line + 6, NULL, 10);
        char *r = malloc(n);
        for (size_t i = 0; i < n; i++) r[i] = i % 27 == 26 ? 0 : (char)('a' + i % 27);
        *reply = r;
        *reply_len = n;
    }
    else if (!strcmp(line, "STOP")) return *reply = strdup("OK"), IPC_STOP;
    else if (!strncmp(line, "SEARCH ", 7)) {
        *reply = ipc_search_answer(line + 7, fake_search, NULL);
    } else *reply = strdup("ERR unknown request");
    return IPC_CONTINUE;
}

typedef struct { ipc_server *srv; atomic_int stop; } served;

static void *serve(void *arg) {
    served *sv = arg;
    ipc_serve(sv->srv, handler, NULL, &sv->stop);
    return NULL;
}

Test(ipc, request_reply_stop) {
    char buf[256];
    cr_expect_eq(ipc_request(dir, "PING", buf, sizeof buf, 2000), 1, "no daemon yet: 1");
    served sv = {0};
    cs_err e = {0};
    cr_assert_eq(ipc_listen(dir, &sv.srv, &e), 0, "%s", e.msg);
    struct stat st;
    cr_assert_eq(stat(ipc_path(sv.srv), &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600, "the socket is private");
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, serve, &sv), 0);
    cr_expect_eq(ipc_request(dir, "PING", buf, sizeof buf, 5000), 0);
    cr_expect_str_eq(buf, "OK 1");
    ipc_server *second = NULL;
    cr_expect_lt(ipc_listen(dir, &second, &e), 0, "a second server on a live socket");
    cr_expect(strstr(e.msg, "already running") != NULL, "%s", e.msg);
    cr_expect_eq(ipc_request(dir, "NONSENSE", buf, sizeof buf, 5000), 0);
    cr_expect_str_eq(buf, "ERR unknown request");
    cr_expect_eq(ipc_request(dir, "STOP", buf, sizeof buf, 5000), 0);
    cr_expect_str_eq(buf, "OK", "STOP is answered before the server stops");
    pthread_join(t, NULL); /* returns only because STOP set the flag */
    cr_expect_eq(atomic_load(&sv.stop), 1);
    ipc_close(sv.srv);
    cr_expect_eq(ipc_request(dir, "PING", buf, sizeof buf, 2000), 1, "the socket file is gone");
}

Test(ipc, search_both_halves) {
    served sv = {0};
    cs_err e = {0};
    cr_assert_eq(ipc_listen(dir, &sv.srv, &e), 0, "%s", e.msg);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, serve, &sv), 0);
    search_query q = {0};
    q.text = "caf\xc3\xa9 \"quoted\"";
    q.limit = 7;
    search_hit *h = NULL;
    size_t n = 0;
    cr_assert_eq(ipc_search(dir, &q, &h, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 1);
    cr_expect_eq(h[0].id, 7, "the limit arrived");
    cr_expect_float_eq(h[0].score, 0.5, 1e-9);
    cr_expect_str_eq(q.warning, "index out of date: test");
    free(h);
    q.text = "fail";
    cr_expect_lt(ipc_search(dir, &q, &h, &n, &e), 0);
    cr_expect_str_eq(e.msg, "daemon: store busy");
    char buf[256];
    cr_expect_eq(ipc_request(dir, "SEARCH not json", buf, sizeof buf, 5000), 0);
    cr_expect_str_eq(buf, "{\"error\":\"bad request\"}");
    ipc_request(dir, "STOP", buf, sizeof buf, 5000);
    pthread_join(t, NULL);
    ipc_close(sv.srv);
}

/* Connects to the stand-in, sends line, and reads until the server closes the connection:
 * returns the bytes (malloc'd) and their count in *n. */
static char *raw_request(const char *line, size_t *n) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/daemon.sock", dir);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
    size_t cap = 1 << 16, got = 0;
    char *buf = malloc(cap);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        cr_assert_eq(poll(&p, 1, 5000), 1, "the reply comes");
        if (got == cap) buf = realloc(buf, cap *= 2);
        ssize_t k = read(fd, buf + got, cap - got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    *n = got;
    return buf;
}

/* A reply with its own length (the front's CLI request): sent whole and as it is, NUL bytes
 * included and no newline added, also when it is far larger than the socket's buffer. */
Test(ipc, reply_of_bytes_sent_as_they_are) {
    served sv = {0};
    cs_err e = {0};
    cr_assert_eq(ipc_listen(dir, &sv.srv, &e), 0, "%s", e.msg);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, serve, &sv), 0);
    size_t sizes[] = {5, 27, 3 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        char line[32];
        snprintf(line, sizeof line, "BYTES %zu\n", sizes[k]);
        size_t n = 0;
        char *got = raw_request(line, &n);
        cr_expect_eq(n, sizes[k], "%zu bytes asked, %zu came", sizes[k], n);
        int same = n == sizes[k];
        for (size_t i = 0; same && i < n; i++) same = got[i] == (i % 27 == 26 ? 0 : (char)('a' + i % 27));
        cr_expect(same, "the bytes of a %zu-byte reply arrive unchanged", sizes[k]);
        free(got);
    }
    char buf[64];
    ipc_request(dir, "STOP", buf, sizeof buf, 5000);
    pthread_join(t, NULL);
    ipc_close(sv.srv);
}

/* A process of another user is closed unanswered, even when the socket and its folder have been
 * opened up to everyone: its answers hold the history and login codes. (As root, a child that
 * becomes "nobody" asks; as anyone else the test cannot switch users and says so.) */
Test(ipc, another_users_process_gets_no_answer) {
    if (geteuid() != 0) cr_skip_test("needs root to ask as another user");
    served sv = {0};
    cs_err e = {0};
    cr_assert_eq(ipc_listen(dir, &sv.srv, &e), 0, "%s", e.msg);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, serve, &sv), 0);
    cr_assert_eq(chmod(dir, 0755), 0);
    cr_assert_eq(chmod(ipc_path(sv.srv), 0666), 0);
    char buf[64];
    for (int as_nobody = 1; as_nobody >= 0; as_nobody--) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) { /* exit 0: answered, 3: connected but closed unanswered, 4: could not ask */
            if (as_nobody && (setgid(65534) || setuid(65534))) _exit(4);
            int r = ipc_request(dir, "PING", buf, sizeof buf, 5000);
            _exit(r == 0 ? 0 : r < 0 ? 3 : 4);
        }
        int st;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFEXITED(st));
        if (as_nobody)
            cr_expect_eq(WEXITSTATUS(st), 3, "another user's PING: exit %d (0: answered)", WEXITSTATUS(st));
        else
            cr_expect_eq(WEXITSTATUS(st), 0, "the owner's PING went unanswered: exit %d", WEXITSTATUS(st));
    }
    cr_assert_eq(ipc_request(dir, "STOP", buf, sizeof buf, 5000), 0);
    pthread_join(t, NULL);
    ipc_close(sv.srv);
}

/* What a daemon's handler uses and frees after shutdown (daemon_state, the worker, the web
 * server): here a heap object the handler reads. */
typedef struct {
    char word[16];
} handler_state;

static int state_handler(void *arg, const char *line, char **reply, size_t *reply_len) {
    (void)reply_len;
    handler_state *hs = arg;
    char out[128];
    snprintf(out, sizeof out, "OK %s %s", hs->word, line);
    *reply = strdup(out);
    return !strcmp(line, "STOP") ? IPC_STOP : IPC_CONTINUE;
}

typedef struct {
    ipc_server *srv;
    atomic_int stop;
    handler_state *hs;
    atomic_int joined;
} state_served;

static void *serve_state(void *arg) {
    state_served *sv = arg;
    ipc_serve(sv->srv, state_handler, sv->hs, &sv->stop);
    return NULL;
}

static void *join_conns(void *arg) {
    state_served *sv = arg;
    ipc_join(sv->srv);
    atomic_store(&sv->joined, 1);
    return NULL;
}

/* A slow client's request still in flight when the server stops: ipc_join waits for it, so the
 * owner frees the handler's state only after the last connection used it. Without the join the
 * state would be freed under the connection's thread (a use after free under ASan). */
Test(ipc, join_waits_for_a_connection_in_flight) {
    state_served sv = {0};
    cs_err e = {0};
    cr_assert_eq(ipc_listen(dir, &sv.srv, &e), 0, "%s", e.msg);
    sv.hs = calloc(1, sizeof *sv.hs);
    snprintf(sv.hs->word, sizeof sv.hs->word, "alive");
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, serve_state, &sv), 0);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", ipc_path(sv.srv));
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(write(fd, "SEARCH sl", 9), 9, "half a request line: the connection stays in flight");
    char buf[256];
    /* connections are accepted in order: once this one is answered, the slow one was accepted */
    cr_assert_eq(ipc_request(dir, "PING", buf, sizeof buf, 5000), 0);
    cr_expect_str_eq(buf, "OK alive PING");
    cr_assert_eq(ipc_request(dir, "STOP", buf, sizeof buf, 5000), 0);
    pthread_join(t, NULL);
    pthread_t j;
    cr_assert_eq(pthread_create(&j, NULL, join_conns, &sv), 0);
    /* evidence that the join waits: it has not returned within 300 ms with the line unfinished */
    for (int i = 0; i < 30 && !atomic_load(&sv.joined); i++) poll(NULL, 0, 10);
    cr_expect_eq(atomic_load(&sv.joined), 0, "ipc_join returned while a connection was being answered");
    cr_assert_eq(write(fd, "ow\n", 3), 3);
    size_t got = 0; /* the reply line may come in more than one read */
    while (got < sizeof buf - 1 && !memchr(buf, '\n', got)) {
        struct pollfd p = {fd, POLLIN, 0};
        cr_assert_eq(poll(&p, 1, 5000), 1, "the slow request is answered");
        ssize_t k = read(fd, buf + got, sizeof buf - 1 - got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    buf[got] = 0;
    cr_expect_str_eq(buf, "OK alive SEARCH slow\n");
    close(fd);
    pthread_join(j, NULL);
    cr_expect_eq(atomic_load(&sv.joined), 1);
    free(sv.hs);
    ipc_close(sv.srv);
}

static char logged[4][128];
static int nlogged;
static void sink(cs_log_level level, const char *msg, void *arg) {
    (void)arg;
    if (nlogged < 4) snprintf(logged[nlogged++], sizeof logged[0], "%d %s", (int)level, msg);
}

Test(ipc, log_sink) {
    nlogged = 0;
    cs_log(CS_LOG_ERROR, "nobody hears this");
    cs_log_set_sink(sink, NULL, CS_LOG_INFO);
    cs_log(CS_LOG_DEBUG, "below the level");
    cs_log(CS_LOG_INFO, "clip %d\n\x1b[2Jforged", 3);
    cs_log(CS_LOG_ERROR, "bad");
    cs_log_set_sink(NULL, NULL, CS_LOG_INFO);
    cs_log(CS_LOG_ERROR, "discarded again");
    cr_assert_eq(nlogged, 2);
    cr_expect_str_eq(logged[0], "1 clip 3??[2Jforged", "control characters cannot forge a line");
    cr_expect_str_eq(logged[1], "3 bad");
}
