/* paste: see paste.h. */
#include "paste.h"

#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "x11own.h"

int paste_entry(store *s, const store_entry *e, cs_err *err) {
    unsigned char *d = NULL;
    size_t n = 0;
    if (store_content(s, e, &d, &n, err)) return -1;
    /* X11 clients ask plain text as UTF8_STRING; images by their MIME type */
    const char *type = e->text ? "text/plain;charset=utf-8" : e->mime;
    char *args[8];
    const char *prog = NULL; /* what to run, when it is not args[0] looked up in PATH */
    int k = 0;
    if (!getenv("WAYLAND_DISPLAY") && getenv("DISPLAY") && !strcmp(e->kind, "files")) {
        /* xclip offers one target; a file manager wants text/uri-list or GNOME's form, so our own
         * binary serves them all (x11own.h) */
        prog = "/proc/self/exe";
        args[k++] = "clipseek";
        args[k++] = "x11-own-files";
        args[k++] = (char *)(e->mime ? e->mime : "text/uri-list");
    } else if (getenv("WAYLAND_DISPLAY")) {
        if (!strcmp(e->kind, "files")) {
            /* wl-copy offers one type (and, for a text/ type, the plain-text names beside it), so a
             * files entry goes out as a text/uri-list (CRLF lines, RFC 2483), which file managers
             * on Wayland paste as files; GNOME's own form would need a second offer */
            x11own_item items[4];
            char *bufs = NULL;
            if (x11own_files_items(d, n, e->mime, items, &bufs, err) < 0) {
                free(d);
                return -1;
            }
            unsigned char *u = malloc(items[0].len);
            if (u) memcpy(u, items[0].data, items[0].len);
            n = items[0].len;
            free(bufs);
            free(d);
            d = u;
            if (!d) return cs_errc(err, CS_ENOMEM, "out of memory");
            type = "text/uri-list";
        }
        args[k++] = "wl-copy";
        args[k++] = "--type";
        args[k++] = (char *)type;
    } else if (getenv("DISPLAY")) {
        args[k++] = "xclip";
        args[k++] = "-selection";
        args[k++] = "clipboard";
        args[k++] = "-t";
        args[k++] = (char *)(!strcmp(e->kind, "text") ? "UTF8_STRING" : type);
        args[k++] = "-i";
    } else {
        free(d);
        return cs_err_set(err, "copy: no display (neither WAYLAND_DISPLAY nor DISPLAY is set)");
    }
    args[k] = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        free(d);
        return cs_err_set(err, "pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[0], 0);
        if (prog)
            execv(prog, args);
        else
            execvp(args[0], args);
        _exit(127);
    }
    close(fds[0]);
    /* a tool that dies early must not kill us with SIGPIPE (the daemon serves the web page) */
    struct sigaction ign = {0}, old;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old);
    size_t off = 0;
    while (pid > 0 && off < n) {
        ssize_t w = write(fds[1], d + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(fds[1]);
    sigaction(SIGPIPE, &old, NULL);
    free(d);
    if (pid < 0) return cs_err_set(err, "fork: %s", strerror(errno));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return cs_err_set(err, "copy: %s failed%s", args[0],
                          WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (not installed?)" : "");
    if (off < n) return cs_err_set(err, "copy: %s did not take the whole clip", args[0]);
    return 0;
}

/* Runs argv (looked up in PATH) with stdin and stderr on /dev/null; up to n-1 bytes of its stdout
 * go to out (may be NULL). Returns its exit status, 127 when it cannot run, -1 on a system error. */
static int run_tool(char *const argv[], char *out, size_t n) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 2);
        }
        dup2(fds[1], 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    size_t got = 0;
    char sink[4096];
    for (;;) { /* read to the end, so the tool never blocks on a full pipe */
        char *dst = out && got + 1 < n ? out + got : sink;
        size_t room = out && got + 1 < n ? n - 1 - got : sizeof sink;
        ssize_t k = read(fds[0], dst, room);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        if (dst != sink) got += (size_t)k;
    }
    close(fds[0]);
    if (out && n) out[got] = 0;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* sway's tree: the id of the node marked focused (a window, or an empty workspace) */
static int sway_focused(json_t *node, unsigned long *id) {
    if (json_is_true(json_object_get(node, "focused"))) {
        *id = (unsigned long)json_integer_value(json_object_get(node, "id"));
        return 1;
    }
    const char *lists[] = {"nodes", "floating_nodes"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(node, lists[l]), i, c) if (sway_focused(c, id)) return 1;
    }
    return 0;
}

void paste_target_save(paste_target *t) {
    t->kind = PASTE_FOCUSED;
    t->id = 0;
    char out[64];
    if (getenv("WAYLAND_DISPLAY")) {
        if (!getenv("SWAYSOCK")) return;
        /* the tree is a few kB per window: read it through a file-sized buffer */
        size_t cap = 4u << 20;
        char *buf = malloc(cap);
        char *argv[] = {"swaymsg", "-r", "-t", "get_tree", NULL};
        if (buf && run_tool(argv, buf, cap) == 0) {
            json_t *tree = json_loads(buf, 0, NULL);
            if (tree && sway_focused(tree, &t->id)) t->kind = PASTE_SWAY_CON;
            json_decref(tree);
        }
        free(buf);
        return;
    }
    if (!getenv("DISPLAY")) return;
    /* getactivewindow needs a window manager that sets _NET_ACTIVE_WINDOW; without one the input
     * focus is the answer */
    char *active[] = {"xdotool", "getactivewindow", NULL}, *focus[] = {"xdotool", "getwindowfocus", "-f", NULL};
    if (run_tool(active, out, sizeof out) != 0 && run_tool(focus, out, sizeof out) != 0) return;
    char *end;
    unsigned long w = strtoul(out, &end, 10);
    if (end != out && w) {
        t->kind = PASTE_X11_WINDOW;
        t->id = w;
    }
}

int paste_keys(const paste_target *t, const char *keys, cs_err *err) {
    if (!keys) keys = "ctrl+v";
    /* split "ctrl+shift+v" into modifiers and the key */
    char buf[128], *parts[8];
    int np = 0;
    if (snprintf(buf, sizeof buf, "%s", keys) >= (int)sizeof buf)
        return cs_err_set(err, "paste keys '%.64s...': too long", keys);
    size_t kl = strlen(keys);
    if (!kl || keys[0] == '+' || keys[kl - 1] == '+' || strstr(keys, "++"))
        return cs_err_set(err, "paste keys '%s': an empty part (write e.g. ctrl+v)", keys);
    for (char *save = NULL, *p = strtok_r(buf, "+", &save); p; p = strtok_r(NULL, "+", &save)) {
        if (np == 8) return cs_err_set(err, "paste keys '%s': too many parts", keys);
        parts[np++] = p;
    }
    if (np == 0) return cs_err_set(err, "paste keys '%s': no key", keys);
    for (int i = 0; i < np; i++) {
        for (const char *c = parts[i]; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
                return cs_err_set(err, "paste keys '%s': '%s' is not a key name", keys, parts[i]);
        if (i < np - 1 && strcmp(parts[i], "ctrl") && strcmp(parts[i], "shift") && strcmp(parts[i], "alt") &&
            strcmp(parts[i], "super"))
            return cs_err_set(err, "paste keys '%s': modifiers are ctrl, shift, alt and super", keys);
    }
    /* the longest, wtype's: its name, 7 modifiers pressed and released, -k KEY, -p VoidSymbol, NULL */
    char *argv[40], idbuf[32];
    int k = 0, rc;
    if (getenv("WAYLAND_DISPLAY")) {
        if (t && t->kind == PASTE_SWAY_CON) {
            snprintf(idbuf, sizeof idbuf, "[con_id=%lu]", t->id);
            char *sw[] = {"swaymsg", idbuf, "focus", NULL};
            if ((rc = run_tool(sw, NULL, 0)) == 127)
                return cs_errc(err, CS_EUNSUPPORTED,
                               "paste: swaymsg not found, so the focus cannot go back; the entry is on the "
                               "clipboard: paste it with %s",
                               keys);
            if (rc != 0)
                return cs_errc(err, CS_ENOTFOUND,
                               "paste: could not give the focus back to sway container %lu (the window was "
                               "closed?); nothing typed, the entry is on the clipboard: paste it with %s",
                               t->id, keys);
        }
        /* wtype presses the modifiers (-M), taps the key (-k), releases them (-m) in reverse order.
         * wtype uploads a keymap of just the keys it types, in order, and declares its maximum
         * keycode as the last of them; GTK 3 looks keys up for its shortcuts over min <= keycode <
         * max (gdkkeys-wayland.c), so the last key is invisible to them: ctrl+v reaches a GtkEntry
         * as a v with ctrl held that matches no shortcut, and nothing is pasted. A release of a key
         * that nothing presses (VoidSymbol) comes last in the keymap and keeps the real key below
         * the maximum; clients ignore the release. */
        argv[k++] = "wtype";
        for (int i = 0; i < np - 1; i++) {
            argv[k++] = "-M";
            argv[k++] = !strcmp(parts[i], "super") ? "logo" : parts[i];
        }
        argv[k++] = "-k";
        argv[k++] = parts[np - 1];
        for (int i = np - 2; i >= 0; i--) {
            argv[k++] = "-m";
            argv[k++] = !strcmp(parts[i], "super") ? "logo" : parts[i];
        }
        argv[k++] = "-p";
        argv[k++] = "VoidSymbol";
    } else if (getenv("DISPLAY")) {
        argv[k++] = "xdotool";
        if (t && t->kind == PASTE_X11_WINDOW) {
            /* focus first and wait until the server says it has it: keys typed before that would
             * go to the popup's window, or nowhere */
            snprintf(idbuf, sizeof idbuf, "%lu", t->id);
            argv[k++] = "windowfocus";
            argv[k++] = "--sync";
            argv[k++] = idbuf;
        }
        argv[k++] = "key";
        argv[k++] = "--clearmodifiers";
        argv[k++] = (char *)keys;
    } else
        return cs_err_set(err, "paste: no display (neither WAYLAND_DISPLAY nor DISPLAY is set)");
    argv[k] = NULL;
    if ((rc = run_tool(argv, NULL, 0)) != 0)
        return cs_err_set(err, "paste: %s failed%s", argv[0], rc == 127 ? " (not installed?)" : "");
    return 0;
}
