/* store_archive: export to and import from a portable archive (see store.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cs_file.h"
#include "../common/cs_utf8.h"
#include "store_int.h"

#define ARCHIVE_ID        0x436c5078 /* "ClPx": an archive, never opened as a live store */
#define ARCHIVE_MAX_ENTRY ((size_t)1 << 31)

static int adb_err(sqlite3 *db, const char *path, const char *what, cs_err *err) {
    return cs_err_set(err, "%s: %s: %s", path, what, db ? sqlite3_errmsg(db) : "cannot open");
}

static int adb_exec(sqlite3 *db, const char *path, const char *sql, cs_err *err) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    cs_err_set(err, "%s: %s", path, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

/* Copies each distinct blob the archive's entries name into archive_blobs, checked against its
 * sha256 (a damaged blob file is an error, not a silently broken archive). */
static int copy_blobs(store *s, sqlite3 *db, const char *path, int64_t *nblobs, cs_err *err) {
    sqlite3_stmt *q = NULL, *ins = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db, "SELECT DISTINCT blob FROM entries WHERE blob IS NOT NULL", -1, &q, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO archive_blobs(sha256, data) VALUES(?, ?)", -1, &ins, NULL) != SQLITE_OK)
        rc = adb_err(db, path, "blobs", err);
    while (!rc && sqlite3_step(q) == SQLITE_ROW) {
        store_entry e = {0};
        snprintf(e.sha256, sizeof e.sha256, "%s", (const char *)sqlite3_column_text(q, 0));
        e.blob = e.sha256;
        unsigned char *data;
        size_t len;
        if (store_content(s, &e, &data, &len, err)) {
            rc = -1;
            break;
        }
        sqlite3_bind_text(ins, 1, e.sha256, -1, SQLITE_STATIC);
        sqlite3_bind_blob64(ins, 2, data, len, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) rc = adb_err(db, path, "blobs", err);
        sqlite3_reset(ins);
        free(data);
        (*nblobs)++;
    }
    sqlite3_finalize(q);
    sqlite3_finalize(ins);
    return rc;
}

int store_export(store *s, const char *path, store_archive_counts *counts, cs_err *err) {
    memset(counts, 0, sizeof *counts);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600); /* private from the first byte */
    if (fd < 0) return cs_err_set(err, "%s: %s", tmp, strerror(errno));
    close(fd);
    sqlite3 *db = NULL;
    int rc = 0;
    /* shared on blobs/.lock from the snapshot to the last blob read: a delete meanwhile cannot
     * unlink a blob the snapshot names (it takes the lock exclusively to unlink) */
    flock(s->lockfd, LOCK_SH);
    if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) rc = adb_err(db, tmp, "open", err);
    if (!rc) {
        /* the online backup API: a consistent snapshot of the live WAL database, one pass */
        sqlite3_backup *b = sqlite3_backup_init(db, "main", s->db, "main");
        if (!b)
            rc = adb_err(db, tmp, "backup", err);
        else {
            int r;
            while ((r = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || r == SQLITE_LOCKED) usleep(20000);
            sqlite3_backup_finish(b);
            if (r != SQLITE_DONE) rc = adb_err(db, tmp, "backup", err);
        }
    }
    /* the archive is a plain file (no -wal beside it); what must not travel leaves it and its
     * pages are zeroed (secure_delete) and dropped (VACUUM): secrets, the trash, vectors (they
     * belong to one model; import embeds again) */
    if (!rc)
        rc = adb_exec(db, tmp,
                      "PRAGMA journal_mode=DELETE; PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;"
                      "DELETE FROM entries WHERE subkind = 'secret'; DELETE FROM vectors; DELETE FROM trash;"
                      "DELETE FROM meta;"
                      "CREATE TABLE archive_blobs(sha256 TEXT PRIMARY KEY, data BLOB NOT NULL);",
                      err);
    if (!rc) rc = adb_exec(db, tmp, "BEGIN", err);
    if (!rc) rc = copy_blobs(s, db, tmp, &counts->blobs, err);
    flock(s->lockfd, LOCK_UN);
    if (!rc) rc = adb_exec(db, tmp, "COMMIT", err);
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d", ARCHIVE_ID);
    if (!rc) rc = adb_exec(db, tmp, sql, err);
    if (!rc) rc = adb_exec(db, tmp, "VACUUM", err);
    sqlite3_stmt *st;
    if (!rc && sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM tags)", -1, &st,
                                  NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            counts->entries = sqlite3_column_int64(st, 0);
            counts->tags = sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
    }
    if (db && sqlite3_close(db) != SQLITE_OK && !rc) rc = cs_err_set(err, "%s: close failed", tmp);
    /* durable, then in place under its name at once: never half an archive at path */
    if (!rc) {
        fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0) rc = cs_err_set(err, "%s: fsync: %s", tmp, strerror(errno));
        if (fd >= 0) close(fd);
    }
    if (!rc && rename(tmp, path) != 0) rc = cs_err_set(err, "%s: %s", path, strerror(errno));
    if (rc) unlink(tmp);
    return rc;
}

/* Opens an archive read-only and checks it is one: -1 with a clear message if not. */
static int open_archive(const char *path, sqlite3 **out, cs_err *err) {
    *out = NULL;
    if (!cs_is_file(path)) return cs_err_set(err, "%s: no such archive file", path);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        adb_err(db, path, "not readable as an archive", err);
        sqlite3_close(db);
        return -1;
    }
    /* a hostile file's views and triggers must not run functions with side effects */
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_stmt *st;
    int64_t app = 0, ver = 0, ok = 0;
    if (sqlite3_prepare_v2(db, "SELECT * FROM pragma_application_id, pragma_user_version", -1, &st, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            app = sqlite3_column_int64(st, 0);
            ver = sqlite3_column_int64(st, 1);
            ok = 1;
        }
        sqlite3_finalize(st);
    }
    int rc = 0;
    if (!ok)
        rc = cs_err_set(err, "%s: not a clipseek archive (not an SQLite database, or damaged): %s", path,
                        sqlite3_errmsg(db));
    else if (app != ARCHIVE_ID)
        rc = cs_err_set(err, "%s: not a clipseek archive (made by `clipseek export`)%s", path,
                        app == 0x436c5073 ? ": it is a live history database" : "");
    else if (ver > STORE_SCHEMA_VERSION)
        rc = cs_err_set(err, "%s: archive schema %lld is newer than this clipseek (%d); upgrade clipseek", path,
                        (long long)ver, STORE_SCHEMA_VERSION);
    /* every page read once: damage shows here, before anything is imported */
    if (!rc && sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK) {
        int r = sqlite3_step(st);
        const char *t = r == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (!t || strcmp(t, "ok"))
            rc = cs_err_set(err, "%s: the archive is damaged: %s", path, t ? t : sqlite3_errmsg(db));
        sqlite3_finalize(st);
    }
    if (rc) {
        sqlite3_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

static const char *KINDS[] = {"text", "image", "files"};

/* Checks one archive row before anything is written: a known kind, text that is UTF-8 and
 * matches its sha256, or a blob that does. */
static int check_row(sqlite3 *db, sqlite3_stmt *r, sqlite3_stmt *blob, const char *path, cs_err *err) {
    int64_t aid = sqlite3_column_int64(r, 0);
    const char *kind = (const char *)sqlite3_column_text(r, 1), *sha = (const char *)sqlite3_column_text(r, 5);
    int known = 0;
    for (size_t i = 0; kind && i < 3; i++) known |= !strcmp(kind, KINDS[i]);
    if (!known || !sha || strlen(sha) != 64 || !sqlite3_column_text(r, 2))
        return cs_err_set(err, "%s: entry %lld: not a valid entry (kind, type or sha256)", path, (long long)aid);
    const void *d;
    size_t n;
    if (strcmp(kind, "image")) {
        d = sqlite3_column_text(r, 6);
        n = (size_t)sqlite3_column_bytes(r, 6);
        if (!d || !cs_utf8_valid(d, n, 0))
            return cs_err_set(err, "%s: entry %lld: its text is not UTF-8", path, (long long)aid);
    } else {
        sqlite3_bind_text(blob, 1, sha, -1, SQLITE_STATIC);
        if (sqlite3_step(blob) != SQLITE_ROW) {
            sqlite3_reset(blob);
            return cs_err_set(err, "%s: entry %lld: its image is missing from the archive", path, (long long)aid);
        }
        d = sqlite3_column_blob(blob, 0);
        n = (size_t)sqlite3_column_bytes(blob, 0);
    }
    char got[65];
    store_sha256_hex(d ? d : "", n, got);
    if (kind[0] == 'i') sqlite3_reset(blob);
    (void)db;
    if (strcmp(got, sha))
        return cs_err_set(err, "%s: entry %lld: content does not match its sha256 (damaged)", path, (long long)aid);
    return 0;
}

#define AR_COLS                                                                                                        \
    "id, kind, mime, mimes, size, sha256, text, width, height, source, first_ms, last_ms, copies, pinned, seq,"        \
    " subkind, lang, ocr_text, category, category_conf, expire_ms,"                                                    \
    " (SELECT name FROM collections c WHERE c.id = entries.collection),"                                               \
    " (SELECT user_named FROM collections c WHERE c.id = entries.collection)"

/* The collection named name here, made if there is none. */
static int collection_for(store *s, const char *name, int user_named, int64_t *id, cs_err *err) {
    int r = store_collection_find(s, name, id, err);
    if (r < 0) return -1;
    if (r == 0 && *id) return 0;
    return store_collection_create(s, name, user_named, NULL, NULL, 0, id, err);
}

static int import_tags(store *s, sqlite3 *db, int64_t aid, int64_t id, store_archive_counts *c, cs_err *err) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT tag FROM tags WHERE entry = ?", -1, &q, NULL) != SQLITE_OK)
        return 0; /* no tags table */
    sqlite3_bind_int64(q, 1, aid);
    int rc = 0;
    while (!rc && sqlite3_step(q) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(q, 0);
        if (!t) continue;
        int64_t before = sqlite3_total_changes(s->db);
        rc = store_tag(s, id, t, 1, err) < 0 ? -1 : 0;
        if (!rc && sqlite3_total_changes(s->db) > before) c->tags++;
    }
    sqlite3_finalize(q);
    return rc;
}

/* Writes every image blob of the archive durably (before the rows that name them commit, like
 * store_add). The caller holds blobs/.lock shared. */
static int import_blobs(store *s, sqlite3 *db, const char *path, char (**written)[65], size_t *nw, cs_err *err) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db,
                           "SELECT DISTINCT e.sha256, b.data FROM entries e JOIN archive_blobs b ON b.sha256 = e.sha256"
                           " WHERE e.kind = 'image'",
                           -1, &q, NULL) != SQLITE_OK)
        return adb_err(db, path, "reading images", err);
    int rc = 0;
    while (!rc && sqlite3_step(q) == SQLITE_ROW) {
        const char *sha = (const char *)sqlite3_column_text(q, 0);
        char *bp = NULL;
        size_t bl = strlen(s->blobdir) + 80;
        if ((bp = malloc(bl))) snprintf(bp, bl, "%s/%.2s/%s", s->blobdir, sha, sha);
        int existed = bp && cs_exists(bp);
        free(bp);
        rc = store_write_blob(s, sha, sqlite3_column_blob(q, 1), (size_t)sqlite3_column_bytes(q, 1), err);
        if (!rc && !existed) {
            void *nw2 = realloc(*written, (*nw + 1) * sizeof **written);
            if (nw2) {
                *written = nw2;
                snprintf((*written)[(*nw)++], 65, "%s", sha);
            }
        }
    }
    sqlite3_finalize(q);
    return rc;
}

int store_import(store *s, const char *path, store_archive_counts *c, cs_err *err) {
    memset(c, 0, sizeof *c);
    sqlite3 *db;
    if (open_archive(path, &db, err)) return -1;
    sqlite3_stmt *r = NULL, *blob = NULL, *has = NULL, *ins = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db, "SELECT " AR_COLS " FROM entries ORDER BY seq", -1, &r, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT data FROM archive_blobs WHERE sha256 = ?", -1, &blob, NULL) != SQLITE_OK)
        rc = cs_err_set(err, "%s: not a clipseek archive: %s", path, sqlite3_errmsg(db));
    /* 1. every row checked before anything is written */
    int st;
    while (!rc && (st = sqlite3_step(r)) == SQLITE_ROW) rc = check_row(db, r, blob, path, err);
    if (!rc && st != SQLITE_DONE) rc = adb_err(db, path, "reading entries", err);
    sqlite3_reset(r);
    /* 2. images, durably; 3. rows, one transaction: all or nothing */
    char(*written)[65] = NULL;
    size_t nw = 0;
    flock(s->lockfd, LOCK_SH);
    if (!rc) rc = import_blobs(s, db, path, &written, &nw, err);
    if (!rc) rc = store_begin(s, err);
    int began = !rc;
    if (!rc && (store_prepare(s, "SELECT 1 FROM entries WHERE sha256 = ?", &has, "import", err) ||
                store_prepare(
                    s,
                    "INSERT INTO entries(kind, mime, mimes, size, sha256, text, blob, width, height, source, first_ms,"
                    " last_ms, copies, pinned, seq, subkind, lang, ocr_text, category, category_conf, expire_ms,"
                    " collection) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0, ?15, ?16,"
                    " ?17, ?18, ?19, ?20, ?21)",
                    &ins, "import", err)))
        rc = -1;
    while (!rc && sqlite3_step(r) == SQLITE_ROW) {
        const char *sha = (const char *)sqlite3_column_text(r, 5);
        sqlite3_bind_text(has, 1, sha, -1, SQLITE_TRANSIENT);
        int dup = sqlite3_step(has) == SQLITE_ROW;
        sqlite3_reset(has);
        if (dup) {
            c->duplicates++;
            continue;
        }
        int64_t coll = 0;
        const char *cname = (const char *)sqlite3_column_text(r, 21);
        if (cname && collection_for(s, cname, sqlite3_column_int(r, 22), &coll, err)) {
            rc = -1;
            break;
        }
        int image = !strcmp((const char *)sqlite3_column_text(r, 1), "image");
        for (int k = 1; k <= 5; k++) sqlite3_bind_value(ins, k, sqlite3_column_value(r, k));
        if (image)
            sqlite3_bind_null(ins, 6);
        else
            sqlite3_bind_value(ins, 6, sqlite3_column_value(r, 6));
        if (image)
            sqlite3_bind_value(ins, 7, sqlite3_column_value(r, 5));
        else
            sqlite3_bind_null(ins, 7);
        for (int k = 8; k <= 14; k++) sqlite3_bind_value(ins, k, sqlite3_column_value(r, k - 1));
        for (int k = 15; k <= 20; k++) sqlite3_bind_value(ins, k, sqlite3_column_value(r, k));
        if (coll)
            sqlite3_bind_int64(ins, 21, coll);
        else
            sqlite3_bind_null(ins, 21);
        if (sqlite3_step(ins) != SQLITE_DONE) rc = store_dberr(s, err, "import");
        sqlite3_reset(ins);
        int64_t id = sqlite3_last_insert_rowid(s->db);
        if (!rc) rc = import_tags(s, db, sqlite3_column_int64(r, 0), id, c, err);
        if (!rc) c->entries++;
    }
    sqlite3_finalize(has);
    sqlite3_finalize(ins);
    /* copy order by time: imported clips take their place in the history by their last copy
     * time, not all on top (ties keep the order they had) */
    if (!rc && c->entries)
        rc = store_exec(
            s,
            "UPDATE entries SET seq = r.n FROM (SELECT id, row_number() OVER (ORDER BY last_ms, seq, id) AS n"
            " FROM entries) AS r WHERE r.id = entries.id",
            err);
    if (began) {
        cs_err keep = err ? *err : (cs_err){0};
        if (store_end(s, !rc, rc ? NULL : err))
            rc = -1;
        else if (rc && err)
            *err = keep;
    }
    flock(s->lockfd, LOCK_UN);
    /* nothing half-imported: images written for rows that never committed go again */
    if (rc)
        for (size_t i = 0; i < nw; i++) store_drop_blob_if_unused(s, written[i]);
    free(written);
    sqlite3_finalize(r);
    sqlite3_finalize(blob);
    sqlite3_close(db);
    return rc;
}
