/* clipseek's front binary: what `clipseek` runs. It links libc alone, so it starts in about a
 * millisecond, where the engine (every command: the CLIP towers, BLAS, OCR, HTTP, curl; 100-odd
 * shared libraries, 20-150 ms to load) is exec'd only for the work.
 *
 * It answers by itself only what needs no data: `help`, `--version`, `COMMAND --help`, the same
 * bytes and exit status as the engine's main.c (both print from front_help.c). Everything else,
 * and any command line with a common option (--data-dir, --device, --dtype, --threads: the engine
 * checks their values first), is exec'd unchanged (same argv, same pid, so the systemd unit's
 * MainPID and a test's kill by pid stay right) into the engine:
 *   $CLIPSEEK_ENGINE when set (tests; a path, never looked up on PATH), else
 *   DIR/../libexec/clipseek/clipseek-engine (installed: make install), else
 *   DIR/clipseek-engine (the build tree), DIR being the folder of this binary (/proc/self/exe). */
#include <errno.h>
#include <stdlib.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "front_help.h"

enum { FRONT_OK = 0, FRONT_USAGE = 2, FRONT_NO_ENGINE = 127 };

/* Whether the engine's main.c would strip a common option from this command line. */
static int has_common_option(int argc, char **argv) {
    static const char *opts[] = {"--data-dir", "--device", "--dtype", "--threads"};
    for (int i = 1; i < argc; i++)
        for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
            if (!strcmp(argv[i], opts[k])) return 1;
    return 0;
}

/* Answers what main.c answers before it parses anything: returns the exit status, or -1 when the
 * engine must run. */
static int answer_help(int argc, char **argv) {
    if (argc < 2) {
        front_usage(stderr);
        return FRONT_USAGE;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "version")) {
        front_print_version();
        return FRONT_OK;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        const front_command *c = argc > 2 ? front_find(argv[2]) : NULL;
        if (c) return front_print_usage(c);
        front_usage(stdout);
        return FRONT_OK;
    }
    const front_command *c = front_find(argv[1]);
    if (!c || has_common_option(argc, argv)) return -1;
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

int main(int argc, char **argv) {
    int rc = answer_help(argc, argv);
    if (rc >= 0) return rc;
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
