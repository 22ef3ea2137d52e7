/* wayland: see wayland.h. */
#include "wayland.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <wayland-client.h>

static void on_global(void *data, struct wl_registry *reg, uint32_t name, const char *iface, uint32_t version) {
    (void)reg;
    (void)name;
    (void)version;
    wayland_info *w = data;
    /* wl-paste --watch needs one of these (wl-clipboard 2.1.0 knows the wlr one; later versions
     * also the ext one, merged into wayland-protocols 1.39) */
    if (!strcmp(iface, "zwlr_data_control_manager_v1") || !strcmp(iface, "ext_data_control_manager_v1")) {
        if (!w->data_control) snprintf(w->protocol, sizeof w->protocol, "%s", iface);
        w->data_control = 1;
    }
}

static void on_global_remove(void *data, struct wl_registry *reg, uint32_t name) {
    (void)data;
    (void)reg;
    (void)name;
}

int wayland_probe(wayland_info *out, cs_err *err) {
    memset(out, 0, sizeof *out);
    const char *name = getenv("WAYLAND_DISPLAY");
    if (!name || !*name) return cs_err_set(err, "WAYLAND_DISPLAY is not set");
    struct wl_display *d = wl_display_connect(NULL);
    if (!d) return cs_err_set(err, "cannot connect to the Wayland compositor %s: %s", name, strerror(errno));
    static const struct wl_registry_listener l = {on_global, on_global_remove};
    struct wl_registry *reg = wl_display_get_registry(d);
    int rc = 0;
    if (!reg || wl_registry_add_listener(reg, &l, out) != 0 || wl_display_roundtrip(d) < 0)
        rc = cs_err_set(err, "the Wayland compositor %s did not list its globals", name);
    if (reg) wl_registry_destroy(reg);
    wl_display_disconnect(d);
    return rc;
}

/* ---- sway IPC (the i3 protocol: "i3-ipc", u32 length, u32 type, then JSON) ---- */

static int io_all(int fd, void *buf, size_t n, int wr, const struct timespec *end) {
    unsigned char *p = buf;
    while (n) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (end->tv_sec - now.tv_sec) * 1000 + (end->tv_nsec - now.tv_nsec) / 1000000;
        struct pollfd pf = {fd, wr ? POLLOUT : POLLIN, 0};
        if (ms <= 0 || poll(&pf, 1, (int)ms) <= 0) return -1;
        ssize_t k = wr ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static const json_t *find_focused(const json_t *node, int depth) {
    if (!json_is_object(node) || depth > 64) return NULL;
    if (json_is_true(json_object_get(node, "focused"))) return node;
    const char *keys[] = {"nodes", "floating_nodes"};
    for (int k = 0; k < 2; k++) {
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(node, keys[k]), i, c) {
            const json_t *f = find_focused(c, depth + 1);
            if (f) return f;
        }
    }
    return NULL;
}

int wayland_focused_app(char *buf, size_t n, int timeout_ms) {
    const char *path = getenv("SWAYSOCK");
    if (!path || !*path || n == 0) return -1;
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path) return -1;
    memcpy(a.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += timeout_ms / 1000;
    end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (end.tv_nsec >= 1000000000) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000;
    }
    unsigned char hdr[14] = {'i', '3', '-', 'i', 'p', 'c'};
    uint32_t len = 0, type = 4; /* GET_TREE */
    memcpy(hdr + 6, &len, 4);   /* native byte order, as the protocol says */
    memcpy(hdr + 10, &type, 4);
    int rc = -1;
    char *body = NULL;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && io_all(fd, hdr, sizeof hdr, 1, &end) == 0 &&
        io_all(fd, hdr, sizeof hdr, 0, &end) == 0 && !memcmp(hdr, "i3-ipc", 6)) {
        memcpy(&len, hdr + 6, 4);
        if (len > 0 && len < (64u << 20) && (body = malloc(len + 1)) && io_all(fd, body, len, 0, &end) == 0) {
            body[len] = 0;
            json_t *tree = json_loads(body, 0, NULL);
            const json_t *f = find_focused(tree, 0);
            const char *app = json_string_value(json_object_get(f, "app_id"));
            if (!app) app = json_string_value(json_object_get(json_object_get(f, "window_properties"), "class"));
            if (app && *app) {
                snprintf(buf, n, "%s", app);
                rc = 0;
            }
            json_decref(tree);
        }
    }
    free(body);
    close(fd);
    return rc;
}
