/* clipseek's front binary: what `clipseek` runs. It links libc alone, so it starts in about a
 * millisecond, where the engine (every command: the CLIP towers, BLAS, OCR, HTTP, curl; 100-odd
 * shared libraries, 20-150 ms to load) is exec'd only for the work.
 *
 * It answers by itself only what needs no data: `help`, `--version`, `COMMAND --help`, the same
 * bytes and exit status as the engine's main.c (both print from front_help.c; a command line with
 * a common option, --data-dir, --device, --dtype, --threads, goes on: the engine checks their
 * values first).
 *
 * `search` while the daemon runs, with no common option but --data-dir, is asked of the daemon
 * itself (front_proto.h: the CLI request): it runs the search and prints it as the engine would,
 * and this process copies the bytes out and exits with the status, so a search costs the
 * daemon's work and one round trip (about 18 ms end to end at 10k entries, where a process that
 * opens the store, asks the daemon and reads the hits' rows cost 37: docs/performance.md). What
 * the daemon leaves to the engine (--image, --model, a usage error, a failure) goes on as below.
 *
 * The commands a person runs while the daemon runs (search, list, pick, show, status, copy; with
 * common options before or after them, see parse_cmdline) go to the daemon's engine server
 * (front_server.h: a fork of an engine that has its libraries loaded already) with this
 * process's stdin/stdout/stderr, directory, umask and environment; it exits
 * with the command's status, or dies of its signal (SIGPIPE under `| head`), as the engine would.
 *
 * Everything else, and those commands when no daemon answers, is exec'd unchanged (same argv,
 * same pid, so the systemd unit's MainPID and a test's kill by pid stay right) into the engine:
 *   $CLIPSEEK_ENGINE when set (tests; a path, never looked up on PATH), else
 *   DIR/../libexec/clipseek/clipseek-engine (installed: make install), else
 *   DIR/clipseek-engine (the build tree), DIR being the folder of this binary (/proc/self/exe). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front_help.h"
#include "front_proto.h"

extern char **environ;

enum { FRONT_NO_ENGINE = 127 };

/* The common options, as the engine's cli_main (src/cli/main.c) takes them: wherever they stand
 * on the command line (before the command, after it, among its arguments), each with the next word
 * as its value, and before any command runs. The front finds the command word and the data
 * directory the same way, then passes the command line on unchanged, so what each option does is
 * decided by the engine's own code, per option:
 * - --data-dir: also here, to find the daemon whose engine server runs the command (the socket in
 *   that folder); the command itself reads it again, as an exec'd engine would;
 * - --threads, --device, --dtype: passed on. They change how a command computes the towers, and
 *   a command in the engine server computes as an exec'd engine does: a fork of an engine that
 *   has started no thread, no OpenMP team and no device (it is forked before the daemon loads
 *   anything), which then parses and applies them itself. (While a daemon runs, the quick commands
 *   ask it anyway: a search embeds the query only with --model or --image, in the child.)
 * Their values are checked there too: a bad one is the engine's message and status either way.
 * What the front cannot read, a common option without a value or an empty --data-dir, goes to the
 * exec'd engine, which says why. */
typedef struct cmdline {
    const char *cmd;      /* the first word that is neither a common option nor its value; NULL: none */
    const char *data_dir; /* the last --data-dir's value, NULL if none */
    int options;          /* how many common options */
    int readable;         /* 0: an option lacks its value, or --data-dir's is empty */
} cmdline;

static cmdline parse_cmdline(int argc, char **argv) {
    cmdline cl = {NULL, NULL, 0, 1};
    for (int i = 1; i < argc; i++) {
        int k = front_common_option(argv[i]);
        if (k < 0) {
            if (!cl.cmd) cl.cmd = argv[i];
            continue;
        }
        cl.options++;
        if (i + 1 >= argc) {
            cl.readable = 0;
            break;
        }
        if (k == FRONT_OPT_DATA_DIR) {
            cl.data_dir = argv[i + 1];
            if (!*cl.data_dir) cl.readable = 0;
        }
        i++;
    }
    return cl;
}

/* Answers what main.c answers before it parses anything, and `COMMAND --help` when no common
 * option is there (the engine checks their values first): returns the exit status, or -1 when
 * the engine must run. */
static int answer_help(int argc, char **argv, const cmdline *cl) {
    int rc = front_answer_help(argc, argv);
    if (rc >= 0) return rc;
    const front_command *c = front_find(argv[1]);
    if (!c || cl->options) return -1;
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return front_print_usage(c);
    return -1;
}

/* The engine's path into buf (see the top of this file). Returns 0, -1 when none is there (buf
 * then holds the last path tried, for the message). */
static int find_engine(char *buf, size_t n) {
    const char *env = getenv("CLIPSEEK_ENGINE");
    if (env && *env) return snprintf(buf, n, "%s", env) < (int)n ? 0 : -1;
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return snprintf(buf, n, "/proc/self/exe"), -1;
    self[len] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    static const char *rel[] = {"/../libexec/clipseek/clipseek-engine", "/clipseek-engine"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
        if (snprintf(buf, n, "%s%s", self, rel[i]) < (int)n && access(buf, X_OK) == 0) return 0;
    return -1;
}

/* The data directory, as the engine's cli_data_dir finds it (without creating it): --data-dir,
 * CLIPSEEK_DATA_DIR, $XDG_DATA_HOME/clipseek, ~/.local/share/clipseek. It only says where the
 * engine server's socket is: the command itself reads its own argv and environment. */
static int data_dir(const cmdline *cl, char *buf, size_t n) {
    const char *e = getenv("CLIPSEEK_DATA_DIR"), *x = getenv("XDG_DATA_HOME"), *h = getenv("HOME");
    int k;
    if (cl->data_dir)
        k = snprintf(buf, n, "%s", cl->data_dir);
    else if (e && *e)
        k = snprintf(buf, n, "%s", e);
    else if (x && *x)
        k = snprintf(buf, n, "%s/clipseek", x);
    else if (h && *h)
        k = snprintf(buf, n, "%s/.local/share/clipseek", h);
    else
        return -1;
    return k > 0 && k < (int)n ? 0 : -1;
}

static volatile pid_t g_child;

/* Ctrl-C and friends reach the command, which decides what they do. */
static void forward(int sig) {
    if (g_child > 0) kill(g_child, sig);
}

static int send_all(int fd, const void *p, size_t n) {
    for (size_t done = 0; done < n;) {
        ssize_t k = send(fd, (const char *)p + done, n - done, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        done += (size_t)k;
    }
    return 0;
}

/* Sends the request (front_proto.h). Returns 0, -1 if it could not be sent whole. */
static int send_request(int s, int argc, char **argv) {
    int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cwd < 0) return -1;
    mode_t um = umask(0);
    umask(um);
    uint32_t envc = 0, head[3];
    size_t len = sizeof head;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
    for (; environ && environ[envc]; envc++) len += strlen(environ[envc]) + 1;
    head[0] = (uint32_t)um;
    head[1] = (uint32_t)argc;
    head[2] = envc;
    front_hello h = {FRONT_MAGIC, (uint32_t)len};
    int fds[FRONT_NFDS] = {0, 1, 2, cwd};
    char cbuf[CMSG_SPACE(sizeof fds)];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {&h, sizeof h};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    int bad = len > FRONT_MAX_LEN || envc > FRONT_MAX_STRINGS || sendmsg(s, &m, MSG_NOSIGNAL) != (ssize_t)sizeof h;
    close(cwd);
    bad = bad || send_all(s, head, sizeof head);
    for (int i = 0; !bad && i < argc; i++) bad = send_all(s, argv[i], strlen(argv[i]) + 1);
    for (uint32_t i = 0; !bad && i < envc; i++) bad = send_all(s, environ[i], strlen(environ[i]) + 1);
    return bad ? -1 : 0;
}

static int read_int(int s, int32_t *v) {
    size_t got = 0;
    while (got < sizeof *v) {
        ssize_t k = read(s, (char *)v + got, sizeof *v - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        got += (size_t)k;
    }
    return 0;
}

/* Runs the command in the daemon's engine server. Returns -1 when none started it (no daemon, an
 * old one, or a refusal): the caller runs the engine itself. Otherwise exits as the command did. */
static int run_served(int argc, char **argv, const cmdline *cl) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char dir[PATH_MAX];
    if (data_dir(cl, dir, sizeof dir) ||
        snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, FRONT_SOCKET) >= (int)sizeof a.sun_path)
        return -1;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    int32_t pid, st;
    if (connect(s, (struct sockaddr *)&a, sizeof a) || send_request(s, argc, argv) || read_int(s, &pid) || pid <= 0) {
        close(s);
        return -1;
    }
    g_child = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
    if (read_int(s, &st)) {
        fprintf(stderr, "clipseek: the daemon's engine server stopped while running the command\n");
        exit(1);
    }
    if (WIFEXITED(st)) exit(WEXITSTATUS(st));
    int sig = WIFSIGNALED(st) ? WTERMSIG(st) : SIGKILL;
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    exit(128 + sig);
}

/* Appends s to the JSON text at *p (bounded by end) as a string; -1 when it does not fit. Bytes
 * from 0x80 up pass as they are: a word that is not UTF-8 makes the request unreadable, and the
 * daemon then answers NO. */
static int json_put(char **p, const char *end, const char *s) {
    char *o = *p;
    if (o >= end) return -1;
    *o++ = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (end - o < 7) return -1;
        if (ch == '"' || ch == '\\') {
            *o++ = '\\';
            *o++ = (char)ch;
        } else if (ch < 0x20)
            o += snprintf(o, 7, "\\u%04x", ch);
        else
            *o++ = (char)ch;
    }
    if (end - o < 1) return -1;
    *o++ = '"';
    *p = o;
    return 0;
}

/* Writes n bytes to fd (the front's stdout or stderr). A reader that has gone ends this process by
 * SIGPIPE (under `| head`), as it ends the engine; any other write error drops the rest, and the
 * exit status stays the command's, as the engine's printf does. */
static void put_out(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

/* `search` answered by the daemon itself (front_proto.h: the CLI request): the command's bytes
 * and exit status without a process that opens the store, for the command lines whose only
 * common option is --data-dir (the others' values are the engine's to check). Returns -1 when
 * the daemon leaves it to the engine server (or no daemon answers); otherwise exits as the
 * command would. */
static int run_answered(int argc, char **argv, const cmdline *cl) {
    int dd = 0;
    for (int i = 1; i < argc; i++) dd += front_common_option(argv[i]) == FRONT_OPT_DATA_DIR;
    if (strcmp(cl->cmd, "search") || cl->options != dd) return -1;
    static char line[FRONT_CLI_MAX_LINE];
    char *p = line, *end = line + sizeof line - 2; /* room for "]\n" */
    p += snprintf(line, sizeof line, "%s [", FRONT_CLI_REQUEST);
    for (int i = 1; i < argc; i++) {
        if (front_common_option(argv[i]) == FRONT_OPT_DATA_DIR) {
            i++;
            continue;
        }
        if (p[-1] != '[') {
            if (p >= end) return -1;
            *p++ = ',';
        }
        if (json_put(&p, end, argv[i])) return -1; /* too long a line: the engine server runs it */
    }
    *p++ = ']';
    *p++ = '\n';
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char dir[PATH_MAX];
    if (data_dir(cl, dir, sizeof dir) ||
        snprintf(a.sun_path, sizeof a.sun_path, "%s/daemon.sock", dir) >= (int)sizeof a.sun_path)
        return -1;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    if (connect(s, (struct sockaddr *)&a, sizeof a) || send_all(s, line, (size_t)(p - line))) {
        close(s);
        return -1;
    }
    /* the header: "OK STATUS ERRLEN OUTLEN\n" or "NO ...\n"; the search may wait for the model
     * to load, as the engine's own SEARCH request would (30 s, ipc_search.c). The whole reply is
     * read before a byte is written: the daemon's thread is never held by a slow reader of this
     * process's output (`| less`), and a daemon that goes away mid-reply leaves no half output
     * (the engine server then runs the command) */
    size_t cap = 1 << 16, have = 0, need = 0; /* need: the whole reply's bytes, once the header is read */
    char *buf = malloc(cap);
    int st = -1;
    unsigned long long elen = 0, olen = 0;
    while (buf && (!need || have < need)) {
        struct pollfd pf = {s, POLLIN, 0};
        int r = poll(&pf, 1, 30000);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; /* no answer in time */
        ssize_t k = read(s, buf + have, cap - have);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        have += (size_t)k;
        char *nl = need ? NULL : memchr(buf, '\n', have);
        if (!need && !nl) {
            if (have >= 4096) break; /* a header is one short line */
            continue;
        }
        if (nl) {
            char tail;
            *nl = 0;
            if (sscanf(buf, "OK %d %llu %llu%c", &st, &elen, &olen, &tail) != 3 || st < 0 || st > 255 ||
                elen > FRONT_CLI_MAX_REPLY || olen > FRONT_CLI_MAX_REPLY)
                break; /* NO (the engine runs it), or not the daemon this front knows */
            need = (size_t)(nl - buf) + 1 + (size_t)elen + (size_t)olen;
            char *g = need > cap ? realloc(buf, need) : buf;
            if (!g) break;
            buf = g;
            cap = need > cap ? need : cap;
        }
    }
    close(s);
    if (!buf || !need || have < need) {
        free(buf);
        return -1;
    }
    const char *body = buf + (need - (size_t)elen - (size_t)olen);
    put_out(2, body, (size_t)elen);
    put_out(1, body + elen, (size_t)olen);
    exit(st);
}

/* The commands worth a daemon's engine server: the quick, non-interactive ones a person or a
 * picker runs often (an editor or a confirmation prompt needs the terminal's foreground). */
static int served(const char *cmd) {
    static const char *names[] = {"search", "list", "pick", "show", "status", "copy"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(cmd, names[i])) return 1;
    return 0;
}

int main(int argc, char **argv) {
    cmdline cl = parse_cmdline(argc, argv);
    int rc = answer_help(argc, argv, &cl);
    if (rc >= 0) return rc;
    if (cl.readable && cl.cmd && served(cl.cmd) && !getenv("CLIPSEEK_NO_DAEMON")) {
        run_answered(argc, argv, &cl);
        run_served(argc, argv, &cl);
    }
    char engine[PATH_MAX];
    if (find_engine(engine, sizeof engine) == 0) {
        execv(engine, argv);
        fprintf(stderr, "clipseek: cannot run the engine %s: %s\n", engine, strerror(errno));
    } else
        fprintf(stderr,
                "clipseek: the engine is missing (last looked for: %s); reinstall with `make install`, or set "
                "CLIPSEEK_ENGINE\n",
                engine);
    return FRONT_NO_ENGINE;
}
