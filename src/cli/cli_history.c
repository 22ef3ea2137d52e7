/* cli_history: the everyday history commands: pause/resume (timed, --next), status, clear, undo,
 * edit. Deletes go to the trash (store_trash) so `undo` can bring them back. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../capture/ingest.h"
#include "../capture/textkind.h"
#include "../common/cs_file.h"
#include "../index/indexer.h"
#include "../store/store.h"
#include "cli.h"

int cli_parse_duration(const char *s, int64_t *ms) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || end == s || errno || v <= 0 || strlen(end) != 1) return -1;
    int64_t unit;
    switch (*end) {
    case 'm': unit = 60 * 1000LL; break;
    case 'h': unit = 3600 * 1000LL; break;
    case 'd': unit = 86400 * 1000LL; break;
    case 'w': unit = 7 * 86400 * 1000LL; break;
    default: return -1;
    }
    if (v > INT64_MAX / unit / 2) return -1;
    *ms = v * unit;
    return 0;
}

/* "until 14:05:00 (in 10m)" for a timed pause, "until resumed" otherwise. */
static const char *pause_words(const ingest_pause *p, char *buf, size_t n) {
    if (!p->until_ms) return snprintf(buf, n, "until `clipseek resume`"), buf;
    time_t t = (time_t)(p->until_ms / 1000);
    struct tm tm;
    char hm[32] = "?";
    if (localtime_r(&t, &tm)) strftime(hm, sizeof hm, "%Y-%m-%d %H:%M:%S", &tm);
    int64_t left = (p->until_ms - store_now_ms() + 59999) / 60000;
    snprintf(buf, n, "until %s (%lld min left)", hm, (long long)left);
    return buf;
}

int cmd_pause(int argc, char **argv) {
    int resume = !strcmp(argv[0], "resume"), next = 0;
    int64_t dur = 0;
    for (int i = 1; i < argc; i++) {
        if (!resume && !strcmp(argv[i], "--next"))
            next = 1;
        else if (!resume && !dur && argv[i][0] != '-') {
            if (cli_parse_duration(argv[i], &dur))
                return cli_usage("pause: '%s' is not a duration (10m, 2h, 1d, 1w)", argv[i]);
        } else
            return cli_usage("%s: unexpected argument '%s'", argv[0], argv[i]);
    }
    if (next && dur) return cli_usage("pause: --next or a duration, not both");
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    cs_err e;
    int rc;
    if (resume) /* resume also cancels a pending --next: the user wants capture back as it was */
        rc = ingest_pause_set(s, -1, &e) || store_meta_set(s, "skip_next", NULL, &e);
    else if (next)
        rc = store_meta_set(s, "skip_next", "1", &e);
    else
        rc = ingest_pause_set(s, dur ? store_now_ms() + dur : 0, &e);
    if (rc)
        rc = cli_fail_err(&e);
    else if (!resume) {
        ingest_pause p;
        char w[128];
        if (ingest_pause_state(s, &p, &e) == 0) {
            if (next)
                printf("the next copy will not be stored\n");
            else
                printf("paused %s\n", pause_words(&p, w, sizeof w));
        }
    }
    store_close(s);
    return rc;
}

int cli_pause_line(store *s, char *buf, size_t n) {
    ingest_pause p;
    cs_err e;
    char w[128];
    if (ingest_pause_state(s, &p, &e)) {
        snprintf(buf, n, "cannot read the pause flag (capture refuses clips): %.900s", e.msg);
        return -1;
    }
    if (p.paused)
        snprintf(buf, n, "paused %s%s", pause_words(&p, w, sizeof w),
                 p.skip_next ? "; then the next copy is skipped" : "");
    else
        snprintf(buf, n, "capturing%s", p.skip_next ? " (the next copy will be skipped: pause --next)" : "");
    return p.paused && !p.until_ms;
}

int cmd_status(int argc, char **argv) {
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else
            return cli_usage("status: unexpected argument '%s'", argv[i]);
    }
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    ingest_pause p;
    cs_err e;
    int64_t entries = 0, pending = 0, trash = 0, last = 0;
    int rc = CLI_OK;
    if (ingest_pause_state(s, &p, &e) || store_counts(s, NULL, &entries, &pending, &e) ||
        store_trash_count(s, &trash, &last, &e))
        rc = cli_fail_err(&e);
    /* the text embedder's backfill (docs/text-models.md): its text entries with a vector so far */
    char *edir = rc ? NULL : cli_text_embedder_dir(s), *eid = edir ? index_model_id(edir, &e) : NULL;
    int64_t texts = 0, tpending = 0;
    char ebad[sizeof e.msg] = ""; /* a folder that is no model: said, but the rest of the status stands */
    if (edir && !eid) snprintf(ebad, sizeof ebad, "%s", e.msg);
    if (eid && store_text_counts(s, eid, &texts, &tpending, &e)) rc = cli_fail_err(&e);
    if (!rc && json) {
        json_t *o = json_object();
        ingest_pause_json(&p, o);
        json_object_set_new(o, "entries", json_integer(entries));
        json_object_set_new(o, "trash", json_integer(trash));
        json_object_set_new(o, "undo", json_integer(last));
        if (eid) {
            json_object_set_new(o, "text_embedder", json_string(eid));
            json_object_set_new(o, "text_entries", json_integer(texts));
            json_object_set_new(o, "text_pending", json_integer(tpending));
        }
        if (ebad[0]) json_object_set_new(o, "text_embedder_error", json_string(ebad));
        cli_print_json(o);
        json_decref(o);
    } else if (!rc) {
        char line[1200];
        cli_pause_line(s, line, sizeof line);
        printf("capture  %s\nentries  %lld\ntrash    %lld (undo brings back %lld)\n", line, (long long)entries,
               (long long)trash, (long long)last);
        if (eid)
            printf("text space  %s: %lld of %lld text entries embedded%s\n", eid, (long long)(texts - tpending),
                   (long long)texts, tpending ? " (the index worker is catching up)" : "");
        if (ebad[0]) printf("text space  not used: %s\n", ebad);
    }
    free(edir);
    free(eid);
    store_close(s);
    return rc;
}

/* Asks "question [y/N]" on the terminal; 1 for yes. */
static int confirm(const char *question) {
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

static void print_ids(const char *verb, const int64_t *ids, size_t n) {
    printf("%s %zu entr%s", verb, n, n == 1 ? "y" : "ies");
    for (size_t i = 0; i < n && i < 20; i++) printf("%s%lld", i ? " " : ": ", (long long)ids[i]);
    printf("%s\n", n > 20 ? " ..." : "");
}

int cmd_clear(int argc, char **argv) {
    store_clear c = {0};
    int yes = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--yes") || !strcmp(argv[i], "-y"))
            yes = 1;
        else if (!strcmp(argv[i], "--include-pinned"))
            c.include_pinned = 1;
        else if (!strcmp(argv[i], "--kind") && i + 1 < argc)
            c.kind = argv[++i];
        else if (!strcmp(argv[i], "--older-than") && i + 1 < argc) {
            if (cli_parse_duration(argv[++i], &c.older_than_ms))
                return cli_usage("clear: --older-than takes a duration such as 30m, 12h, 7d, 2w");
        } else
            return cli_usage("clear: unexpected argument '%s'", argv[i]);
    }
    /* refuse before touching anything: a script without --yes must not hang on a prompt */
    if (!yes && !isatty(0)) return cli_usage("clear: not on a terminal: add --yes to clear without asking");
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    int64_t *ids = NULL;
    size_t n = 0;
    cs_err e;
    int rc = CLI_OK;
    if (store_clear_ids(s, &c, &ids, &n, &e))
        rc = cli_fail_err(&e);
    else if (n == 0)
        printf("nothing to clear\n");
    else {
        char q[256];
        snprintf(q, sizeof q, "Delete %zu entr%s%s? (`clipseek undo` brings them back for %lld hours)", n,
                 n == 1 ? "y" : "ies", c.include_pinned ? ", pinned ones included" : "", STORE_TRASH_KEEP_MS / 3600000);
        int64_t moved = 0;
        if (!yes && !confirm(q))
            rc = cli_fail("nothing cleared");
        else if (store_trash(s, ids, n, &moved, &e))
            rc = cli_fail_err(&e);
        else
            print_ids("cleared", ids, n);
    }
    free(ids);
    store_close(s);
    return rc;
}

int cmd_undo(int argc, char **argv) {
    if (argc != 1) return cli_usage("%s takes no arguments", argv[0]);
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    int64_t *ids = NULL;
    size_t n = 0;
    cs_err e;
    int rc = CLI_OK;
    if (store_undo(s, &ids, &n, &e))
        rc = cli_fail_err(&e);
    else if (n == 0)
        rc = cli_fail("nothing to undo: the trash is empty");
    else
        print_ids("restored", ids, n);
    free(ids);
    store_close(s);
    return rc;
}

/* Runs $VISUAL, else $EDITOR, else vi on path, through the shell (an editor variable may hold
 * arguments, e.g. "code --wait"); the path goes as "$1", never into the command string. */
static int run_editor(const char *path) {
    const char *ed = getenv("VISUAL");
    if (!ed || !*ed) ed = getenv("EDITOR");
    if (!ed || !*ed) ed = "vi";
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s \"$1\"", ed);
    pid_t pid = fork();
    if (pid < 0) return cli_fail("fork: %s", strerror(errno));
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, "sh", path, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return cli_fail("waitpid: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return cli_fail("the editor (%s) failed (status %d): entry left as it was", ed,
                        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return CLI_OK;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int cmd_edit(int argc, char **argv) {
    int64_t id;
    char *end;
    if (argc != 2 || (id = strtoll(argv[1], &end, 10)) <= 0 || *end) return cli_usage("edit: expected ID");
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    store_entry en;
    cs_err e;
    int g = store_get(s, id, &en, &e);
    if (g) {
        store_close(s);
        return cli_fail_err(&e);
    }
    if (strcmp(en.kind, "text")) {
        int rc = cli_fail("entry %lld is %s, not text: only text entries can be edited", (long long)id, en.kind);
        store_entry_free(&en);
        store_close(s);
        return rc;
    }
    /* a private file (0600, in a 0700 folder of our own): the text may be anything the user copied */
    const char *tmpd = getenv("TMPDIR");
    char dir[PATH_MAX], path[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/clipseek-edit-XXXXXX", tmpd && *tmpd ? tmpd : "/tmp");
    int rc = CLI_OK;
    if (!mkdtemp(dir)) {
        rc = cli_fail("%s: %s", dir, strerror(errno));
        store_entry_free(&en);
        store_close(s);
        return rc;
    }
    snprintf(path, sizeof path, "%s/entry-%lld.txt", dir, (long long)id);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    size_t tl = strlen(en.text);
    if (fd < 0 || write_all(fd, en.text, tl) || close(fd))
        rc = cli_fail("%s: %s", path, strerror(errno));
    else
        rc = run_editor(path);
    char *text = NULL;
    size_t len = 0;
    if (rc == CLI_OK && cs_read_file(path, (size_t)1 << 30, &text, &len, &e)) rc = cli_fail_err(&e);
    /* an editor adds a final newline the clip did not have: keep the clip's own ending */
    if (rc == CLI_OK && len && text[len - 1] == '\n' && !(tl && en.text[tl - 1] == '\n')) text[--len] = 0;
    if (rc == CLI_OK && len == tl && !memcmp(text, en.text, len))
        printf("entry %lld unchanged\n", (long long)id);
    else if (rc == CLI_OK) {
        const char *lang = NULL;
        const char *kind = textkind_classify(text, len, &lang);
        if (store_set_text(s, id, text, len, kind, lang, &e))
            rc = cli_fail("%s (your text is kept in %s)", e.msg, path);
        else
            printf("entry %lld saved (%s)\n", (long long)id, kind ? kind : "prose");
    }
    if (rc == CLI_OK || !text) {
        unlink(path);
        rmdir(dir);
    }
    free(text);
    store_entry_free(&en);
    store_close(s);
    return rc;
}

/* export FILE and import FILE: the same shape, the archive work in the store (store_archive.c). */
int cmd_export(int argc, char **argv) {
    int imp = !strcmp(argv[0], "import");
    if (imp && argc == 4 && !strcmp(argv[1], "--from")) {
        if (strcmp(argv[2], "copyq"))
            return cli_usage("import --from: only copyq (cliphist keeps a bbolt database; pipe `cliphist decode` "
                             "outputs to `clipseek add -` instead)");
        return cli_import_copyq(argv[3]);
    }
    if (argc != 2 || argv[1][0] == '-')
        return cli_usage(imp ? "import: expected FILE (an archive of clipseek export) or --from copyq FILE"
                             : "export: expected FILE");
    /* export never over an existing file: an archive is easy to make again, what was there may not be */
    if (!imp && cs_exists(argv[1])) return cli_fail("%s exists already: remove it or choose another name", argv[1]);
    if (imp && !cs_is_file(argv[1])) return cli_fail("%s: no such archive file", argv[1]);
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    store_archive_counts c;
    cs_err e;
    int rc = CLI_OK;
    if ((imp ? store_import : store_export)(s, argv[1], &c, &e))
        rc = cli_fail("%s%s", e.msg, imp ? " (nothing imported)" : "");
    else if (imp)
        printf("imported %lld entries (%lld already here), %lld tags\n", (long long)c.entries, (long long)c.duplicates,
               (long long)c.tags);
    else
        printf("exported %lld entries (%lld images, %lld tags) to %s\n", (long long)c.entries, (long long)c.blobs,
               (long long)c.tags, argv[1]);
    store_close(s);
    return rc;
}
