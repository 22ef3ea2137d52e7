/* store_history: the trash and undo, clear, and editing a text entry (see store.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cs_utf8.h"
#include "store_int.h"

#define TRASH_COLS "kind, mime, mimes, size, sha256, text, blob, width, height, source, first_ms, last_ms, copies, pinned, seq," \
                   " subkind, lang, ocr_text, category, category_conf, collection, dup_of, expire_ms, organised"

/* Moves one entry into the trash under batch; returns 0, 1 if it is gone, -1. */
static int trash_one(store *s, int64_t id, int64_t batch, int64_t now, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s,
                      "INSERT INTO trash(id, batch, deleted_ms, " TRASH_COLS ", tags) SELECT id, ?2, ?3, " TRASH_COLS ","
                      " (SELECT group_concat(tag, char(10)) FROM tags WHERE entry = entries.id) FROM entries WHERE id = ?1",
                      &st, "delete", err))
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, batch);
    sqlite3_bind_int64(st, 3, now);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) return store_dberr(s, err, "delete");
    if (sqlite3_changes(s->db) == 0) { cs_err_set(err, "no entry %lld", (long long)id); return 1; }
    /* the triggers take it out of both full-text indexes; tags and vectors go by cascade; the
     * blob and thumbnail stay on disk: the trash row still names them */
    if (store_prepare(s, "DELETE FROM entries WHERE id = ?", &st, "delete", err)) return -1;
    sqlite3_bind_int64(st, 1, id);
    r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : store_dberr(s, err, "delete");
}

/* 1 if the entry is a secret, 0 if not, 2 if there is no such entry, -1 on failure. */
static int is_secret(store *s, int64_t id, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT coalesce(subkind, '') = 'secret' FROM entries WHERE id = ?", &st, "delete", err)) return -1;
    sqlite3_bind_int64(st, 1, id);
    int r = sqlite3_step(st), v = r == SQLITE_ROW ? sqlite3_column_int(st, 0) : 2;
    sqlite3_finalize(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE) return store_dberr(s, err, "delete");
    return v;
}

int store_trash(store *s, const int64_t *ids, size_t n, int64_t *trashed, cs_err *err) {
    if (trashed) *trashed = 0;
    if (store_begin(s, err)) return -1;
    int64_t batch = 0, moved = 0, now = store_now_ms();
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT coalesce(max(batch), 0) + 1 FROM trash", &st, "delete", err);
    if (!rc) {
        if (sqlite3_step(st) == SQLITE_ROW) batch = sqlite3_column_int64(st, 0);
        else rc = store_dberr(s, err, "delete");
        sqlite3_finalize(st);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        int sec = is_secret(s, ids[i], err);
        if (sec < 0) rc = -1;
        else if (sec == 2) rc = 1, cs_err_set(err, "no entry %lld", (long long)ids[i]);
        /* a secret never waits in the trash: gone for good, its index pages scrubbed at the end */
        else if (sec == 1) rc = store_delete(s, ids[i], err);
        else if (!(rc = trash_one(s, ids[i], batch, now, err))) moved++;
    }
    if (rc) {
        cs_err keep = err ? *err : (cs_err){0};
        store_end(s, 0, NULL);
        if (err) *err = keep;
        return rc;
    }
    if (store_end(s, 1, err)) return -1;
    if (trashed) *trashed = moved;
    /* thumbnails are a cache: one of a deleted image goes now (the page makes it again after an
     * undo); the blob itself stays with the trash row */
    if (store_prepare(s, "SELECT sha256 FROM trash WHERE batch = ? AND blob IS NOT NULL", &st, "delete", NULL) == 0) {
        sqlite3_bind_int64(st, 1, batch);
        while (sqlite3_step(st) == SQLITE_ROW) {
            char tp[4300];
            snprintf(tp, sizeof tp, "%s/thumbs/%s.jpg", s->dir, (const char *)sqlite3_column_text(st, 0));
            unlink(tp);
        }
        sqlite3_finalize(st);
    }
    return 0;
}

/* Puts the tags of a trash row (newline-separated) on entry id. */
static int restore_tags(store *s, int64_t id, const char *tags, cs_err *err) {
    if (!tags || !*tags) return 0;
    sqlite3_stmt *st;
    if (store_prepare(s, "INSERT OR IGNORE INTO tags(entry, tag) VALUES(?, ?)", &st, "undo", err)) return -1;
    int rc = 0;
    for (const char *p = tags; *p && !rc;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l) {
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_text(st, 2, p, (int)l, SQLITE_TRANSIENT);
            if (sqlite3_step(st) != SQLITE_DONE) rc = store_dberr(s, err, "undo");
            sqlite3_reset(st);
        }
        p += l + (nl ? 1 : 0);
    }
    sqlite3_finalize(st);
    return rc;
}

static int push_id(int64_t **ids, size_t *n, int64_t id) {
    int64_t *ni = realloc(*ids, (*n + 1) * sizeof *ni);
    if (!ni) return -1;
    *ids = ni;
    ni[(*n)++] = id;
    return 0;
}

/* Restores one trash row; *back gets the id the content now has. */
static int restore_one(store *s, int64_t tid, const char *sha, int pinned, const char *tags, int64_t *back, cs_err *err) {
    sqlite3_stmt *st;
    /* the same content copied again while this one was in the trash: no second row (sha256 is
     * unique); the pin and tags go onto the entry that has it */
    if (store_prepare(s, "SELECT id FROM entries WHERE sha256 = ?", &st, "undo", err)) return -1;
    sqlite3_bind_text(st, 1, sha, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    int64_t have = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE) return store_dberr(s, err, "undo");
    if (have) {
        if (pinned && store_set_pinned(s, have, 1, err) < 0) return -1;
    } else {
        /* the collection only if it still exists (a merge may have removed it) */
        if (store_prepare(s,
                          "INSERT INTO entries(id, " TRASH_COLS ") SELECT id, kind, mime, mimes, size, sha256, text, blob, width,"
                          " height, source, first_ms, last_ms, copies, pinned, seq, subkind, lang, ocr_text, category, category_conf,"
                          " (SELECT c.id FROM collections c WHERE c.id = trash.collection), dup_of, expire_ms, organised"
                          " FROM trash WHERE id = ?",
                          &st, "undo", err))
            return -1;
        sqlite3_bind_int64(st, 1, tid);
        r = sqlite3_step(st);
        sqlite3_finalize(st);
        if (r != SQLITE_DONE) return store_dberr(s, err, "undo");
        have = tid;
    }
    if (restore_tags(s, have, tags, err)) return -1;
    *back = have;
    return 0;
}

int store_undo(store *s, int64_t **ids, size_t *n, cs_err *err) {
    *ids = NULL;
    *n = 0;
    if (store_begin(s, err)) return -1;
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT id, sha256, pinned, tags FROM trash WHERE batch = (SELECT max(batch) FROM trash) ORDER BY id",
                           &st, "undo", err);
    int r = SQLITE_DONE;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t back = 0;
        rc = restore_one(s, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1), sqlite3_column_int(st, 2),
                         (const char *)sqlite3_column_text(st, 3), &back, err);
        if (!rc && push_id(ids, n, back)) rc = cs_err_set(err, "out of memory");
    }
    if (!rc && r != SQLITE_DONE) rc = store_dberr(s, err, "undo");
    if (st) sqlite3_finalize(st);
    if (!rc) rc = store_exec(s, "DELETE FROM trash WHERE batch = (SELECT max(batch) FROM trash)", err);
    if (!rc && store_end(s, 1, err)) rc = -1, store_exec(s, "ROLLBACK", NULL); /* a failed COMMIT may leave it open */
    else if (rc) {
        cs_err keep = err ? *err : (cs_err){0};
        store_end(s, 0, NULL);
        if (err) *err = keep;
    }
    if (rc) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

int store_trash_purge(store *s, int64_t cutoff_ms, int64_t *removed, cs_err *err) {
    if (removed) *removed = 0;
    sqlite3_stmt *st;
    if (store_prepare(s, "DELETE FROM trash WHERE deleted_ms < ? RETURNING blob, sha256", &st, "trash", err)) return -1;
    sqlite3_bind_int64(st, 1, cutoff_ms);
    char (*files)[2][65] = NULL;
    size_t nf = 0, cnt = 0;
    int r;
    /* autocommit: the statement is its own transaction, committed at its last step */
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        cnt++;
        const char *b = (const char *)sqlite3_column_text(st, 0);
        if (!b) continue;
        void *nb = realloc(files, (nf + 1) * sizeof *files);
        if (!nb) continue; /* the blob stays an orphan until gc */
        files = nb;
        snprintf(files[nf][0], 65, "%s", b);
        snprintf(files[nf][1], 65, "%s", (const char *)sqlite3_column_text(st, 1));
        nf++;
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) { free(files); return store_dberr(s, err, "trash"); }
    if (sqlite3_get_autocommit(s->db))
        for (size_t i = 0; i < nf; i++) store_drop_entry_files(s, files[i][0], files[i][1]);
    free(files);
    if (removed) *removed = (int64_t)cnt;
    return 0;
}

int store_trash_count(store *s, int64_t *entries, int64_t *last_batch, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT count(*), (SELECT count(*) FROM trash WHERE batch = (SELECT max(batch) FROM trash)) FROM trash",
                      &st, "trash", err))
        return -1;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        if (entries) *entries = sqlite3_column_int64(st, 0);
        if (last_batch) *last_batch = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return r == SQLITE_ROW ? 0 : store_dberr(s, err, "trash");
}

int store_clear_ids(store *s, const store_clear *c, int64_t **ids, size_t *n, cs_err *err) {
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (store_prepare(s,
                      "SELECT id FROM entries WHERE (?1 OR pinned = 0) AND (?2 IS NULL OR kind = ?2 OR subkind = ?2)"
                      " AND (?3 = 0 OR last_ms < ?3) ORDER BY id",
                      &st, "clear", err))
        return -1;
    sqlite3_bind_int(st, 1, c->include_pinned ? 1 : 0);
    if (c->kind) sqlite3_bind_text(st, 2, c->kind, -1, SQLITE_STATIC); else sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, c->older_than_ms > 0 ? store_now_ms() - c->older_than_ms : 0);
    return store_collect_ids(s, st, ids, n, "clear", err);
}

int store_set_text(store *s, int64_t id, const char *text, size_t len, const char *subkind, const char *lang, cs_err *err) {
    if (!cs_utf8_valid(text, len, 0)) return cs_err_set(err, "the new text must be UTF-8 without NUL bytes"), 2;
    if (len == 0) return cs_err_set(err, "the new text is empty (delete the entry instead)"), 2;
    char sha[65];
    store_sha256_hex(text, len, sha);
    if (store_begin(s, err)) return -1;
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT kind, coalesce(subkind, '') = 'secret', (SELECT id FROM entries WHERE sha256 = ?2 AND id <> ?1)"
                              " FROM entries WHERE id = ?1", &st, "edit", err);
    if (rc) { store_end(s, 0, NULL); return -1; }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, sha, 64, SQLITE_STATIC);
    int r = sqlite3_step(st);
    int secret = 0;
    if (r == SQLITE_DONE) rc = 1, cs_err_set(err, "no entry %lld", (long long)id);
    else if (r != SQLITE_ROW) rc = store_dberr(s, err, "edit");
    else if (strcmp((const char *)sqlite3_column_text(st, 0), "text"))
        rc = 2, cs_err_set(err, "entry %lld is %s, not text: only text entries can be edited", (long long)id,
                        (const char *)sqlite3_column_text(st, 0));
    else if (sqlite3_column_type(st, 2) != SQLITE_NULL)
        rc = 2, cs_err_set(err, "entry %lld already holds this text", (long long)sqlite3_column_int64(st, 2));
    else secret = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    /* the text triggers re-index both full-text indexes; the old vectors describe the old text,
     * so they go and the index worker embeds the entry again; the organiser looks at it again */
    if (!rc && store_prepare(s,
                             "UPDATE entries SET text = ?2, size = ?3, sha256 = ?4, subkind = ?5, lang = ?6, mimes = mime,"
                             " organised = NULL, dup_of = NULL WHERE id = ?1",
                             &st, "edit", err) == 0) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, text, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)len);
        sqlite3_bind_text(st, 4, sha, 64, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, subkind ? subkind : "", -1, SQLITE_STATIC);
        if (lang) sqlite3_bind_text(st, 6, lang, -1, SQLITE_STATIC); else sqlite3_bind_null(st, 6);
        if (sqlite3_step(st) != SQLITE_DONE) rc = store_dberr(s, err, "edit");
        sqlite3_finalize(st);
    } else if (!rc)
        rc = -1;
    if (!rc && store_prepare(s, "DELETE FROM vectors WHERE entry = ?", &st, "edit", err) == 0) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) != SQLITE_DONE) rc = store_dberr(s, err, "edit");
        sqlite3_finalize(st);
    } else if (!rc)
        rc = -1;
    /* the old text was a secret: its terms must leave the index pages too (store_delete's reason) */
    if (!rc && secret) s->scrub = 1;
    if (rc) {
        cs_err keep = err ? *err : (cs_err){0};
        store_end(s, 0, NULL);
        if (err) *err = keep;
        return rc;
    }
    return store_end(s, 1, err);
}

int store_meta_take(store *s, const char *key, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "DELETE FROM meta WHERE key = ? RETURNING 1", &st, "meta", err)) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st), took = r == SQLITE_ROW;
    while (r == SQLITE_ROW) r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? took : store_dberr(s, err, "meta");
}
