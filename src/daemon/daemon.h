/* daemon: the long-running clipseek process: capture, background indexing and a control socket.
 *
 * Threads: capture (X11 through XFixes; under Wayland a `wl-paste --watch clipseek wl-event`
 * child does the capturing and this thread supervises it: its stderr is logged, an exit is reaped,
 * reported (capture "failed", last_error, capture_restarts) and restarted with backoff; a
 * compositor without the data-control protocol falls back to X11 through XWayland when DISPLAY is
 * set, see docs/capture.md), index (embeds new entries, then organises
 * them: text kinds, OCR, categories, near-duplicates, collections, src/organize/; woken by each
 * stored clip, and backfills everything missing at start), and the caller's thread, which serves
 * the control socket <data dir>/daemon.sock (mode 0600, one line in, one line out):
 *   PING        -> "OK <pid>"
 *   STATUS      -> one line of JSON (capture backend or "failed", model, counts: "clips" stored,
 *                  "not_stored" (captured but failed to store, each logged "clip not stored:
 *                  ..."), "indexed", "failed", "organised", "ocr_read", "index_passes" (passes
 *                  of the index worker begun), last error, capture_restarts: times the Wayland
 *                  watcher was started again)
 *   CAPTURED D  -> "OK"; from `clipseek wl-event`: a clip was decided (D: ingest_decision_name)
 *   CAPTURE-ERROR MSG -> "OK"; from `clipseek wl-event`: a clip was lost (counted, last_error)
 *   INDEX-WAIT  -> "OK <entries indexed so far>" once nothing is left to index (or "ERR ...")
 *   SEARCH JSON -> {"hits": [[id, score, signals, cosine], ...]} (search.h, with the model
 *                  already loaded; the request is {"q", "kind", "since_ms", "collection",
 *                  "category", "limit" <= 1000}; the reply adds "embed_ms" and "total_ms",
 *                  and "warning" when the search matrix could not be brought up to date, e.g.
 *                  "index out of date: disk full": the hits then come from what was indexed)
 *   CLI ["search", ...] -> the front binary's fast path (front_proto.h): "OK STATUS ERRLEN OUTLEN"
 *                  and the bytes `clipseek search ...` prints (search_cmd.h), or "NO <why>" when
 *                  the engine must run it; STATUS counts "cli_answered"
 *   WEB-LOGIN   -> "OK <one-time login URL>" (web.h: web_login_url), or "ERR ..." without a page
 *   WEB-LOGOUT-ALL -> "OK <sessions ended>": every browser must log in again (web_logout_all)
 *   RELOAD      -> "OK" once the config is read again, or "ERR <why>" (the old one stays in force);
 *                  SIGHUP and a change to the config file (inotify, config/cfgwatch.h) do the same;
 *                  STATUS carries "config_reloads" and "config_error" (why the last reload failed)
 *   STOP        -> "OK", then the daemon exits
 * With the web page on (web.h), its threads serve HTTP on loopback and search through the same
 * loaded model; STATUS then carries "web_port". Each thread has its own store connection. Capture never waits for indexing: a clip is committed
 * first, and the indexer picks it up from the store. */
#ifndef DAEMON_H
#define DAEMON_H

#include <stddef.h>

#include "../common/cs_err.h"

typedef struct daemon_params {
    const char *data_dir;
    const char *model_dir; /* NULL: the store's "model_dir" setting, if any */
    const char *self_exe;  /* path of the clipseek binary (for the wl-paste child) */
    int x11;               /* 1: capture X11 when DISPLAY is set */
    int primary;           /* also capture PRIMARY */
    int threads;           /* compute threads for the indexer (0: default) */
    const char *device;    /* where the towers run (model/backend.h names); NULL: CLIPSEEK_DEVICE, the config, auto */
    int f32;               /* a GPU keeps F32 weights (else F16) */
    int dtype;             /* CLIP_DTYPE_* on the CPU; DEFAULT: the store's "model_dtype", else per tower */
    int no_capture;        /* 1: neither X11 nor Wayland capture (`clipseek web` on its own) */
    int web_port;          /* web page: -2 the config's setting, -1 off, 0 any free port, else that port */
    /* once the page is served: called with a one-time login URL (borrowed for the call; NULL if
     * none could be made), e.g. to print and open it; NULL: nothing */
    void (*on_web)(const char *login_url, void *arg);
    void *on_web_arg;
    int need_capture; /* 1: no display to capture from is an error (daemon_run fails), as the
                             * systemd unit wants: a service that captures nothing must not look fine */
    /* the engine's entry point: set, the daemon keeps an engine server (src/front/front_server.h)
     * that runs the front binary's commands in forks of a preloaded engine; NULL: none */
    int (*run_command)(int argc, char **argv);
} daemon_params;

/* The defaults: X11 capture on, the config's web port, everything else off or automatic. */
daemon_params daemon_default_params(void);

/* Runs until SIGINT/SIGTERM or STOP. Logs through cs_log (main installs the sink). Returns 0, or
 * -1 with a message: a daemon already runs for data_dir, or why the config, the store or the
 * socket could not be opened. */
int daemon_run(const daemon_params *p, cs_err *err);

/* Client side: ipc_request (src/ipc/ipc.h), kept under this name for its callers. Returns 0, 1
 * if no daemon answers, -1 on a protocol error. timeout_ms <= 0 waits forever. */
int daemon_request(const char *data_dir, const char *req, char *buf, size_t n, int timeout_ms);

#endif
