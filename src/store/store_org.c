/* store_org: the organisation columns and the collections table (see store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <strings.h>

#include "../common/cs_utf8.h"
#include "store_int.h"

/* Runs a one-row UPDATE binding id at ?1; returns 0, 1 if no row changed, -1. */
static int step_update(store *s, sqlite3_stmt *st, const char *what, cs_err *err) {
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) return store_dberr(s, err, what);
    return sqlite3_changes(s->db) ? 0 : 1;
}

int store_need_ocr(store *s, int limit, int64_t **ids, size_t *n, cs_err *err) {
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT id FROM entries WHERE kind = 'image' AND ocr_text IS NULL ORDER BY id LIMIT ?", &st,
                      "ocr", err))
        return -1;
    sqlite3_bind_int(st, 1, limit > 0 ? limit : -1);
    return store_collect_ids(s, st, ids, n, "ocr", err);
}

int store_set_ocr(store *s, int64_t id, const char *text, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "UPDATE entries SET ocr_text = ?2 WHERE id = ?1", &st, "ocr", err)) return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, text ? text : "", -1, SQLITE_STATIC);
    return step_update(s, st, "ocr", err);
}

int store_need_organise(store *s, const char *model, const char *mark, int limit, int64_t **ids, size_t *n,
                        cs_err *err) {
    return store_need_organise_after(s, model, mark, 0, limit, ids, n, err);
}

int store_need_organise_after(store *s, const char *model, const char *mark, int64_t after, int limit, int64_t **ids,
                              size_t *n, cs_err *err) {
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (store_prepare(
            s,
            "SELECT id FROM entries e WHERE id > ?4 AND (organised IS NULL OR organised <> ?3)"
            " AND EXISTS (SELECT 1 FROM vectors v WHERE v.entry = e.id AND v.model = ?1) ORDER BY id LIMIT ?2",
            &st, "organise", err))
        return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
    sqlite3_bind_text(st, 3, mark, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, after);
    return store_collect_ids(s, st, ids, n, "organise", err);
}

int store_kinds_after(store *s, int64_t after, int64_t **ids, unsigned char **image, size_t *n, cs_err *err) {
    *ids = NULL;
    *image = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT id, kind = 'image' FROM entries WHERE id > ? ORDER BY id", &st, "entries", err))
        return -1;
    sqlite3_bind_int64(st, 1, after);
    size_t cap = 0;
    int rc = 0, r;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            int64_t *ni = realloc(*ids, cap * sizeof *ni);
            if (ni) *ids = ni;
            unsigned char *nm = ni ? realloc(*image, cap) : NULL;
            if (nm) *image = nm;
            if (!ni || !nm) {
                rc = cs_errc(err, CS_ENOMEM, "out of memory");
                break;
            }
        }
        (*ids)[*n] = sqlite3_column_int64(st, 0);
        (*image)[*n] = (unsigned char)sqlite3_column_int(st, 1);
        (*n)++;
    }
    if (!rc && r != SQLITE_DONE) rc = store_dberr(s, err, "entries");
    sqlite3_finalize(st);
    if (rc) {
        free(*ids);
        free(*image);
        *ids = NULL;
        *image = NULL;
        *n = 0;
    }
    return rc;
}

int store_set_organised(store *s, int64_t id, const char *model, const char *category, double conf, int64_t dup_of,
                        cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s,
                      "UPDATE entries SET organised = ?2, category = ?3, category_conf = ?4, dup_of = ?5 WHERE id = ?1",
                      &st, "organise", err))
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
    if (category)
        sqlite3_bind_text(st, 3, category, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    if (category)
        sqlite3_bind_double(st, 4, conf);
    else
        sqlite3_bind_null(st, 4);
    if (dup_of)
        sqlite3_bind_int64(st, 5, dup_of);
    else
        sqlite3_bind_null(st, 5);
    return step_update(s, st, "organise", err);
}

int store_reset_organised(store *s, cs_err *err) {
    return store_exec(s, "UPDATE entries SET organised = NULL WHERE organised IS NOT NULL", err);
}

int store_set_expire(store *s, int64_t id, int64_t expire_ms, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "UPDATE entries SET expire_ms = ?2 WHERE id = ?1", &st, "expire", err)) return -1;
    sqlite3_bind_int64(st, 1, id);
    if (expire_ms > 0)
        sqlite3_bind_int64(st, 2, expire_ms);
    else
        sqlite3_bind_null(st, 2);
    return step_update(s, st, "expire", err);
}

/* ---- collections ---- */

void store_collection_free(store_collection *c) {
    if (!c) return;
    free(c->name);
    free(c->centroid);
    free(c->model);
    memset(c, 0, sizeof *c);
}

static void row_to_collection(sqlite3_stmt *st, store_collection *c) {
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(st, 0);
    c->name = store_col_strdup(st, 1);
    c->user_named = sqlite3_column_int(st, 2);
    c->model = store_col_strdup(st, 3);
    int dim = sqlite3_column_int(st, 4);
    if (dim > 0 && sqlite3_column_bytes(st, 5) == dim * (int)sizeof(float) &&
        (c->centroid = malloc((size_t)dim * sizeof(float)))) {
        memcpy(c->centroid, sqlite3_column_blob(st, 5), (size_t)dim * sizeof(float));
        c->dim = dim;
    }
    c->created_ms = sqlite3_column_int64(st, 6);
    c->members = sqlite3_column_int64(st, 7);
}

#define COLL_COLS                                                                                                      \
    "c.id, c.name, c.user_named, c.model, c.dim, c.centroid, c.created_ms,"                                            \
    " (SELECT count(*) FROM entries e WHERE e.collection = c.id)"

int store_collections(store *s, store_collection **out, size_t *n, cs_err *err) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT " COLL_COLS " AS m FROM collections c ORDER BY m DESC, c.id", &st, "collections", err))
        return -1;
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            store_collection *nc = realloc(*out, cap * sizeof *nc);
            if (!nc) {
                r = SQLITE_NOMEM;
                break;
            }
            *out = nc;
        }
        row_to_collection(st, &(*out)[(*n)++]);
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        for (size_t i = 0; i < *n; i++) store_collection_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        return store_dberr(s, err, "collections");
    }
    return 0;
}

static int valid_name(const char *name, cs_err *err) {
    size_t n = strlen(name);
    if (n == 0 || n > 100 || !cs_utf8_valid(name, n, 0))
        return cs_err_set(err, "a collection name is 1 to 100 bytes of UTF-8");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return cs_err_set(err, "a collection name cannot hold control characters");
    return 0;
}

static void bind_centroid(sqlite3_stmt *st, int col, const float *c, int dim) {
    if (c && dim > 0)
        sqlite3_bind_blob(st, col, c, dim * (int)sizeof *c, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, col);
}

int store_collection_create(store *s, const char *name, int user_named, const char *model, const float *centroid,
                            int dim, int64_t *id, cs_err *err) {
    if (valid_name(name, err)) return -1;
    sqlite3_stmt *st;
    if (store_prepare(
            s, "INSERT INTO collections(name, user_named, model, dim, centroid, created_ms) VALUES(?, ?, ?, ?, ?, ?)",
            &st, "collection", err))
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, user_named ? 1 : 0);
    if (model)
        sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int(st, 4, centroid ? dim : 0);
    bind_centroid(st, 5, centroid, dim);
    sqlite3_bind_int64(st, 6, store_now_ms());
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) return store_dberr(s, err, "collection");
    if (id) *id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

int store_collection_find(store *s, const char *name_or_id, int64_t *id, cs_err *err) {
    *id = 0;
    char *end;
    long long v = strtoll(name_or_id, &end, 10);
    sqlite3_stmt *st;
    if (store_prepare(
            s, "SELECT id FROM collections WHERE id = ?1 OR name = ?2 COLLATE NOCASE ORDER BY id = ?1 DESC, id LIMIT 1",
            &st, "collection", err))
        return -1;
    sqlite3_bind_int64(st, 1, *name_or_id && !*end ? v : -1);
    sqlite3_bind_text(st, 2, name_or_id, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (r == SQLITE_ROW) return 0;
    if (r == SQLITE_DONE) {
        cs_err_set(err, "no collection '%s' (see `clipseek collections`)", name_or_id);
        return 1;
    }
    return store_dberr(s, err, "collection");
}

int store_collection_set_centroid(store *s, int64_t id, const char *model, const float *centroid, int dim,
                                  cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "UPDATE collections SET model = ?2, dim = ?3, centroid = ?4 WHERE id = ?1", &st, "collection",
                      err))
        return -1;
    sqlite3_bind_int64(st, 1, id);
    if (model)
        sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int(st, 3, centroid ? dim : 0);
    bind_centroid(st, 4, centroid, dim);
    return step_update(s, st, "collection", err) < 0 ? -1 : 0;
}

int store_collection_rename(store *s, int64_t id, const char *name, int user, cs_err *err) {
    if (valid_name(name, err)) return -1;
    sqlite3_stmt *st;
    const char *sql = user ? "UPDATE collections SET name = ?2, user_named = 1 WHERE id = ?1"
                           : "UPDATE collections SET name = ?2 WHERE id = ?1 AND user_named = 0";
    if (store_prepare(s, sql, &st, "collection", err)) return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int r = step_update(s, st, "collection", err);
    if (r == 1 && user) cs_err_set(err, "no collection %lld", (long long)id);
    return r;
}

static int get_collection(store *s, int64_t id, store_collection *c, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT " COLL_COLS " FROM collections c WHERE c.id = ?", &st, "collection", err)) return -1;
    sqlite3_bind_int64(st, 1, id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) row_to_collection(st, c);
    sqlite3_finalize(st);
    if (r == SQLITE_DONE) {
        cs_err_set(err, "no collection %lld", (long long)id);
        return 1;
    }
    return r == SQLITE_ROW ? 0 : store_dberr(s, err, "collection");
}

int store_collection_merge(store *s, int64_t from, int64_t into, cs_err *err) {
    if (from == into) return cs_err_set(err, "cannot merge a collection into itself");
    store_collection a, b;
    int r = get_collection(s, from, &a, err);
    if (r) return r;
    r = get_collection(s, into, &b, err);
    if (r) {
        store_collection_free(&a);
        return r;
    }
    if (store_exec(s, "BEGIN IMMEDIATE", err)) {
        store_collection_free(&a);
        store_collection_free(&b);
        return -1;
    }
    sqlite3_stmt *st;
    r = store_prepare(s, "UPDATE entries SET collection = ?2 WHERE collection = ?1", &st, "merge", err);
    if (!r) {
        sqlite3_bind_int64(st, 1, from);
        sqlite3_bind_int64(st, 2, into);
        r = step_update(s, st, "merge", err) < 0 ? -1 : 0;
    }
    if (!r && a.centroid && b.centroid && a.dim == b.dim && a.model && b.model && !strcmp(a.model, b.model)) {
        double na = (double)a.members, nb = (double)b.members, norm = 0;
        if (na + nb <= 0) na = nb = 1;
        for (int i = 0; i < b.dim; i++) {
            b.centroid[i] = (float)((a.centroid[i] * na + b.centroid[i] * nb) / (na + nb));
            norm += (double)b.centroid[i] * b.centroid[i];
        }
        if (norm > 0)
            for (int i = 0; i < b.dim; i++) b.centroid[i] = (float)(b.centroid[i] / sqrt(norm));
        r = store_collection_set_centroid(s, into, b.model, b.centroid, b.dim, err);
    } else if (!r && a.centroid && !b.centroid)
        r = store_collection_set_centroid(s, into, a.model, a.centroid, a.dim, err);
    if (!r && !store_prepare(s, "DELETE FROM collections WHERE id = ?", &st, "merge", err)) {
        sqlite3_bind_int64(st, 1, from);
        r = step_update(s, st, "merge", err) < 0 ? -1 : 0;
    } else if (!r)
        r = -1;
    store_collection_free(&a);
    store_collection_free(&b);
    if (r) {
        store_exec(s, "ROLLBACK", NULL);
        return -1;
    }
    return store_exec(s, "COMMIT", err);
}

int store_set_collection(store *s, int64_t id, int64_t collection, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "UPDATE entries SET collection = ?2 WHERE id = ?1", &st, "collection", err)) return -1;
    sqlite3_bind_int64(st, 1, id);
    if (collection)
        sqlite3_bind_int64(st, 2, collection);
    else
        sqlite3_bind_null(st, 2);
    int r = step_update(s, st, "collection", err);
    if (r == 1) cs_err_set(err, "no entry %lld", (long long)id);
    return r;
}

int store_collection_members(store *s, int64_t id, int limit, int64_t **ids, size_t *n, cs_err *err) {
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT id FROM entries WHERE collection = ? ORDER BY seq DESC LIMIT ?", &st, "collection",
                      err))
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
    return store_collect_ids(s, st, ids, n, "collection", err);
}

int store_counts(store *s, const char *model, int64_t *entries, int64_t *pending, cs_err *err) {
    *entries = *pending = 0;
    sqlite3_stmt *st;
    if (store_prepare(
            s,
            "SELECT (SELECT count(*) FROM entries), CASE WHEN ?1 IS NULL THEN 0 ELSE (SELECT count(*) FROM entries e"
            " WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.entry = e.id AND v.model = ?1)) END",
            &st, "counts", err))
        return -1;
    if (model)
        sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 1);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *entries = sqlite3_column_int64(st, 0);
        *pending = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return r == SQLITE_ROW ? 0 : store_dberr(s, err, "counts");
}

int store_group_counts(store *s, const char *column, char ***values, int64_t **counts, size_t *n, cs_err *err) {
    *values = NULL;
    *counts = NULL;
    *n = 0;
    const char *sql =
        !strcmp(column, "kind") ? "SELECT kind, count(*) c FROM entries GROUP BY 1 ORDER BY c DESC, 1"
        : !strcmp(column, "subkind")
            ? "SELECT subkind, count(*) c FROM entries WHERE subkind <> '' GROUP BY 1 ORDER BY c DESC, 1"
        : !strcmp(column, "category")
            ? "SELECT category, count(*) c FROM entries WHERE category <> '' GROUP BY 1 ORDER BY c DESC, 1"
            : NULL;
    if (!sql) return cs_err_set(err, "no grouping by %s", column);
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, "counts", err)) return -1;
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(*values, cap * sizeof *nv);
            if (nv) *values = nv;
            int64_t *nc = realloc(*counts, cap * sizeof *nc);
            if (nc) *counts = nc;
            if (!nv || !nc) {
                r = SQLITE_NOMEM;
                break;
            }
        }
        (*values)[*n] = store_col_strdup(st, 0);
        (*counts)[*n] = sqlite3_column_int64(st, 1);
        (*n)++;
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        for (size_t i = 0; i < *n; i++) free((*values)[i]);
        free(*values);
        free(*counts);
        *values = NULL;
        *counts = NULL;
        *n = 0;
        return r == SQLITE_NOMEM ? cs_errc(err, CS_ENOMEM, "out of memory") : store_dberr(s, err, "counts");
    }
    return 0;
}

int store_vector_count(store *s, const char *model, int64_t *n, cs_err *err) {
    *n = 0;
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT count(*) FROM vectors WHERE model = ? AND dim > 0", &st, "vectors", err)) return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return r == SQLITE_ROW ? 0 : store_dberr(s, err, "vectors");
}
