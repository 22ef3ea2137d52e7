/* cli_doctor: `clipseek doctor [--json]`, one line per check for a person: name, OK/WARN/FAIL,
 * what was found and, when it is not OK, what to do. FAIL means clips are being lost or cannot be
 * found: no daemon or capture not running, the history paused with no end, a damaged store, a
 * config or model that does not load. Any FAIL makes the exit status 1; WARN does not.
 * The web port is the running daemon's (from its STATUS), not the config's default: with
 * `--web-port 0` or a busy port they differ. --json prints {"ok", "checks": [{"check", "level",
 * "message"}], "daemon": STATUS or null} for scripts. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../capture/ingest.h"
#include "../capture/wayland.h"
#include "../config/rules.h"
#include "../daemon/daemon.h"
#include "../front/front_proto.h"
#include "../model/clip.h"
#include "../organize/ocr.h"
#include "../store/store.h"
#include "cli.h"

enum { DR_OK, DR_WARN, DR_FAIL };

typedef struct doctor {
    json_t *checks; /* --json: the lines, else NULL (printed as they come) */
    int fails;
} doctor;

static void line(doctor *d, const char *check, int level, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void line(doctor *d, const char *check, int level, const char *fmt, ...) {
    static const char *names[] = {"OK", "WARN", "FAIL"};
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (level == DR_FAIL) d->fails++;
    if (d->checks)
        json_array_append_new(d->checks,
                              json_pack("{s:s, s:s, s:s}", "check", check, "level", names[level], "message", msg));
    else
        printf("%-9s %-4s  %s\n", check, names[level], msg);
}

/* what the running daemon says about capture; returns 1 when it captures */
static void check_daemon(doctor *d, json_t *st, const char *dir) {
    if (!st) {
        line(d, "daemon", DR_FAIL,
             "not running, so nothing is captured: start it with `clipseek daemon` or "
             "`systemctl --user enable --now clipseek` (%s)",
             dir);
        return;
    }
    const char *model = json_string_value(json_object_get(st, "model"));
    line(d, "daemon", DR_OK, "running, pid %lld; %lld clips stored, %lld indexed this run%s%s",
         (long long)json_integer_value(json_object_get(st, "pid")),
         (long long)json_integer_value(json_object_get(st, "clips")),
         (long long)json_integer_value(json_object_get(st, "indexed")), model && *model ? ", model " : "",
         model && *model ? model : "");
    const char *cap = json_string_value(json_object_get(st, "capture"));
    const char *err = json_string_value(json_object_get(st, "last_error"));
    if (!cap || !strcmp(cap, "failed"))
        line(d, "capture", DR_FAIL, "not running: %s", err && *err ? err : "(no reason given)");
    else if (!strcmp(cap, "none"))
        line(d, "capture", DR_FAIL,
             "not running: the daemon saw no display (DISPLAY and WAYLAND_DISPLAY unset); under "
             "systemd run `systemctl --user import-environment DISPLAY WAYLAND_DISPLAY XAUTHORITY` "
             "and restart it");
    else if (!strcmp(cap, "off"))
        line(d, "capture", DR_FAIL,
             "off: this is `clipseek web` serving the page alone; start `clipseek daemon` to capture");
    else {
        long long lost = json_integer_value(json_object_get(st, "not_stored"));
        if (lost)
            line(d, "capture", DR_WARN, "%s; %lld clips could not be stored, last: %s", cap, lost,
                 err && *err ? err : "?");
        else
            line(d, "capture", DR_OK, "%s", cap);
    }
    const char *cfg = json_string_value(json_object_get(st, "config_error"));
    if (cfg && *cfg) line(d, "reload", DR_FAIL, "the daemon kept its previous settings: %s", cfg);
}

/* Wayland: wl-paste --watch needs the data-control protocol; GNOME/Mutter and weston have none */
/* Where this engine is (the front `clipseek` execs it), and whether the running daemon keeps
 * the engine server that runs the quick commands in forks (src/front/front_server.h). */
static void check_engine(doctor *d, const char *dir, int daemon) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;
    line(d, "engine", DR_OK, "%s", n > 0 ? self : "(unknown: no /proc/self/exe)");
    if (!daemon) return;
    char sock[PATH_MAX];
    struct stat sb;
    snprintf(sock, sizeof sock, "%s/%s", dir, FRONT_SOCKET);
    if (stat(sock, &sb) == 0 && S_ISSOCK(sb.st_mode))
        line(d, "server", DR_OK, "%s: search, list, pick, show, status and copy run in forks of the daemon's engine",
             sock);
    else
        line(d, "server", DR_WARN,
             "no %s: the daemon keeps no engine server (an older daemon, or see its log), so every command loads "
             "the engine's libraries itself (slower); restart the daemon",
             sock);
}

static void check_wayland(doctor *d) {
    wayland_info wi;
    cs_err we;
    if (wayland_probe(&wi, &we))
        line(d, "wayland", DR_FAIL, "%s", we.msg);
    else if (wi.data_control)
        line(d, "wayland", DR_OK, "capture through wl-paste --watch (%s)", wi.protocol);
    else if (getenv("DISPLAY"))
        line(d, "wayland", DR_WARN,
             "this compositor has no data-control protocol: capturing through XWayland (DISPLAY=%s) "
             "instead; copies in Wayland apps reach it only when the compositor syncs the clipboard "
             "to XWayland (GNOME does)",
             getenv("DISPLAY"));
    else
        line(d, "wayland", DR_FAIL,
             "this compositor has no data-control protocol (GNOME/Mutter and weston have none), so "
             "Wayland clipboard capture cannot work. Use XWayland capture: start the daemon with "
             "DISPLAY set to the XWayland display (e.g. DISPLAY=:0 clipseek daemon)");
}

static void check_store(doctor *d, store *s) {
    store_report r;
    cs_err e;
    if (store_check(s, 1, &r, &e)) {
        line(d, "store", DR_FAIL, "%s", e.msg);
        return;
    }
    int bad = r.missing_blobs > 0 || r.integrity_ok == 0;
    line(d, "store",
         bad              ? DR_FAIL
         : r.orphan_blobs ? DR_WARN
                          : DR_OK,
         "%lld entries, %lld vectors, %lld missing blobs, %lld orphan blobs, integrity %s%s", (long long)r.entries,
         (long long)r.vectors, (long long)r.missing_blobs, (long long)r.orphan_blobs, r.integrity,
         r.orphan_blobs && !bad ? " (`clipseek gc` removes orphans)" : "");
    /* a pause with no end loses every clip from now on (FAIL); a timed pause (`pause 10m`) ends
     * by itself (WARN, with its end); the wording is `clipseek status`'s (cli_pause_line) */
    ingest_pause pz;
    char pl[1200];
    int pr = cli_pause_line(s, pl, sizeof pl);
    if (pr < 0)
        line(d, "pause", DR_FAIL, "%s", pl);
    else if (pr)
        line(d, "pause", DR_FAIL, "paused with no end: nothing is stored (`clipseek resume`)");
    else if (ingest_pause_state(s, &pz, &e) == 0 && pz.paused)
        line(d, "pause", DR_WARN, "%s: nothing is stored until then (`clipseek resume` ends it now)", pl);
    else
        line(d, "pause", DR_OK, "recording%s", pz.skip_next ? " (the next copy will be skipped: pause --next)" : "");
    char *m = cli_model_dir(s, NULL);
    if (m) {
        clip_ctx *c;
        clip_params p = cli_clip_params(1);
        if (clip_load(m, &p, &c, &e) == 0) {
            const clip_info *in = clip_get_info(c);
            line(d, "model", DR_OK, "%s (%d-dim, %s)", m, in->projection_dim, in->dtype);
            if (!d->checks) cli_device_print(c, "device    OK    ");
            clip_free(c);
        } else
            line(d, "model", DR_FAIL, "%s: %s", m, e.msg);
    } else
        line(d, "model", DR_WARN, "none (`clipseek model use DIR`); capture and full-text search work without one");
    free(m);
}

int cmd_doctor(int argc, char **argv) {
    doctor d = {NULL, 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json") && !d.checks)
            d.checks = json_array();
        else {
            json_decref(d.checks);
            return cli_usage("doctor: expected [--json]");
        }
    }
    char *dir = cli_data_dir();
    if (dir)
        line(&d, "data dir", DR_OK, "%s", dir);
    else
        line(&d, "data dir", DR_FAIL, "none: set HOME, XDG_DATA_HOME or CLIPSEEK_DATA_DIR");
    const char *x = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
    if (w)
        line(&d, "display", DR_OK, "Wayland WAYLAND_DISPLAY=%s%s%s", w, x ? ", DISPLAY=" : "", x ? x : "");
    else if (x)
        line(&d, "display", DR_OK, "X11 DISPLAY=%s", x);
    else
        line(&d, "display", DR_WARN, "none in this shell (the daemon's own is what counts)");
    if (w) check_wayland(&d);
    char buf[4096];
    json_t *st = NULL;
    if (dir && daemon_request(dir, "STATUS", buf, sizeof buf, 2000) == 0) st = json_loads(buf, 0, NULL);
    if (dir) check_daemon(&d, st, dir);
    if (dir) check_engine(&d, dir, st != NULL);
    store *s = dir ? cli_open_store() : NULL;
    if (s) {
        check_store(&d, s);
        store_close(s);
    } else if (dir)
        line(&d, "store", DR_FAIL, "cannot open the store in %s (the error is above)", dir);
    /* the organiser's settings and OCR's language data */
    rules *r = NULL;
    cs_err e;
    char *cfgpath = rules_default_path();
    if (rules_load(NULL, &r, &e))
        line(&d, "config", DR_FAIL, "%s", e.msg);
    else {
        int exists = cfgpath && access(cfgpath, F_OK) == 0;
        line(&d, "config", DR_OK, "%s%s", cfgpath ? cfgpath : "", exists ? "" : " (no file: the defaults)");
        org_settings o = rules_org(r);
        ocr *oc = NULL;
        if (!o.ocr)
            line(&d, "ocr", DR_OK, "off (ocr = false)");
        else if (ocr_open(o.ocr_lang, NULL, &oc, &e) == 0)
            line(&d, "ocr", DR_OK, "%s", o.ocr_lang);
        else
            line(&d, "ocr", DR_FAIL, "%s", e.msg);
        ocr_close(oc);
        /* the port the daemon really serves, which --web-port or a taken port may have changed */
        json_t *wp = json_object_get(st, "web_port");
        if (st && json_integer_value(wp) > 0)
            line(&d, "web", DR_OK, "http://127.0.0.1:%lld/ (`clipseek web --open` logs in)",
                 (long long)json_integer_value(wp));
        else if (st)
            line(&d, "web", DR_OK, "off in the running daemon (web = false or --no-web)");
        else if (rules_web_port(r) < 0)
            line(&d, "web", DR_OK, "off (web = false)");
        else
            line(&d, "web", DR_WARN, "no daemon serves the page (it would use port %d)", rules_web_port(r));
        rules_free(r);
    }
    free(cfgpath);
    if (d.checks) {
        json_t *o = json_pack("{s:b, s:o, s:o}", "ok", d.fails == 0, "checks", d.checks, "daemon",
                              st ? json_incref(st) : json_null());
        cli_print_json(o);
        json_decref(o);
    }
    json_decref(st);
    free(dir);
    return d.fails ? CLI_FAIL : CLI_OK;
}
