/* cli_popup: `clipseek popup`, the hotkey popup. It remembers which window has the keyboard focus,
 * opens a picker near the pointer, and when an entry is chosen puts it on the clipboard, gives the
 * focus back and types the paste keystroke there (paste.h). Escape closes the picker and nothing
 * happens.
 *
 * Pickers: rofi in script mode over clipseek-rofi (scripts/; X11, and XWayland): rofi filters the
 * recent entries as you type, Shift+Enter searches the typed text by words and meaning (the same
 * ranking as `clipseek search`), images show their thumbnails. On Wayland without rofi: fuzzel or
 * wofi in dmenu mode over the recent entries. Arguments after `--` go to the picker as they are
 * (tests drive rofi with -filter and -auto-select). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../capture/paste.h"
#include "cli.h"

/* name looked up in PATH; path gets the first executable match */
static int find_in_path(const char *name, char *path, size_t n) {
    const char *env = getenv("PATH");
    if (!env) return -1;
    for (const char *p = env; *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len && snprintf(path, n, "%.*s/%s", (int)len, p, name) < (int)n && access(path, X_OK) == 0) return 0;
        p += len + (colon != NULL);
    }
    return -1;
}

/* One of the files installed beside the front, found from this engine's own path as the front
 * finds the engine (src/front/front.c): in a build folder, wherever BUILD= puts it, the front,
 * the engine and the rofi script lie side by side (the Makefile copies the script there);
 * installed, the engine is in PREFIX/libexec/clipseek/ and the others in PREFIX/bin/. Beside
 * first: no installed engine has them beside it, while a build folder's ../../bin may be
 * anything (/tmp/b's is /bin). Returns 0 with the path, -1. */
static int find_beside(const char *self, const char *name, char *path, size_t n) {
    const char *slash = strrchr(self, '/');
    int dl = slash ? (int)(slash - self) : 0;
    const char *rel[] = {"/", "/../../bin/"};
    for (int i = 0; i < 2; i++)
        if (snprintf(path, n, "%.*s%s%s", dl, self, rel[i], name) < (int)n && access(path, X_OK) == 0) return 0;
    return -1;
}

/* The rofi script: $CLIPSEEK_ROFI_SCRIPT, else beside the front (find_beside), else on PATH. */
static int find_script(const char *self, char *path, size_t n) {
    const char *env = getenv("CLIPSEEK_ROFI_SCRIPT");
    if (env && *env) return snprintf(path, n, "%s", env) < (int)n && access(path, X_OK) == 0 ? 0 : -1;
    return find_beside(self, "clipseek-rofi", path, n) == 0 ? 0 : find_in_path("clipseek-rofi", path, n);
}

/* Runs argv and waits; returns its exit status, or -1 when it could not run. */
static int run_wait(char **argv) {
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid < 0) return -1;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* rofi's script mode; the script writes the chosen id to a private file instead of copying */
static int pick_rofi(const char *self, const char *cs, char **extra, int nextra, char *id, size_t idn) {
    char script[PATH_MAX], modi[PATH_MAX + 64], picked[PATH_MAX];
    if (find_script(self, script, sizeof script))
        return cli_fail(
            "popup: clipseek-rofi not found beside %s, in ../../bin or on PATH (or set CLIPSEEK_ROFI_SCRIPT)", self);
    if (strchr(script, '\''))
        return cli_fail("popup: the script's path holds a quote, which rofi's command line cannot carry: %s", script);
    const char *rt = getenv("XDG_RUNTIME_DIR");
    snprintf(picked, sizeof picked, "%s/clipseek-popup-XXXXXX", rt && *rt ? rt : "/tmp");
    int fd = mkstemp(picked); /* 0600 */
    if (fd < 0) return cli_fail("popup: %s: %s", picked, strerror(errno));
    close(fd);
    /* rofi splits the mode's command like a shell: quote the path */
    snprintf(modi, sizeof modi, "clipseek:'%s'", script);
    setenv("CLIPSEEK", cs, 1);
    setenv("CLIPSEEK_ROFI_PICKED", picked, 1);
    char *argv[64];
    int k = 0;
    argv[k++] = "rofi";
    argv[k++] = "-show";
    argv[k++] = "clipseek";
    argv[k++] = "-modi";
    argv[k++] = modi;
    argv[k++] = "-show-icons";
    argv[k++] = "-monitor"; /* -3: at the pointer, like a context menu */
    argv[k++] = "-3";
    for (int i = 0; i < nextra && k < 63; i++) argv[k++] = extra[i];
    argv[k] = NULL;
    int rc = run_wait(argv);
    FILE *f = fopen(picked, "r");
    id[0] = 0;
    if (f) {
        if (!fgets(id, (int)idn, f)) id[0] = 0;
        fclose(f);
    }
    unlink(picked);
    if (rc == 127 || rc < 0) return cli_fail("popup: cannot run rofi (apt-get install rofi)");
    return CLI_OK;
}

/* fuzzel/wofi --dmenu over "ID: preview" lines of the recent entries */
static int pick_dmenu(const char *cs, const char *picker, char **extra, int nextra, char *id, size_t idn) {
    int fds[2];
    if (pipe(fds) != 0) return cli_fail("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        /* $1: the front (or this engine); the rest: the picker's command line. Tabs end the
         * preview column. The list is complete before the picker starts: an Enter typed at once
         * picks from all of it, never from none of it yet */
        char *argv[64];
        int k = 0;
        argv[k++] = "sh";
        argv[k++] = "-c";
        argv[k++] = "cs=$1; shift; rows=$(\"$cs\" search '' --format tsv --limit 200 | "
                    "awk -F '\\t' '{ print $1 \": \" $3 }') && printf '%s\\n' \"$rows\" | \"$@\"";
        argv[k++] = "sh";
        argv[k++] = (char *)cs;
        argv[k++] = (char *)picker;
        argv[k++] = "--dmenu";
        for (int i = 0; i < nextra && k < 63; i++) argv[k++] = extra[i];
        argv[k] = NULL;
        execv("/bin/sh", argv);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return cli_fail("fork: %s", strerror(errno));
    }
    size_t got = 0;
    char buf[256];
    ssize_t r;
    while ((r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0 && (got += (size_t)r) == sizeof buf - 1) break;
    close(fds[0]);
    buf[got] = 0;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    size_t digits = strspn(buf, "0123456789");
    if (digits && buf[digits] == ':' && digits < idn)
        snprintf(id, idn, "%.*s", (int)digits, buf);
    else
        id[0] = 0;
    return CLI_OK;
}

int cmd_popup(int argc, char **argv) {
    const char *picker = getenv("CLIPSEEK_PICKER"), *keys = NULL;
    int paste = 1, extra = argc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            extra = i + 1;
            break;
        }
        if (!strcmp(argv[i], "--picker") && i + 1 < argc)
            picker = argv[++i];
        else if (!strcmp(argv[i], "--keys") && i + 1 < argc)
            keys = argv[++i];
        else if (!strcmp(argv[i], "--no-paste"))
            paste = 0;
        else
            return cli_usage("popup: unexpected argument '%s'", argv[i]);
    }
    if (picker && *picker && strcmp(picker, "rofi") && strcmp(picker, "fuzzel") && strcmp(picker, "wofi"))
        return cli_usage("popup: --picker is rofi, fuzzel or wofi");
    if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY"))
        return cli_fail("popup: no display (neither WAYLAND_DISPLAY nor DISPLAY is set)");
    char tool[PATH_MAX];
    if (!picker || !*picker) { /* a native Wayland picker first, then rofi (X11, or XWayland) */
        picker = NULL;
        const char *order[] = {"fuzzel", "wofi", "rofi"};
        for (int i = getenv("WAYLAND_DISPLAY") ? 0 : 2; i < 3 && !picker; i++)
            if (find_in_path(order[i], tool, sizeof tool) == 0) picker = order[i];
        if (!picker) return cli_fail("popup: no picker found: install rofi (X11), or fuzzel or wofi (Wayland)");
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return cli_fail("popup: cannot find this program: %s", strerror(errno));
    self[n] = 0;
    /* the picker's commands (a search per query) through the front, beside this engine: while the
     * daemon runs, its engine server answers them in milliseconds instead of a new engine each */
    char front[PATH_MAX];
    const char *cs = find_beside(self, "clipseek", front, sizeof front) == 0 ? front : self;
    /* the picker's commands must read the same history as this one */
    char *dir = cli_data_dir();
    if (!dir) return cli_fail("no data directory: set HOME, XDG_DATA_HOME, CLIPSEEK_DATA_DIR or --data-dir");
    setenv("CLIPSEEK_DATA_DIR", dir, 1);
    free(dir);
    /* before the picker takes the keyboard */
    paste_target t;
    paste_target_save(&t);
    char id[32];
    int rc = !strcmp(picker, "rofi") ? pick_rofi(self, cs, argv + extra, argc - extra, id, sizeof id)
                                     : pick_dmenu(cs, picker, argv + extra, argc - extra, id, sizeof id);
    if (rc) return rc;
    id[strcspn(id, "\r\n")] = 0;
    if (!id[0]) return CLI_OK; /* Escape: nothing chosen */
    return cli_copy_paste(id, paste, &t, keys);
}
