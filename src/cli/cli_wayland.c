/* cli_wayland: `clipseek wl-event`, what the daemon's `wl-paste --watch` runs for each new
 * Wayland selection.
 *
 * Why not `wl-paste --watch clipseek store`: Debian 12's wl-clipboard 2.1.0 picks a type itself
 * (text before images: a browser's "Copy Image" became its <img> markup) and connects the owner's
 * data for that type to the command's stdin, and it never sets CLIPBOARD_STATE (2.2 added that,
 * with "sensitive" for x-kde-passwordManagerHint). So under 2.1.0 a password manager's copy would
 * be read like any other. Our own data-control client would need the protocol XML, which no
 * Debian 12 package ships. So this command never reads its stdin (it is replaced with /dev/null
 * at once: whatever the owner wrote into the pipe stays in the kernel and is dropped) and decides
 * from the offered types before reading anything:
 *   1. CLIPBOARD_STATE (wl-clipboard >= 2.2) "nil", "clear", "sensitive": nothing to do;
 *   2. the pause flag (ingest_paused; unreadable = paused);
 *   3. `wl-paste --list-types`;
 *   4. x-kde-passwordManagerHint offered: read only that value (`wl-paste --type
 *      x-kde-passwordManagerHint`); "secret", or a value that cannot be read, ends here;
 *   5. capture_pick_type (images over html, uri-list for files, then text, as on X11) and
 *      `wl-paste --no-newline --type T`;
 *   6. the types are listed again: if they changed meanwhile (a newer copy, maybe a password),
 *      the bytes read are dropped, unstored; that newer copy has its own event;
 *   7. ingest_clip, with the focused application from sway's IPC as the source when there is one.
 * The outcome is printed on stderr (the daemon logs wl-paste's stderr) and sent to the daemon
 * ("CAPTURED <decision>" or "CAPTURE-ERROR <reason>") so `status` counts failures. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../capture/capture.h"
#include "../capture/ingest.h"
#include "../config/rules.h"
#include "../capture/wayland.h"
#include "../daemon/daemon.h"
#include "../store/store.h"
#include "cli.h"

/* Runs argv (a wl-paste call) with stdout into a malloc'd buffer of at most max bytes. Returns 0
 * when it exited 0; -1 with why set when it failed, wrote more than max, or ran past timeout_ms
 * (then it is killed: an owner that never answers must not hold capture). */
static int run_read(char *const argv[], size_t max, int timeout_ms, char **out, size_t *len, char *why, size_t wn) {
    *out = NULL;
    *len = 0;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(why, wn, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, wn, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pfd[1], 1);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) dup2(nul, 0);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 4096, got = 0;
    char *buf = malloc(cap + 1);
    int over = 0, timed_out = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (buf) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = timeout_ms - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
        struct pollfd p = {pfd[0], POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            timed_out = 1;
            break;
        }
        if (got == cap) {
            if (cap >= max + 1) {
                over = 1;
                break;
            }
            size_t nc = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(buf, nc + 1);
            if (!nb) break;
            buf = nb;
            cap = nc;
        }
        ssize_t k = read(pfd[0], buf + got, cap - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(pfd[0]);
    if (got > max) over = 1;
    if (timed_out || over || !buf) kill(pid, SIGKILL); /* our own child only */
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (!buf) {
        snprintf(why, wn, "out of memory");
        return -1;
    }
    if (timed_out || over || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (timed_out)
            snprintf(why, wn, "%s did not answer within %d ms", argv[0], timeout_ms);
        else if (over)
            snprintf(why, wn, "more than %zu bytes", max);
        else
            snprintf(why, wn, "%s exited with status %d", argv[0],
                     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        free(buf);
        return -1;
    }
    buf[got] = 0;
    *out = buf;
    *len = got;
    return 0;
}

/* Tells the daemon (if one runs for this data dir) how the event ended. */
static void tell_daemon(const char *line) {
    char *dir = cli_data_dir();
    char buf[256];
    if (dir) daemon_request(dir, line, buf, sizeof buf, 2000);
    free(dir);
}

static int report_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int report_error(const char *fmt, ...) {
    char msg[1200], line[1300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' '; /* one request line */
    snprintf(line, sizeof line, "CAPTURE-ERROR %s", msg);
    tell_daemon(line);
    return cli_fail("wl-event: %s", msg);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "clipseek wl-event: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

#define WL_TIMEOUT_MS 5000

int cmd_wl_event(int argc, char **argv) {
    (void)argv;
    if (argc != 1) return cli_usage("wl-event takes no arguments (wl-paste --watch runs it)");
    /* never read what wl-paste piped in: it may be a password it did not know to skip */
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0) {
        dup2(nul, 0);
        close(nul);
    } else
        close(0);
    const char *state = getenv("CLIPBOARD_STATE");
    if (state && (!strcmp(state, "sensitive") || !strcmp(state, "nil") || !strcmp(state, "clear"))) {
        if (!strcmp(state, "sensitive")) note("not read: wl-paste marked the clip sensitive");
        return CLI_OK;
    }
    store *s = cli_open_store();
    if (!s) return report_error("cannot open the store, so the clip is not stored");
    char why[1200];
    int p = ingest_paused(s, why, sizeof why);
    if (p) {
        store_close(s);
        return p < 0 ? report_error("%s", why) : CLI_OK;
    }
    rules *r = NULL;
    cs_err e;
    if (rules_load(NULL, &r, &e)) {
        store_close(s);
        return report_error("clip not stored: %s", e.msg);
    }
    char *types = NULL, *types2 = NULL, *hint = NULL, *data = NULL;
    size_t tn = 0, hn = 0, dn = 0;
    int rc = CLI_OK;
    char *list_argv[] = {"wl-paste", "--list-types", NULL};
    if (run_read(list_argv, 1 << 16, WL_TIMEOUT_MS, &types, &tn, why, sizeof why)) {
        /* nothing offered (the selection was cleared) is not an error */
        note("no types offered (%s): nothing stored", why);
        goto out;
    }
    if (capture_offers_secret_hint(types)) {
        char *hint_argv[] = {"wl-paste", "--no-newline", "--type", "x-kde-passwordManagerHint", NULL};
        /* an empty answer is a hint not handed over (GTK 4 advertises such a type but cannot
         * serve it: GDK refuses MIME names without a '/'), so it counts as unreadable: secret */
        int hr = run_read(hint_argv, 256, WL_TIMEOUT_MS, &hint, &hn, why, sizeof why);
        int readable = hr == 0 && hn > 0;
        if (capture_hint_is_secret(readable ? (unsigned char *)hint : NULL, hn)) {
            note("not read, not stored: the owner marks it as a password (x-kde-passwordManagerHint%s)",
                 readable ? "" : ", its value not handed over");
            tell_daemon("CAPTURED rejected");
            goto out;
        }
    }
    const char *type = capture_pick_type(types);
    if (!type) {
        note("none of the offered types is text, an image or files: nothing stored");
        goto out;
    }
    capture_caps caps = rules_caps(r);
    size_t max = caps.max_image > caps.max_text ? caps.max_image : caps.max_text;
    char *read_argv[] = {"wl-paste", "--no-newline", "--type", (char *)type, NULL};
    /* a large image takes a while to hand over: allow more time per MB */
    if (run_read(read_argv, max, WL_TIMEOUT_MS + (int)(max >> 20) * 200, &data, &dn, why, sizeof why)) {
        rc = report_error("reading %s: %s; not stored", type, why);
        goto out;
    }
    if (run_read(list_argv, 1 << 16, WL_TIMEOUT_MS, &types2, &tn, why, sizeof why) || strcmp(types, types2)) {
        note("the selection changed while it was read: dropped, its own event stores the new one");
        goto out;
    }
    char app[256];
    capture_clip c = {(unsigned char *)data, dn, type, types,
                      wayland_focused_app(app, sizeof app, 1000) == 0 ? app : NULL};
    ingest_result res;
    char line[1400], msg[1500];
    int ir = ingest_clip(s, r, &c, INGEST_CAPTURED, &res, &e);
    ingest_describe(&res, &c, line, sizeof line);
    if (ir) {
        rc = report_error("%s", line);
        goto out;
    }
    note("%s", line);
    snprintf(msg, sizeof msg, "CAPTURED %s", ingest_decision_name(res.decision));
    tell_daemon(msg);
out:
    free(types);
    free(types2);
    free(hint);
    free(data);
    rules_free(r);
    store_close(s);
    return rc;
}
