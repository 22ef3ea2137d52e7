/* web sessions and login codes (web.h), against a real server on a free loopback port with a
 * temporary data directory. Lifetimes are shortened through web_params, so expiry is tested in
 * a fraction of a second; each wait polls the clock up to a bound, never sleeping blind. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "../src/store/store.h"
#include "../src/web/web.h"
#include "testutil.h"

static char tmpdir[64];
static web_server *srv;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_BOOTTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void until(double t) { /* the waiting is the test: the server's clock must pass t */
    while (now_s() < t) {
        struct timespec d = {0, 10 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
}

static void start(double code_s, double idle_s, double max_s) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/clipseek-webtest-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    web_params p = {0};
    p.data_dir = tmpdir;
    p.code_ttl_s = code_s;
    p.session_idle_s = idle_s;
    p.session_max_s = max_s;
    cs_err err;
    cr_assert_eq(web_start(&p, &srv, &err), 0, "%s", err.msg);
}

static void stop(void) {
    web_stop(srv);
    srv = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

/* One request (Connection: close); returns the status and copies the session cookie, if set,
 * into session (65 bytes), and the whole answer, if body is not NULL, into body (16 KiB). */
static int http_answer(const char *path, const char *cookie, char *session, char *body) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)web_port(srv));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s%s%sConnection: close\r\n\r\n", path,
                     web_port(srv), cookie ? "Cookie: clipseek_session=" : "", cookie ? cookie : "", cookie ? "\r\n" : "");
    cr_assert_eq(write(fd, req, (size_t)n), n);
    char buf[16384];
    size_t got = 0;
    ssize_t k;
    while (got + 1 < sizeof buf && (k = read(fd, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)k;
    close(fd);
    buf[got] = 0;
    int status = 0;
    if (body) memcpy(body, buf, got + 1);
    cr_assert_eq(sscanf(buf, "HTTP/1.1 %d", &status), 1, "no status line: %.80s", buf);
    if (session) {
        session[0] = 0;
        const char *c = strstr(buf, "clipseek_session=");
        if (c && strspn(c + 17, "0123456789abcdef") == 64) { memcpy(session, c + 17, 64); session[64] = 0; }
    }
    return status;
}

static int http(const char *path, const char *cookie, char *session) { return http_answer(path, cookie, session, NULL); }

/* A fresh login code's path: /login?code=... */
static void login_path(char out[128]) {
    char *u = web_login_url(srv);
    cr_assert_not_null(u);
    const char *p = strstr(u, "/login?code=");
    cr_assert_not_null(p, "%s", u);
    snprintf(out, 128, "%s", p);
    free(u);
}

static void login(char session[65]) {
    char path[128];
    login_path(path);
    cr_assert_eq(http(path, NULL, session), 303);
    cr_assert_eq(strlen(session), 64);
}

Test(web, login_code_works_once_and_session_is_not_the_token) {
    start(0, 0, 0);
    char path[128], s1[65], s2[65], token[65];
    cs_err err;
    cr_assert_eq(web_token(tmpdir, token, &err), 0);
    login_path(path);
    cr_assert_eq(http(path, NULL, s1), 303);
    cr_assert_eq(strlen(s1), 64);
    cr_assert_str_neq(s1, token);
    cr_assert_eq(http(path, NULL, s2), 401, "a code is single use");
    cr_assert_eq(s2[0], 0);
    cr_assert_eq(http("/", s1, NULL), 200);
    cr_assert_eq(http("/", token, NULL), 401, "the token is no session");
    char tp[128];
    snprintf(tp, sizeof tp, "/?token=%s", token);
    cr_assert_eq(http(tp, NULL, s2), 401, "the token in a URL logs nothing in");
    cr_assert_eq(s2[0], 0);
    stop();
}

Test(web, login_code_expires) {
    start(0.5, 0, 0);
    char path[128], s[65];
    double t0 = now_s();
    login_path(path);
    until(t0 + 0.7);
    cr_assert_eq(http(path, NULL, s), 401);
    login_path(path); /* a fresh one in time works */
    cr_assert_eq(http(path, NULL, s), 303);
    stop();
}

Test(web, session_ends_when_idle) {
    start(0, 1.0, 0);
    char s[65];
    login(s);
    double t = now_s();
    for (int i = 0; i < 5; i++) { /* used every 0.3 s: lives on past its idle time */
        until(t + 0.3);
        t = now_s();
        cr_assert_eq(http("/", s, NULL), 200, "round %d", i);
    }
    until(now_s() + 1.3);
    cr_assert_eq(http("/", s, NULL), 401);
    stop();
}

Test(web, session_ends_at_its_longest_life_however_busy) {
    start(0, 60, 1.0);
    char s[65];
    double t0 = now_s();
    login(s);
    while (now_s() < t0 + 0.6) cr_assert_eq(http("/", s, NULL), 200);
    until(t0 + 1.3);
    cr_assert_eq(http("/", s, NULL), 401);
    stop();
}

Test(web, logout_all_ends_sessions_and_codes) {
    start(0, 0, 0);
    char a[65], b[65], path[128];
    login(a);
    login(b);
    cr_assert_str_neq(a, b);
    login_path(path);
    cr_assert_eq(web_logout_all(srv), 2);
    cr_assert_eq(http("/", a, NULL), 401);
    cr_assert_eq(http("/", b, NULL), 401);
    cr_assert_eq(http(path, NULL, NULL), 401);
    login(a);
    cr_assert_eq(http("/", a, NULL), 200);
    stop();
}

Test(web, the_65th_session_ends_the_least_recently_used) {
    start(0, 0, 0);
    char first[65], second[65], s[65];
    login(first);
    login(second);
    cr_assert_eq(http("/", first, NULL), 200); /* now second is the least recently used */
    for (int i = 0; i < 63; i++) login(s);
    cr_assert_eq(http("/", second, NULL), 401);
    cr_assert_eq(http("/", first, NULL), 200);
    cr_assert_eq(http("/", s, NULL), 200);
    stop();
}

/* A screenshot of a key: its OCR text is a secret, so lists (entries, search) leave it out and mark
 * the entry masked, as they do a secret's preview; only the entry's own answer carries it. It was
 * sent in every list as "ocr_text". */
Test(web, secret_ocr_text_is_masked_in_lists) {
    start(0, 0, 0);
    store *st;
    cs_err err;
    cr_assert_eq(store_open(tmpdir, &st, &err), 0, "%s", err.msg);
    const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 1};
    store_new n = {"image", "image/png", NULL, png, sizeof png, NULL, 10, 10, 0, NULL, NULL};
    int64_t id = 0;
    cr_assert_eq(store_add(st, &n, &id, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(store_set_ocr(st, id, "export GITHUB_TOKEN=ghp_Q8wErTy5uIoP3aSdFgH7jKlZ1xCvBnM4qWe2", &err), 0, "%s", err.msg);
    store_close(st);
    char session[65], path[64];
    static char body[16384];
    login(session);
    cr_assert_eq(http_answer("/api/entries", session, NULL, body), 200);
    cr_assert_not_null(strstr(body, "\"masked\":true"), "%s", body);
    cr_assert_null(strstr(body, "Q8wErTy5uIoP3aSdFgH7"), "the key read from the image is in the list: %s", body);
    cr_assert_eq(http_answer("/api/entries?q=GITHUB_TOKEN", session, NULL, body), 200);
    cr_assert_null(strstr(body, "Q8wErTy5uIoP3aSdFgH7"), "the key read from the image is in a search: %s", body);
    snprintf(path, sizeof path, "/api/entries/%lld", (long long)id);
    cr_assert_eq(http_answer(path, session, NULL, body), 200);
    cr_assert_not_null(strstr(body, "Q8wErTy5uIoP3aSdFgH7"), "the entry's own answer carries it: %s", body);
    stop();
}
