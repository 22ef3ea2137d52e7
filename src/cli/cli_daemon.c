/* cli_daemon: `clipseek daemon`, `clipseek web` and `clipseek reload`. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/cs_log.h"
#include "../common/cs_proc.h"
#include "../config/rules.h"
#include "../capture/wayland.h"
#include "../daemon/daemon.h"
#include "../organize/ocr.h"
#include "../model/clip.h"
#include "../store/store.h"
#include "../web/web.h"
#include "cli.h"

/* The daemon's log (cs_log): stderr, each line time-stamped. */
static void log_to_stderr(cs_log_level level, const char *msg, void *arg) {
    (void)level;
    (void)arg;
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(ts, sizeof ts, "%H:%M:%S", localtime_r(&t, &tm));
    fprintf(stderr, "clipseek daemon %s: %s\n", ts, msg);
}

/* The page is served: its login URL on stdout (`clipseek web`), and with --open in a browser. */
static void on_web(const char *url, void *arg) {
    int open = *(int *)arg;
    printf("%s\n", url ? url : "");
    fflush(stdout);
    if (url && open && cs_proc_have("xdg-open") && (getenv("DISPLAY") || getenv("WAYLAND_DISPLAY")))
        cs_proc_detach((char *[]){"xdg-open", (char *)url, NULL});
}

static int run_daemon(daemon_params *p) {
    char *dir = cli_data_dir();
    if (!dir) return cli_fail("no data directory: set HOME, XDG_DATA_HOME, CLIPSEEK_DATA_DIR or --data-dir");
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        p->self_exe = self;
    }
    p->data_dir = dir;
    p->run_command = cli_main;
    cs_log_set_sink(log_to_stderr, NULL, CS_LOG_INFO);
    cs_err e;
    int rc = daemon_run(p, &e) ? cli_fail_err(&e) : CLI_OK;
    free(dir);
    return rc;
}

int cmd_daemon(int argc, char **argv) {
    daemon_params p = daemon_default_params();
    p.threads = cli_threads;
    p.device = cli_device;
    p.f32 = cli_f32;
    p.dtype = cli_dtype;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-x11"))
            p.x11 = 0;
        else if (!strcmp(argv[i], "--primary"))
            p.primary = 1;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc)
            p.model_dir = argv[++i];
        else if (!strcmp(argv[i], "--no-web"))
            p.web_port = -1;
        else if (!strcmp(argv[i], "--need-capture"))
            p.need_capture = 1;
        else if (!strcmp(argv[i], "--web-port") && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 0, 65535, &p.web_port))
                return cli_usage("--web-port is 0-65535 (0: any free port)");
        } else
            return cli_usage("daemon: unexpected argument '%s'", argv[i]);
    }
    return run_daemon(&p);
}

/* web [--open] [--port N] [--logout-all]: a one-time login URL for the page. A running daemon
 * already serves the page: it makes the code (over its control socket) and the URL is printed
 * (and opened); otherwise this process serves the page itself (no capture) until stopped.
 * --logout-all ends every browser session of the running server. The long-lived web.token is
 * never put on a command line (xdg-open's, the browser's): `ps` shows those to every user. */
int cmd_web(int argc, char **argv) {
    daemon_params p = daemon_default_params();
    p.x11 = 0;
    p.threads = cli_threads;
    p.no_capture = 1;
    int open = 0, logout = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--open"))
            open = 1;
        else if (!strcmp(argv[i], "--logout-all"))
            logout = 1;
        else if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 0, 65535, &p.web_port))
                return cli_usage("--port is 0-65535 (0: any free port)");
        } else
            return cli_usage("web: unexpected argument '%s'", argv[i]);
    }
    if (logout && open) return cli_usage("web: --logout-all and --open do not go together");
    char *dir = cli_data_dir();
    if (!dir) return cli_fail("no data directory: set HOME, XDG_DATA_HOME, CLIPSEEK_DATA_DIR or --data-dir");
    char buf[2048];
    int r = daemon_request(dir, logout ? "WEB-LOGOUT-ALL" : "WEB-LOGIN", buf, sizeof buf, 5000);
    if (logout) {
        free(dir);
        /* sessions live in the server's memory only: with none running, none exists */
        if (r == 1) {
            fprintf(stderr, "clipseek: no daemon runs, so no browser is logged in\n");
            return CLI_OK;
        }
        if (r < 0 || strncmp(buf, "OK ", 3)) return cli_fail("daemon: %s", r < 0 ? "no answer" : buf);
        fprintf(stderr, "clipseek: %s web session(s) ended; log in again with `clipseek web --open`\n", buf + 3);
        return CLI_OK;
    }
    if (r == 0) {
        free(dir);
        if (!strcmp(buf, "ERR unknown request"))
            return cli_fail("the running daemon predates one-time log-in codes: restart it");
        if (strncmp(buf, "OK ", 3)) return cli_fail("daemon: %s", buf);
        const char *url = buf + 3;
        printf("%s\n", url);
        fflush(stdout);
        if (open && (getenv("DISPLAY") || getenv("WAYLAND_DISPLAY"))) {
            pid_t b = fork();
            if (b == 0) {
                execlp("xdg-open", "xdg-open", url, (char *)NULL);
                _exit(127);
            }
            int st = 0;
            if (b > 0) waitpid(b, &st, 0);
        }
        return CLI_OK;
    }
    free(dir);
    p.on_web = on_web;
    p.on_web_arg = &open;
    return run_daemon(&p);
}

/* reload: the running daemon reads its config again (as on SIGHUP); a bad config is refused
 * with the reason and the daemon keeps the settings it had */
int cmd_reload(int argc, char **argv) {
    (void)argv;
    if (argc != 1) return cli_usage("reload takes no arguments");
    char *dir = cli_data_dir();
    if (!dir) return cli_fail("no data directory: set HOME, XDG_DATA_HOME, CLIPSEEK_DATA_DIR or --data-dir");
    char buf[1400];
    int r = daemon_request(dir, "RELOAD", buf, sizeof buf, 10000);
    free(dir);
    if (r == 1) return cli_fail("no daemon runs (the next one reads the config when it starts)");
    if (r < 0) return cli_fail("daemon: no answer");
    if (!strcmp(buf, "ERR unknown request")) return cli_fail("the running daemon predates reload: restart it");
    if (strncmp(buf, "OK", 2))
        return cli_fail("config not reloaded, the daemon keeps its previous settings: %s",
                        buf[0] == 'E' ? buf + 4 : buf);
    fprintf(stderr, "clipseek: the daemon has read the config again\n");
    return CLI_OK;
}
