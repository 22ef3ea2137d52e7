/* store_history: the trash and undo, clear, and editing a text entry (see store.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cs_utf8.h"
#include "store_int.h"

#define TRASH_COLS                                                                                                     \
    "kind, mime, mimes, size, sha256, text, blob, width, height, source, first_ms, last_ms, copies, pinned, seq,"      \
    " subkind, lang, ocr_text, category, category_conf, collection, dup_of, expire_ms, organised"

int store_trash(store *s, const int64_t *ids, size_t n, int64_t *trashed, cs_err *err) {
    if (trashed) *trashed = 0;
    if (store_begin(s, err)) return -1;
    int64_t batch = 0, moved = 0, now = store_now_ms();
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT coalesce(max(batch), 0) + 1 FROM trash", &st, "delete", err);
    if (!rc) {
        if (sqlite3_step(st) == SQLITE_ROW)
            batch = sqlite3_column_int64(st, 0);
        else
            rc = store_dberr(s, err, "delete");
        sqlite3_finalize(st);
    }
    /* set-based: the ids go into a temporary table, then one statement each moves them (a clear
     * of thousands of entries costs about what one DELETE of them costs) */
    if (!rc)
        rc = store_exec(
            s, "CREATE TEMP TABLE IF NOT EXISTS trash_ids(id INTEGER PRIMARY KEY); DELETE FROM temp.trash_ids", err);
    if (!rc && !(rc = store_prepare(s, "INSERT OR IGNORE INTO temp.trash_ids(id) VALUES(?)", &st, "delete", err))) {
        for (size_t i = 0; i < n && !rc; i++) {
            sqlite3_bind_int64(st, 1, ids[i]);
            if (sqlite3_step(st) != SQLITE_DONE) rc = store_dberr(s, err, "delete");
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
    }
    /* all or nothing: an unknown id refuses the whole step */
    if (!rc && !(rc = store_prepare(s, "SELECT id FROM temp.trash_ids WHERE id NOT IN (SELECT id FROM entries) LIMIT 1",
                                    &st, "delete", err))) {
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            rc = 1, cs_err_set(err, "no entry %lld", (long long)sqlite3_column_int64(st, 0));
        else if (r != SQLITE_DONE)
            rc = store_dberr(s, err, "delete");
        sqlite3_finalize(st);
    }
    /* a secret never waits in the trash: gone for good, its index pages scrubbed at the end */
    int64_t *sec = NULL;
    size_t nsec = 0;
    if (!rc && !(rc = store_prepare(
                     s, "SELECT id FROM entries WHERE id IN (SELECT id FROM temp.trash_ids) AND subkind = 'secret'",
                     &st, "delete", err)))
        rc = store_collect_ids(s, st, &sec, &nsec, "delete", err);
    for (size_t i = 0; i < nsec && !rc; i++) rc = store_delete(s, sec[i], err);
    free(sec);
    /* the rest moves with its tags; the triggers take it out of both full-text indexes, tags and
     * vectors go by cascade, the blob and thumbnail stay on disk (the trash row names them) */
    if (!rc && !(rc = store_prepare(
                     s,
                     "INSERT INTO trash(id, batch, deleted_ms, " TRASH_COLS ", tags) SELECT id, ?1, ?2, " TRASH_COLS ","
                     " (SELECT group_concat(tag, char(10)) FROM tags WHERE entry = entries.id) FROM entries"
                     " WHERE id IN (SELECT id FROM temp.trash_ids)",
                     &st, "delete", err))) {
        sqlite3_bind_int64(st, 1, batch);
        sqlite3_bind_int64(st, 2, now);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = store_dberr(s, err, "delete");
        else
            moved = sqlite3_changes(s->db);
        sqlite3_finalize(st);
    }
    if (!rc)
        rc = store_exec(
            s, "DELETE FROM entries WHERE id IN (SELECT id FROM temp.trash_ids); DELETE FROM temp.trash_ids", err);
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

/* Undo, set-based like store_trash: the batch's rows go back in a few statements. ?1 is the batch. */
static const char *UNDO_SQL[] = {
    /* back under their ids, unless the same content was copied again meanwhile (sha256 is
     * unique: no second row); the collection only if it still exists (a merge may have removed it) */
    "INSERT INTO entries(id, " TRASH_COLS
    ") SELECT id, kind, mime, mimes, size, sha256, text, blob, width, height, source,"
    " first_ms, last_ms, copies, pinned, seq, subkind, lang, ocr_text, category, category_conf,"
    " (SELECT c.id FROM collections c WHERE c.id = t.collection), dup_of, expire_ms, organised"
    " FROM trash t WHERE batch = ?1 AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.sha256 = t.sha256)",
    /* for those copied again: the pin goes onto the entry that has the content */
    "UPDATE entries SET pinned = 1 WHERE sha256 IN (SELECT sha256 FROM trash WHERE batch = ?1 AND pinned = 1)",
    /* the tags (newline-separated in the trash row) onto whichever entry has the content now */
    "WITH RECURSIVE split(sha, rest, tag) AS ("
    " SELECT sha256, tags || char(10), NULL FROM trash WHERE batch = ?1 AND coalesce(tags, '') <> ''"
    " UNION ALL SELECT sha, substr(rest, instr(rest, char(10)) + 1), substr(rest, 1, instr(rest, char(10)) - 1)"
    " FROM split WHERE rest <> '')"
    " INSERT OR IGNORE INTO tags(entry, tag) SELECT e.id, s.tag FROM split s JOIN entries e ON e.sha256 = s.sha"
    " WHERE coalesce(s.tag, '') <> ''",
};

int store_undo(store *s, int64_t **ids, size_t *n, cs_err *err) {
    *ids = NULL;
    *n = 0;
    if (store_begin(s, err)) return -1;
    sqlite3_stmt *st;
    int64_t batch = 0;
    int rc = store_prepare(s, "SELECT coalesce(max(batch), 0) FROM trash", &st, "undo", err);
    if (!rc) {
        if (sqlite3_step(st) == SQLITE_ROW)
            batch = sqlite3_column_int64(st, 0);
        else
            rc = store_dberr(s, err, "undo");
        sqlite3_finalize(st);
    }
    for (size_t i = 0; i < sizeof UNDO_SQL / sizeof *UNDO_SQL && !rc && batch; i++) {
        if ((rc = store_prepare(s, UNDO_SQL[i], &st, "undo", err))) break;
        sqlite3_bind_int64(st, 1, batch);
        if (sqlite3_step(st) != SQLITE_DONE) rc = store_dberr(s, err, "undo");
        sqlite3_finalize(st);
    }
    /* the ids the contents have now, in the order they were deleted in */
    if (!rc && batch &&
        !(rc = store_prepare(s,
                             "SELECT e.id FROM trash t JOIN entries e ON e.sha256 = t.sha256 WHERE t.batch = ?"
                             " ORDER BY t.id",
                             &st, "undo", err))) {
        sqlite3_bind_int64(st, 1, batch);
        rc = store_collect_ids(s, st, ids, n, "undo", err);
    }
    if (!rc && batch && !(rc = store_prepare(s, "DELETE FROM trash WHERE batch = ?", &st, "undo", err))) {
        sqlite3_bind_int64(st, 1, batch);
        if (sqlite3_step(st) != SQLITE_DONE) rc = store_dberr(s, err, "undo");
        sqlite3_finalize(st);
    }
    if (!rc && store_end(s, 1, err))
        rc = -1, store_exec(s, "ROLLBACK", NULL); /* a failed COMMIT may leave it open */
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
    char(*files)[2][65] = NULL;
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
    if (r != SQLITE_DONE) {
        free(files);
        return store_dberr(s, err, "trash");
    }
    if (sqlite3_get_autocommit(s->db))
        for (size_t i = 0; i < nf; i++) store_drop_entry_files(s, files[i][0], files[i][1]);
    free(files);
    if (removed) *removed = (int64_t)cnt;
    return 0;
}

int store_trash_count(store *s, int64_t *entries, int64_t *last_batch, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(
            s, "SELECT count(*), (SELECT count(*) FROM trash WHERE batch = (SELECT max(batch) FROM trash)) FROM trash",
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
    if (c->kind)
        sqlite3_bind_text(st, 2, c->kind, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, c->older_than_ms > 0 ? store_now_ms() - c->older_than_ms : 0);
    return store_collect_ids(s, st, ids, n, "clear", err);
}

int store_set_text(store *s, int64_t id, const char *text, size_t len, const char *subkind, const char *lang,
                   cs_err *err) {
    if (!cs_utf8_valid(text, len, 0)) return cs_err_set(err, "the new text must be UTF-8 without NUL bytes"), 2;
    if (len == 0) return cs_err_set(err, "the new text is empty (delete the entry instead)"), 2;
    char sha[65];
    store_sha256_hex(text, len, sha);
    if (store_begin(s, err)) return -1;
    sqlite3_stmt *st;
    int rc = store_prepare(
        s,
        "SELECT kind, coalesce(subkind, '') = 'secret', (SELECT id FROM entries WHERE sha256 = ?2 AND id <> ?1)"
        " FROM entries WHERE id = ?1",
        &st, "edit", err);
    if (rc) {
        store_end(s, 0, NULL);
        return -1;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, sha, 64, SQLITE_STATIC);
    int r = sqlite3_step(st);
    int secret = 0;
    if (r == SQLITE_DONE)
        rc = 1, cs_err_set(err, "no entry %lld", (long long)id);
    else if (r != SQLITE_ROW)
        rc = store_dberr(s, err, "edit");
    else if (strcmp((const char *)sqlite3_column_text(st, 0), "text"))
        rc = 2, cs_err_set(err, "entry %lld is %s, not text: only text entries can be edited", (long long)id,
                           (const char *)sqlite3_column_text(st, 0));
    else if (sqlite3_column_type(st, 2) != SQLITE_NULL)
        rc = 2, cs_err_set(err, "entry %lld already holds this text", (long long)sqlite3_column_int64(st, 2));
    else
        secret = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    /* the text triggers re-index both full-text indexes; the old vectors describe the old text,
     * so they go and the index worker embeds the entry again; the organiser looks at it again */
    if (!rc &&
        store_prepare(s,
                      "UPDATE entries SET text = ?2, size = ?3, sha256 = ?4, subkind = ?5, lang = ?6, mimes = mime,"
                      " organised = NULL, dup_of = NULL WHERE id = ?1",
                      &st, "edit", err) == 0) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, text, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)len);
        sqlite3_bind_text(st, 4, sha, 64, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, subkind ? subkind : "", -1, SQLITE_STATIC);
        if (lang)
            sqlite3_bind_text(st, 6, lang, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 6);
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
