/* store: see store.h for the layout and invariants.
 *
 * Durability: WAL with synchronous=FULL; blob files are made durable (fsync file, rename, fsync
 * directory) before the transaction that names them commits. Deduplication is by SHA-256 of the
 * content, enforced by a UNIQUE index, so two processes adding the same clip at once end with one
 * row (the loser of the race takes the bump path). */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/cs_file.h"
#include "../common/cs_utf8.h"
#include "store_int.h"

#define APP_ID 0x436c5073 /* "ClPs" */

int64_t store_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void store_sha256_hex(const void *data, size_t len, char out[65]) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Counts every commit, explicit or autocommit: each is one fsync of the WAL (store_commits). */
static int count_commit(void *arg) {
    ((store *)arg)->commits++;
    return 0; /* 0: let the commit go ahead */
}

/* 1 if the last failure on this connection came from the disk (an IOERR, or any error while
 * the last system error SQLite saw was EIO: a failed read surfaces as "vtable constructor
 * failed" through FTS5, or as a corrupt-looking page). */
static int io_failure(store *s) {
    int code = sqlite3_extended_errcode(s->db) & 0xff;
    return code == SQLITE_IOERR || sqlite3_system_errno(s->db) == EIO;
}

#define IO_ADVICE                                                                                                      \
    "the disk or file system failed; the database itself may be intact: check the disk (dmesg) before deleting "       \
    "anything"

cs_err_code store_code(int sqlite_rc) {
    switch (sqlite_rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return CS_EBUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return CS_ECORRUPT;
    case SQLITE_FULL: return CS_ENOSPC;
    case SQLITE_IOERR: return CS_EIO;
    case SQLITE_NOMEM: return CS_ENOMEM;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH: return CS_EPERM;
    case SQLITE_CANTOPEN: return CS_ENOTFOUND;
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_CONSTRAINT: return CS_EINVAL;
    default: return CS_EFAIL;
    }
}

int store_dberr(store *s, cs_err *err, const char *what) {
    /* SQLite's wording for a disk failure ("disk I/O error", or "database disk image is
     * malformed" when a page could not be read) invites deleting a healthy database */
    if (io_failure(s)) {
        int sys = sqlite3_system_errno(s->db);
        cs_err_code code = sys == ENOSPC || sys == EDQUOT ? CS_ENOSPC : CS_EIO;
        return cs_errc(err, code, "%s: %s: I/O error (%s): " IO_ADVICE, s->dbpath, what,
                       sys ? strerror(sys) : sqlite3_errmsg(s->db));
    }
    return cs_errc(err, store_code(sqlite3_extended_errcode(s->db)), "%s: %s: %s", s->dbpath, what,
                   sqlite3_errmsg(s->db));
}

int store_prepare(store *s, const char *sql, sqlite3_stmt **st, const char *what, cs_err *err) {
    return sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : store_dberr(s, err, what);
}

int store_exec(store *s, const char *sql, cs_err *err) {
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        cs_errc(err, store_code(rc), "%s: %s", s->dbpath, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Creates a directory 0700, or tightens an existing one. */
static int private_dir(const char *path, cs_err *err) {
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return cs_errc(err, cs_err_from_errno(errno), "%s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return cs_errc(err, CS_EINVAL, "%s: not a directory", path);
    if ((st.st_mode & 0077) && chmod(path, 0700) != 0)
        return cs_errc(err, cs_err_from_errno(errno), "%s: chmod: %s", path, strerror(errno));
    return 0;
}

static const char *SCHEMA_V1 = "CREATE TABLE entries("
                               " id INTEGER PRIMARY KEY,"
                               " kind TEXT NOT NULL,"
                               " mime TEXT NOT NULL,"
                               " mimes TEXT NOT NULL DEFAULT '',"
                               " size INTEGER NOT NULL,"
                               " sha256 TEXT NOT NULL UNIQUE,"
                               " text TEXT,"
                               " blob TEXT,"
                               " width INTEGER NOT NULL DEFAULT 0,"
                               " height INTEGER NOT NULL DEFAULT 0,"
                               " source TEXT,"
                               " first_ms INTEGER NOT NULL,"
                               " last_ms INTEGER NOT NULL,"
                               " copies INTEGER NOT NULL DEFAULT 1,"
                               " pinned INTEGER NOT NULL DEFAULT 0,"
                               " seq INTEGER NOT NULL DEFAULT 0);" /* copy order: recency is by this, not the clock */
                               "CREATE INDEX entries_last ON entries(last_ms);"
                               "CREATE INDEX entries_seq ON entries(seq);"
                               "CREATE INDEX entries_blob ON entries(blob) WHERE blob IS NOT NULL;"
                               "CREATE TABLE tags(entry INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,"
                               " tag TEXT NOT NULL, PRIMARY KEY(entry, tag));"
                               "CREATE TABLE vectors(entry INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,"
                               " model TEXT NOT NULL, part INTEGER NOT NULL, dim INTEGER NOT NULL, vec BLOB NOT NULL,"
                               " PRIMARY KEY(entry, model, part));"
                               "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);";

/* v2: full-text index over each entry's text, source and tags, kept by triggers. The body is
 * rebuilt from the tables on every change, so the index can never drift from them. (A regular
 * FTS5 table: SQLite 3.40, Debian 12, has no contentless_delete; the copy costs text-sized space.) */
#define FTS_BODY(e)                                                                                                    \
    "coalesce(" e ".text, '') || ' ' || coalesce(" e ".source, '') || ' ' || "                                         \
    "coalesce((SELECT group_concat(tag, ' ') FROM tags WHERE entry = " e ".id), '')"
static const char *SCHEMA_V2 =
    "CREATE VIRTUAL TABLE entries_fts USING fts5(body,"
    " tokenize='unicode61 remove_diacritics 2');"
    "INSERT INTO entries_fts(rowid, body) SELECT id, " FTS_BODY(
        "entries") " FROM entries;"
                   "CREATE TRIGGER entries_fts_ai AFTER INSERT ON entries BEGIN"
                   " INSERT INTO entries_fts(rowid, body) VALUES(new.id, " FTS_BODY(
                       "new") "); END;"
                              "CREATE TRIGGER entries_fts_ad AFTER DELETE ON entries BEGIN"
                              " DELETE FROM entries_fts WHERE rowid = old.id; END;"
                              "CREATE TRIGGER entries_fts_au AFTER UPDATE OF text, source ON entries BEGIN"
                              " DELETE FROM entries_fts WHERE rowid = old.id;"
                              " INSERT INTO entries_fts(rowid, body) VALUES(new.id, " FTS_BODY(
                                  "new") "); END;"
                                         "CREATE TRIGGER tags_fts_ai AFTER INSERT ON tags BEGIN"
                                         " DELETE FROM entries_fts WHERE rowid = new.entry;"
                                         " INSERT INTO entries_fts(rowid, body) SELECT id, " FTS_BODY(
                                             "entries") " FROM entries WHERE id = new.entry; END;"
                                                        "CREATE TRIGGER tags_fts_ad AFTER DELETE ON tags BEGIN"
                                                        " DELETE FROM entries_fts WHERE rowid = old.entry;"
                                                        " INSERT INTO entries_fts(rowid, body) SELECT id, " FTS_BODY(
                                                            "entries") " FROM entries WHERE id = old.entry; END;";

/* v4: organisation. The full-text body also covers text read from images and the image category,
 * so the triggers are made again with the wider body (and the index refilled). */
#define FTS_BODY4(e)                                                                                                   \
    "coalesce(" e ".text, '') || ' ' || coalesce(" e ".ocr_text, '') || ' ' || "                                       \
    "coalesce(" e ".category, '') || ' ' || coalesce(" e ".source, '') || ' ' || "                                     \
    "coalesce((SELECT group_concat(tag, ' ') FROM tags WHERE entry = " e ".id), '')"
static const char *SCHEMA_V4 =
    "ALTER TABLE entries ADD COLUMN ocr_text TEXT;" /* NULL: not read yet; '' none found */
    "ALTER TABLE entries ADD COLUMN category TEXT;" /* image category (zero-shot label) */
    "ALTER TABLE entries ADD COLUMN category_conf REAL;"
    "ALTER TABLE entries ADD COLUMN collection INTEGER REFERENCES collections(id) ON DELETE SET NULL;"
    "ALTER TABLE entries ADD COLUMN dup_of INTEGER;"    /* near-duplicate group: its first entry */
    "ALTER TABLE entries ADD COLUMN expire_ms INTEGER;" /* set by an expire rule */
    "ALTER TABLE entries ADD COLUMN organised TEXT;"    /* model id the model-based organising used */
    "CREATE INDEX entries_collection ON entries(collection) WHERE collection IS NOT NULL;"
    "CREATE INDEX entries_pinned ON entries(seq) WHERE pinned = 1;"
    "CREATE INDEX entries_category ON entries(category) WHERE category IS NOT NULL;"
    "CREATE TABLE collections(id INTEGER PRIMARY KEY, name TEXT NOT NULL, user_named INTEGER NOT NULL DEFAULT 0,"
    " model TEXT, dim INTEGER NOT NULL DEFAULT 0, centroid BLOB, created_ms INTEGER NOT NULL);"
    "DROP TRIGGER entries_fts_ai; DROP TRIGGER entries_fts_au; DROP TRIGGER tags_fts_ai; DROP TRIGGER tags_fts_ad;"
    "CREATE TRIGGER entries_fts_ai AFTER INSERT ON entries BEGIN"
    " INSERT INTO entries_fts(rowid, body) VALUES(new.id, " FTS_BODY4(
        "new") "); END;"
               "CREATE TRIGGER entries_fts_au AFTER UPDATE OF text, source, ocr_text, category ON entries BEGIN"
               " DELETE FROM entries_fts WHERE rowid = old.id;"
               " INSERT INTO entries_fts(rowid, body) VALUES(new.id, " FTS_BODY4(
                   "new") "); END;"
                          "CREATE TRIGGER tags_fts_ai AFTER INSERT ON tags BEGIN"
                          " DELETE FROM entries_fts WHERE rowid = new.entry;"
                          " INSERT INTO entries_fts(rowid, body) SELECT id, " FTS_BODY4(
                              "entries") " FROM entries WHERE id = new.entry; END;"
                                         "CREATE TRIGGER tags_fts_ad AFTER DELETE ON tags BEGIN"
                                         " DELETE FROM entries_fts WHERE rowid = old.entry;"
                                         " INSERT INTO entries_fts(rowid, body) SELECT id, " FTS_BODY4(
                                             "entries") " FROM entries WHERE id = old.entry; END;"
                                                        "DELETE FROM entries_fts;"
                                                        "INSERT INTO entries_fts(rowid, body) SELECT id, " FTS_BODY4(
                                                            "entries") " FROM entries;";

/* v3: text kinds by rules (src/capture/textkind.h). NULL = not organised yet, '' = prose. */
static const char *SCHEMA_V3 = "ALTER TABLE entries ADD COLUMN subkind TEXT; ALTER TABLE entries ADD COLUMN lang TEXT;"
                               "CREATE INDEX entries_subkind ON entries(subkind);";

/* v5: ids are never reused. Without AUTOINCREMENT, deleting the newest entry gave its id to the
 * next clip, and anything still holding the old id (a search matrix row, a stale web tab, a
 * picker line) then named the unrelated new clip; the same for vector rowids, which the search
 * matrix syncs by ("rows past last_rowid"), so a new vector could take a deleted one's rowid and
 * never reach the matrix. SQLite cannot add AUTOINCREMENT to a table, so both are rebuilt (ids
 * and rowids kept; sqlite_sequence starts at the largest). Runs with foreign keys off (dropping
 * the old table must not cascade) and legacy renames (nothing else is rewritten). */
static const char *SCHEMA_V5 =
    "CREATE TABLE entries_v5("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, mime TEXT NOT NULL, mimes TEXT NOT NULL DEFAULT '',"
    " size INTEGER NOT NULL, sha256 TEXT NOT NULL UNIQUE, text TEXT, blob TEXT, width INTEGER NOT NULL DEFAULT 0,"
    " height INTEGER NOT NULL DEFAULT 0, source TEXT, first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,"
    " copies INTEGER NOT NULL DEFAULT 1, pinned INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL DEFAULT 0,"
    " subkind TEXT, lang TEXT, ocr_text TEXT, category TEXT, category_conf REAL,"
    " collection INTEGER REFERENCES collections(id) ON DELETE SET NULL, dup_of INTEGER, expire_ms INTEGER, organised "
    "TEXT);"
    "INSERT INTO entries_v5 SELECT id, kind, mime, mimes, size, sha256, text, blob, width, height, source, first_ms,"
    " last_ms, copies, pinned, seq, subkind, lang, ocr_text, category, category_conf, collection, dup_of, expire_ms,"
    " organised FROM entries;"
    "DROP TABLE entries;"
    "ALTER TABLE entries_v5 RENAME TO entries;"
    "CREATE INDEX entries_last ON entries(last_ms);"
    "CREATE INDEX entries_seq ON entries(seq);"
    "CREATE INDEX entries_blob ON entries(blob) WHERE blob IS NOT NULL;"
    "CREATE INDEX entries_subkind ON entries(subkind);"
    "CREATE INDEX entries_collection ON entries(collection) WHERE collection IS NOT NULL;"
    "CREATE INDEX entries_pinned ON entries(seq) WHERE pinned = 1;"
    "CREATE INDEX entries_category ON entries(category) WHERE category IS NOT NULL;"
    "CREATE TRIGGER entries_fts_ai AFTER INSERT ON entries BEGIN"
    " INSERT INTO entries_fts(rowid, body) VALUES(new.id, " FTS_BODY4(
        "new") "); END;"
               "CREATE TRIGGER entries_fts_ad AFTER DELETE ON entries BEGIN"
               " DELETE FROM entries_fts WHERE rowid = old.id; END;"
               "CREATE TRIGGER entries_fts_au AFTER UPDATE OF text, source, ocr_text, category ON entries BEGIN"
               " DELETE FROM entries_fts WHERE rowid = old.id;"
               " INSERT INTO entries_fts(rowid, body) VALUES(new.id, " FTS_BODY4(
                   "new") "); END;"
                          "CREATE TABLE vectors_v5(id INTEGER PRIMARY KEY AUTOINCREMENT,"
                          " entry INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE, model TEXT NOT NULL, part "
                          "INTEGER NOT NULL,"
                          " dim INTEGER NOT NULL, vec BLOB NOT NULL, UNIQUE(entry, model, part));"
                          "INSERT INTO vectors_v5 SELECT rowid, entry, model, part, dim, vec FROM vectors;"
                          "DROP TABLE vectors;"
                          "ALTER TABLE vectors_v5 RENAME TO vectors;";

/* v6: a trigram index beside the word index, so a query finds words inside words ("voice" in
 * "invoice", "board" in "clipboard"; search.h). Its own triggers, so the word index's stay as
 * they are. Only the first 4096 characters of text and OCR text go in: a trigram index costs
 * several times its text, and a substring hit deep in a long file is not what a person typing a
 * few letters is after (the word index still has the whole text). */
#define TRI_BODY(e)                                                                                                    \
    "substr(coalesce(" e ".text, ''), 1, 4096) || ' ' || substr(coalesce(" e ".ocr_text, ''), 1, 4096)"                \
    " || ' ' || coalesce(" e ".category, '')"
static const char *SCHEMA_V6 =
    /* idempotent (IF NOT EXISTS, emptied and refilled, triggers made again): a store that has
     * the table from a development build, or that lost the triggers to a table rebuild, ends the
     * same as a fresh one */
    "CREATE VIRTUAL TABLE IF NOT EXISTS entries_tri USING fts5(body, tokenize='trigram');"
    "DELETE FROM entries_tri;"
    "INSERT INTO entries_tri(rowid, body) SELECT id, " TRI_BODY(
        "entries") " FROM entries;"
                   "DROP TRIGGER IF EXISTS entries_tri_ai; DROP TRIGGER IF EXISTS entries_tri_ad; DROP TRIGGER IF "
                   "EXISTS entries_tri_au;"
                   "CREATE TRIGGER entries_tri_ai AFTER INSERT ON entries BEGIN"
                   " INSERT INTO entries_tri(rowid, body) VALUES(new.id, " TRI_BODY(
                       "new") "); END;"
                              "CREATE TRIGGER entries_tri_ad AFTER DELETE ON entries BEGIN"
                              " DELETE FROM entries_tri WHERE rowid = old.id; END;"
                              "CREATE TRIGGER entries_tri_au AFTER UPDATE OF text, ocr_text, category ON entries BEGIN"
                              " DELETE FROM entries_tri WHERE rowid = old.id;"
                              " INSERT INTO entries_tri(rowid, body) VALUES(new.id, " TRI_BODY("new") "); END;";

/* v7: the trash. A deleted entry (not a secret) moves here with its tags, as one undo step (its
 * batch), and is purged after STORE_TRASH_KEEP_MS or by gc; undo moves a batch back under the
 * same ids (never reused: AUTOINCREMENT). Rows here are in no index (FTS, trigram, vectors), so
 * nothing that searches or lists entries can see them; a blob stays on disk while a row here
 * names it. */
static const char *SCHEMA_V7 =
    "CREATE TABLE IF NOT EXISTS trash(id INTEGER PRIMARY KEY, batch INTEGER NOT NULL, deleted_ms INTEGER NOT NULL,"
    " kind TEXT NOT NULL, mime TEXT NOT NULL, mimes TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,"
    " text TEXT, blob TEXT, width INTEGER NOT NULL, height INTEGER NOT NULL, source TEXT, first_ms INTEGER NOT NULL,"
    " last_ms INTEGER NOT NULL, copies INTEGER NOT NULL, pinned INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " subkind TEXT, lang TEXT, ocr_text TEXT, category TEXT, category_conf REAL, collection INTEGER, dup_of INTEGER,"
    " expire_ms INTEGER, organised TEXT, tags TEXT);" /* tags: newline-separated (a tag holds no control characters) */
    "CREATE INDEX IF NOT EXISTS trash_batch ON trash(batch);"
    "CREATE INDEX IF NOT EXISTS trash_blob ON trash(blob) WHERE blob IS NOT NULL;";

static int pragma_int(store *s, const char *sql, int64_t *out, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, "reading the header", err)) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : store_dberr(s, err, "reading the header");
}

/* Removes the search matrix files (vectors/, caches rebuilt on the next search). Done once, when
 * an old store becomes v5: ids were reused before, so a matrix row of an entry deleted then may
 * carry the id of a later clip; from v5 on an id names one entry forever, and a row of a deleted
 * entry can only name nothing. Unlinked, never truncated: a process that has one mapped keeps
 * its pages. */
static void drop_vector_caches(store *s) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/vectors", s->dir);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 4 && (!strcmp(de->d_name + l - 4, ".f32") || !strcmp(de->d_name + l - 3, ".q8"))) {
            char p[4600];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
    }
    closedir(d);
}

/* -1 with a message if PRAGMA foreign_key_check finds a row pointing at nothing. */
static int foreign_key_problems(store *s, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "PRAGMA foreign_key_check", &st, "migrating", err)) return -1;
    int r = sqlite3_step(st);
    char what[128] = "";
    if (r == SQLITE_ROW) snprintf(what, sizeof what, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (r == SQLITE_ROW) return cs_err_set(err, "%s: migrating: a row of %s points at nothing", s->dbpath, what);
    return r == SQLITE_DONE ? 0 : store_dberr(s, err, "migrating");
}

#define MIGRATE_WAIT_MS (10 * 60 * 1000)

/* Runs with foreign keys off (store_open turns them on after): the v5 rebuild drops tables that
 * others reference, and PRAGMA foreign_keys cannot change inside the migration's transaction. */
static int migrate(store *s, cs_err *err) {
    int64_t app = 0, ver = 0, tables = 0;
    if (pragma_int(s, "PRAGMA application_id", &app, err) || pragma_int(s, "PRAGMA user_version", &ver, err) ||
        pragma_int(s, "SELECT count(*) FROM sqlite_master", &tables, err))
        return -1;
    if (app != APP_ID && !(app == 0 && tables == 0))
        return cs_errc(err, CS_EINVAL, "%s: not a clipseek database (application_id %lld); refusing to touch it",
                       s->dbpath, (long long)app);
    if (ver > STORE_SCHEMA_VERSION)
        return cs_errc(err, CS_EUNSUPPORTED,
                       "%s: schema version %lld is newer than this clipseek (%d); upgrade clipseek", s->dbpath,
                       (long long)ver, STORE_SCHEMA_VERSION);
    if (ver == STORE_SCHEMA_VERSION) return 0;
    /* Another process may be migrating right now: the v5 rebuild of a large history holds the
     * write lock for many seconds (150k entries: 14 s), far past the usual 5 s wait, and a
     * capture or command opened meanwhile failed with "database is locked". Wait for it. */
    sqlite3_busy_timeout(s->db, MIGRATE_WAIT_MS);
    int br = store_exec(s, "BEGIN IMMEDIATE", err);
    sqlite3_busy_timeout(s->db, 5000);
    if (br)
        return cs_err_prefix(err, "upgrading the database (another clipseek held it for over %d s)",
                             MIGRATE_WAIT_MS / 1000);
    /* re-read under the write lock: another process may have migrated meanwhile */
    if (pragma_int(s, "PRAGMA user_version", &ver, err)) {
        store_exec(s, "ROLLBACK", NULL);
        return -1;
    }
    int rc = 0;
    if (ver < 1) rc = store_exec(s, SCHEMA_V1, err);
    if (!rc && ver < 2) rc = store_exec(s, SCHEMA_V2, err);
    if (!rc && ver < 3) rc = store_exec(s, SCHEMA_V3, err);
    if (!rc && ver < 4) rc = store_exec(s, SCHEMA_V4, err);
    if (!rc && ver < 5) rc = store_exec(s, SCHEMA_V5, err);
    if (!rc) rc = foreign_key_problems(s, err); /* the rebuild kept every reference */
    /* after 5: its table rebuild drops every trigger on entries, the trigram ones included */
    if (!rc && ver < 6) rc = store_exec(s, SCHEMA_V6, err);
    if (!rc && ver < 7) rc = store_exec(s, SCHEMA_V7, err);
    if (!rc) {
        char sql[128];
        snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d", APP_ID, STORE_SCHEMA_VERSION);
        rc = store_exec(s, sql, err);
    }
    if (rc) {
        store_exec(s, "ROLLBACK", NULL);
        return -1;
    }
    if (store_exec(s, "COMMIT", err)) return -1;
    if (ver >= 1 && ver < 5) drop_vector_caches(s);
    return 0;
}

int store_open(const char *dir, store **out, cs_err *err) {
    *out = NULL;
    store *s = calloc(1, sizeof *s);
    if (!s) return cs_errc(err, CS_ENOMEM, "out of memory");
    s->dir = strdup(dir);
    s->blobdir = cs_path_join(dir, "blobs");
    s->dbpath = cs_path_join(dir, "clipseek.db");
    if (!s->dir || !s->blobdir || !s->dbpath) {
        store_close(s);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    s->lockfd = -1;
    if (private_dir(dir, err) || private_dir(s->blobdir, err)) {
        store_close(s);
        return -1;
    }
    char lp[4200];
    snprintf(lp, sizeof lp, "%s/.lock", s->blobdir);
    s->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lockfd < 0) {
        cs_errc(err, cs_err_from_errno(errno), "%s: %s", lp, strerror(errno));
        store_close(s);
        return -1;
    }
    /* Create the file 0600 ourselves so SQLite never makes it world-readable. Only with O_EXCL:
     * closing any descriptor of a database file drops every POSIX lock this process holds on it,
     * including those of other connections (other threads) that have it open. A file that does
     * not exist yet cannot be open anywhere, so this close is safe; an existing file is only
     * chmod-ed by path. */
    int fd = open(s->dbpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    else if (errno != EEXIST) {
        cs_errc(err, cs_err_from_errno(errno), "%s: %s", s->dbpath, strerror(errno));
        store_close(s);
        return -1;
    }
    struct stat dst;
    if (stat(s->dbpath, &dst) == 0 && (dst.st_mode & 0077)) chmod(s->dbpath, 0600);
    int orc = sqlite3_open_v2(s->dbpath, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (orc != SQLITE_OK) {
        cs_errc(err, store_code(orc), "%s: %s", s->dbpath, s->db ? sqlite3_errmsg(s->db) : "cannot open");
        store_close(s);
        return -1;
    }
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_commit_hook(s->db, count_commit, s);
    /* Turning a new database to WAL needs it to itself, and SQLite reports SQLITE_BUSY there
     * without calling the busy handler: retry for up to 5 s (two processes opening a fresh store
     * at once, such as the daemon and a CLI call, meet here). */
    int rc = SQLITE_BUSY;
    for (int tries = 0; tries < 250; tries++) {
        rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) break;
        usleep(20000);
    }
    if (rc != SQLITE_OK) {
        store_dberr(s, err, "switching to WAL");
        store_close(s);
        return -1;
    }
    /* secure_delete: a deleted row's bytes (a copied password) are overwritten with zeros in the
     * file, not left in free pages until reused */
    if (store_exec(
            s,
            "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA foreign_keys=OFF; PRAGMA legacy_alter_table=ON",
            err) ||
        migrate(s, err) || store_exec(s, "PRAGMA legacy_alter_table=OFF; PRAGMA foreign_keys=ON", err)) {
        store_close(s);
        return -1;
    }
    /* the WAL and shm files inherit the database's mode, but tighten them if they exist */
    char p[4200];
    snprintf(p, sizeof p, "%s-wal", s->dbpath);
    chmod(p, 0600);
    snprintf(p, sizeof p, "%s-shm", s->dbpath);
    chmod(p, 0600);
    *out = s;
    return 0;
}

void store_close(store *s) {
    if (!s) return;
    free(s->pending);
    free(s->kmap);
    if (s->db) sqlite3_close_v2(s->db);
    if (s->lockfd >= 0) close(s->lockfd);
    free(s->dir);
    free(s->blobdir);
    free(s->dbpath);
    free(s);
}

const char *store_dir(const store *s) { return s->dir; }

/* ---- blobs ---- */

static char *blob_path_for(const store *s, const char *sha) {
    size_t n = strlen(s->blobdir) + 80;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%.2s/%s", s->blobdir, sha, sha);
    return p;
}

char *store_blob_path(const store *s, const store_entry *e) { return e->blob ? blob_path_for(s, e->blob) : NULL; }

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Writes a blob durably; a blob that already exists with this name is left as it is. */
int store_write_blob(store *s, const char *sha, const void *data, size_t len, cs_err *err) {
    char sub[4200], tmp[4300];
    snprintf(sub, sizeof sub, "%s/%.2s", s->blobdir, sha);
    if (private_dir(sub, err)) return -1;
    char *final = blob_path_for(s, sha);
    if (!final) return cs_errc(err, CS_ENOMEM, "out of memory");
    struct stat st;
    if (stat(final, &st) == 0 && (size_t)st.st_size == len) {
        free(final);
        return 0;
    }
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s-%ld", sub, sha, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(final);
        return cs_errc(err, cs_err_from_errno(errno), "%s: %s", tmp, strerror(errno));
    }
    const unsigned char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            free(final);
            return cs_errc(err, cs_err_from_errno(e), "%s: write: %s", tmp, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        free(final);
        return cs_err_set(err, "%s: fsync failed", tmp);
    }
    if (rename(tmp, final) != 0) {
        int e = errno;
        unlink(tmp);
        free(final);
        return cs_err_set(err, "rename to blob: %s", strerror(e));
    }
    free(final);
    if (fsync_dir(sub) != 0) return cs_err_set(err, "%s: fsync: %s", sub, strerror(errno));
    return 0;
}

/* ---- entries ---- */

static int is_text_kind(const char *kind) { return !strcmp(kind, "text") || !strcmp(kind, "files"); }

int store_add(store *s, const store_new *e, int64_t *id, int *added, cs_err *err) {
    if (id) *id = 0;
    if (added) *added = 0;
    if (!e->kind || !*e->kind || strlen(e->kind) >= 16 || !e->mime)
        return cs_err_set(err, "an entry needs a kind and a type");
    int text = is_text_kind(e->kind);
    if (text && !cs_utf8_valid(e->data, e->len, 0))
        return cs_err_set(err, "%s entries must be UTF-8 text without NUL bytes", e->kind);
    char sha[65];
    store_sha256_hex(e->data, e->len, sha);
    int64_t now = e->time_ms ? e->time_ms : store_now_ms();
    /* shared: many adds at once, but no gc between writing the blob and committing its row */
    flock(s->lockfd, LOCK_SH);
    if (!text && store_write_blob(s, sha, e->data, e->len, err)) {
        flock(s->lockfd, LOCK_UN);
        return -1;
    }
    if (!text && s->test_hook) s->test_hook(s, "add-blob-written", s->test_hook_arg);
    if (store_exec(s, "BEGIN IMMEDIATE", err)) {
        flock(s->lockfd, LOCK_UN);
        return -1;
    }
    sqlite3_stmt *st = NULL;
    int rc = -1;
    /* bump if present */
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE entries SET last_ms = max(last_ms, ?1), copies = copies + 1,"
                           " seq = (SELECT coalesce(max(seq), 0) + 1 FROM entries) WHERE sha256 = ?2 RETURNING id",
                           -1, &st, NULL) != SQLITE_OK) {
        store_dberr(s, err, "add");
        goto out;
    }
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, sha, 64, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        if (id) *id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        st = NULL;
        rc = store_exec(s, "COMMIT", err);
        goto out;
    }
    if (r != SQLITE_DONE) {
        store_dberr(s, err, "add");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO entries(kind, mime, mimes, size, sha256, text, blob, width, height, source, "
                           "first_ms, last_ms, seq,"
                           " subkind, lang) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11,"
                           " (SELECT coalesce(max(seq), 0) + 1 FROM entries), ?12, ?13)",
                           -1, &st, NULL) != SQLITE_OK) {
        store_dberr(s, err, "add");
        goto out;
    }
    sqlite3_bind_text(st, 1, e->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, e->mime, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, e->mimes ? e->mimes : e->mime, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)e->len);
    sqlite3_bind_text(st, 5, sha, 64, SQLITE_STATIC);
    if (text)
        sqlite3_bind_text(st, 6, e->data, (int)e->len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 6);
    if (!text)
        sqlite3_bind_text(st, 7, sha, 64, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_int(st, 8, e->width);
    sqlite3_bind_int(st, 9, e->height);
    if (e->source)
        sqlite3_bind_text(st, 10, e->source, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 10);
    sqlite3_bind_int64(st, 11, now);
    /* text kinds: '' marks prose that was classified, NULL would mean "not organised yet" */
    if (text)
        sqlite3_bind_text(st, 12, e->subkind ? e->subkind : "", -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 12);
    if (e->lang)
        sqlite3_bind_text(st, 13, e->lang, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 13);
    if (sqlite3_step(st) != SQLITE_DONE) {
        store_dberr(s, err, "add");
        goto out;
    }
    if (id) *id = sqlite3_last_insert_rowid(s->db);
    if (added) *added = 1;
    sqlite3_finalize(st);
    st = NULL;
    rc = store_exec(s, "COMMIT", err);
out:
    if (st) sqlite3_finalize(st);
    if (rc) store_exec(s, "ROLLBACK", NULL);
    flock(s->lockfd, LOCK_UN);
    return rc;
}

char *store_col_strdup(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

#define ENTRY_COLS                                                                                                     \
    "id, kind, mime, mimes, size, sha256, text, blob, width, height, source, first_ms, last_ms, copies, pinned, "      \
    "subkind, lang,"                                                                                                   \
    " ocr_text, category, category_conf, collection, dup_of, expire_ms, seq"

static int load_tags(store *s, store_entry *e, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT tag FROM tags WHERE entry = ? ORDER BY tag", &st, "tags", err)) return -1;
    sqlite3_bind_int64(st, 1, e->id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char **nt = realloc(e->tags, (size_t)(e->ntags + 1) * sizeof *nt);
        if (!nt) break;
        e->tags = nt;
        e->tags[e->ntags++] = store_col_strdup(st, 0);
    }
    sqlite3_finalize(st);
    return 0;
}

static void row_to_entry(sqlite3_stmt *st, store_entry *e) {
    memset(e, 0, sizeof *e);
    e->id = sqlite3_column_int64(st, 0);
    snprintf(e->kind, sizeof e->kind, "%s", (const char *)sqlite3_column_text(st, 1));
    e->mime = store_col_strdup(st, 2);
    e->mimes = store_col_strdup(st, 3);
    e->size = sqlite3_column_int64(st, 4);
    snprintf(e->sha256, sizeof e->sha256, "%s", (const char *)sqlite3_column_text(st, 5));
    e->text = store_col_strdup(st, 6);
    e->blob = store_col_strdup(st, 7);
    e->width = sqlite3_column_int(st, 8);
    e->height = sqlite3_column_int(st, 9);
    e->source = store_col_strdup(st, 10);
    e->first_ms = sqlite3_column_int64(st, 11);
    e->last_ms = sqlite3_column_int64(st, 12);
    e->copies = sqlite3_column_int64(st, 13);
    e->pinned = sqlite3_column_int(st, 14);
    const unsigned char *sk = sqlite3_column_text(st, 15);
    e->subkind = sk && *sk ? strdup((const char *)sk) : NULL;
    e->lang = store_col_strdup(st, 16);
    e->ocr_text = store_col_strdup(st, 17);
    e->category = store_col_strdup(st, 18);
    e->category_conf = sqlite3_column_double(st, 19);
    e->collection = sqlite3_column_int64(st, 20);
    e->dup_of = sqlite3_column_int64(st, 21);
    e->expire_ms = sqlite3_column_int64(st, 22);
    e->seq = sqlite3_column_int64(st, 23);
}

void store_entry_free(store_entry *e) {
    if (!e) return;
    free(e->mime);
    free(e->mimes);
    free(e->text);
    free(e->blob);
    free(e->source);
    free(e->subkind);
    free(e->lang);
    free(e->ocr_text);
    free(e->category);
    for (int i = 0; i < e->ntags; i++) free(e->tags[i]);
    free(e->tags);
    memset(e, 0, sizeof *e);
}

int store_get(store *s, int64_t id, store_entry *out, cs_err *err) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT " ENTRY_COLS " FROM entries WHERE id = ?", &st, "get", err)) return -1;
    sqlite3_bind_int64(st, 1, id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) row_to_entry(st, out);
    sqlite3_finalize(st);
    if (r == SQLITE_DONE) {
        cs_err_set(err, "no entry %lld", (long long)id);
        return 1;
    }
    if (r != SQLITE_ROW) return store_dberr(s, err, "get");
    return load_tags(s, out, err);
}

int store_list(store *s, const store_query *q, store_entry **out, size_t *n, cs_err *err) {
    *out = NULL;
    *n = 0;
    store_query dq = {0};
    if (!q) q = &dq;
    sqlite3_stmt *st;
    /* only the conditions in use: "x IS NULL OR ..." terms keep SQLite from walking the seq index
     * from the cursor (keyset pages would slow down with depth) */
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT " ENTRY_COLS " FROM entries WHERE 1%s%s%s%s%s%s ORDER BY seq DESC LIMIT ?4 OFFSET ?5",
             q->kind ? " AND (kind = ?1 OR subkind = ?1)" : "", q->pinned_only ? " AND pinned = 1 AND ?2 = ?2" : "",
             q->since_ms ? " AND last_ms >= ?3" : "", q->collection ? " AND collection = ?6" : "",
             q->category ? " AND category = ?7" : "", q->before_seq > 0 ? " AND seq < ?8" : "");
    if (store_prepare(s, sql, &st, "list", err)) return -1;
    if (q->kind)
        sqlite3_bind_text(st, 1, q->kind, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int(st, 2, q->pinned_only);
    sqlite3_bind_int64(st, 3, q->since_ms);
    sqlite3_bind_int64(st, 4, q->limit > 0 ? q->limit : -1);
    sqlite3_bind_int64(st, 5, q->offset > 0 ? q->offset : 0);
    sqlite3_bind_int64(st, 6, q->collection);
    if (q->category)
        sqlite3_bind_text(st, 7, q->category, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    if (q->before_seq > 0)
        sqlite3_bind_int64(st, 8, q->before_seq);
    else
        sqlite3_bind_null(st, 8);
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            store_entry *ne = realloc(*out, cap * sizeof *ne);
            if (!ne) {
                r = SQLITE_NOMEM;
                break;
            }
            *out = ne;
        }
        row_to_entry(st, &(*out)[*n]);
        (*n)++;
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        for (size_t i = 0; i < *n; i++) store_entry_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        return r == SQLITE_NOMEM ? cs_errc(err, CS_ENOMEM, "out of memory") : store_dberr(s, err, "list");
    }
    for (size_t i = 0; i < *n; i++)
        if (load_tags(s, &(*out)[i], err)) return -1;
    return 0;
}

/* Removes a blob file if no row names it any more (called after the deleting commit). Under
 * blobs/.lock held exclusively, re-checking inside it: an add of the same image holds the lock
 * shared from finding its blob on disk (and skipping the write) to committing the row that names
 * it, so an unlink outside the lock could fall between the two and leave an acknowledged entry
 * without its blob. Anything but "no row names it" keeps the file (gc removes a true orphan). */
void store_drop_blob_if_unused(store *s, const char *sha) {
    if (s->test_hook) s->test_hook(s, "drop-blob", s->test_hook_arg);
    while (flock(s->lockfd, LOCK_EX) != 0)
        if (errno != EINTR) return;
    sqlite3_stmt *st;
    int r = SQLITE_ERROR;
    if (sqlite3_prepare_v2(s->db, BLOB_USED_SQL, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, sha, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        sqlite3_finalize(st);
    }
    if (r == SQLITE_DONE) {
        char *p = blob_path_for(s, sha);
        if (p) unlink(p);
        free(p);
    }
    flock(s->lockfd, LOCK_UN);
}

static int change_one(store *s, const char *sql, int64_t id, int64_t arg, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, "update", err)) return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, arg);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) return store_dberr(s, err, "update");
    if (sqlite3_changes(s->db) == 0) {
        cs_err_set(err, "no entry %lld", (long long)id);
        return 1;
    }
    return 0;
}

/* The files of a deleted entry: its blob (if no other row names it) and its thumbnail. */
void store_drop_entry_files(store *s, const char *blob, const char *sha) {
    if (blob) store_drop_blob_if_unused(s, blob);
    char tp[4300];
    snprintf(tp, sizeof tp, "%s/thumbs/%s.jpg", s->dir, sha);
    unlink(tp);
}

/* After a secret is deleted: FTS5 only marks a deleted row in a new segment, so its terms stay in
 * the old segments until they happen to merge. 'optimize' merges every segment now (the dropped
 * segment rows are zeroed by secure_delete); then the WAL, which still holds the old pages, is
 * checkpointed and truncated. Outside a transaction only: inside one, store_end does it. */
int store_scrub_index(store *s, cs_err *err) {
    /* both indexes: the trigram one (version 6) holds the secret as overlapping 3-letter pieces */
    if (store_exec(s,
                   "INSERT INTO entries_fts(entries_fts) VALUES('optimize');"
                   "INSERT INTO entries_tri(entries_tri) VALUES('optimize')",
                   err))
        return -1;
    if (sqlite3_get_autocommit(s->db))
        sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
                                  NULL); /* best effort: a reader may hold it */
    return 0;
}

int store_begin(store *s, cs_err *err) { return store_exec(s, "BEGIN IMMEDIATE", err); }

int store_read_begin(store *s, cs_err *err) {
    if (!sqlite3_get_autocommit(s->db)) return 0;
    return store_exec(s, "BEGIN DEFERRED", err) ? -1 : 1;
}

void store_read_end(store *s) {
    if (!sqlite3_get_autocommit(s->db)) store_exec(s, "COMMIT", NULL);
}

int store_end(store *s, int ok, cs_err *err) {
    int rc = 0;
    if (ok)
        rc = store_exec(s, "COMMIT", err);
    else
        store_exec(s, "ROLLBACK", NULL);
    if (ok && !rc && s->scrub) rc = store_scrub_index(s, err);
    s->scrub = 0;
    /* blobs are named by their sha256; drop_blob_if_unused checks no row names it any more */
    for (size_t i = 0; i < s->npending; i++)
        if (ok && !rc) store_drop_entry_files(s, s->pending[i], s->pending[i]);
    free(s->pending);
    s->pending = NULL;
    s->npending = 0;
    return rc;
}

int store_delete(store *s, int64_t id, cs_err *err) {
    store_entry e;
    int r = store_get(s, id, &e, err);
    if (r) return r;
    r = change_one(s, "DELETE FROM entries WHERE id = ?1 AND ?2 = ?2", id, 0, err);
    if (r == 0 && e.subkind && !strcmp(e.subkind, "secret")) {
        if (sqlite3_get_autocommit(s->db))
            r = store_scrub_index(s, err);
        else
            s->scrub = 1;
    }
    if (r == 0 && e.blob && !sqlite3_get_autocommit(s->db)) { /* in a transaction: after its commit */
        char(*np)[65] = realloc(s->pending, (s->npending + 1) * sizeof *np);
        if (np) {
            s->pending = np;
            snprintf(np[s->npending++], 65, "%s", e.sha256);
        } /* else: the blob stays an orphan until gc */
    } else if (r == 0 && e.blob)
        store_drop_entry_files(s, e.blob, e.sha256);
    store_entry_free(&e);
    return r;
}

int store_set_pinned(store *s, int64_t id, int pinned, cs_err *err) {
    return change_one(s, "UPDATE entries SET pinned = ?2 WHERE id = ?1", id, pinned ? 1 : 0, err);
}

int store_tag(store *s, int64_t id, const char *tag, int add, cs_err *err) {
    size_t n = strlen(tag);
    if (n == 0 || n > 64 || !cs_utf8_valid(tag, n, 0)) return cs_err_set(err, "a tag is 1 to 64 bytes of UTF-8");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)tag[i] < 0x20 || tag[i] == 0x7f)
            return cs_err_set(err, "a tag cannot hold control characters");
    store_entry e;
    int r = store_get(s, id, &e, err);
    store_entry_free(&e);
    if (r) return r;
    sqlite3_stmt *st;
    const char *sql =
        add ? "INSERT OR IGNORE INTO tags(entry, tag) VALUES(?, ?)" : "DELETE FROM tags WHERE entry = ? AND tag = ?";
    if (store_prepare(s, sql, &st, "tag", err)) return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, tag, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : store_dberr(s, err, "tag");
}

int store_content(store *s, const store_entry *e, unsigned char **data, size_t *len, cs_err *err) {
    *data = NULL;
    *len = 0;
    if (e->text) {
        size_t n = strlen(e->text);
        *data = malloc(n + 1);
        if (!*data) return cs_errc(err, CS_ENOMEM, "out of memory");
        memcpy(*data, e->text, n + 1);
        *len = n;
        return 0;
    }
    if (!e->blob) return cs_err_set(err, "entry %lld has no content", (long long)e->id);
    char *p = blob_path_for(s, e->blob);
    if (!p) return cs_errc(err, CS_ENOMEM, "out of memory");
    char *buf;
    int rc = cs_read_file(p, (size_t)1 << 31, &buf, len, err);
    free(p);
    if (rc) return cs_err_prefix(err, "entry %lld", (long long)e->id);
    char sha[65];
    store_sha256_hex(buf, *len, sha);
    if (strcmp(sha, e->sha256) != 0) {
        free(buf);
        return cs_err_set(err, "entry %lld: blob content does not match its SHA-256 (corrupted file)",
                          (long long)e->id);
    }
    *data = (unsigned char *)buf;
    return 0;
}

int store_prune(store *s, const store_limits *l, int64_t *removed, cs_err *err) {
    if (removed) *removed = 0;
    int64_t total = 0;
    /* the trash first: what was deleted longer ago than the undo window goes for good */
    if (store_trash_purge(s, store_now_ms() - STORE_TRASH_KEEP_MS, NULL, err)) return -1;
    /* entries whose expire rule ran out (a pin cancels it) */
    int64_t *ex = NULL;
    size_t nex = 0;
    sqlite3_stmt *xs;
    if (store_prepare(s, "SELECT id FROM entries WHERE expire_ms IS NOT NULL AND expire_ms <= ? AND pinned = 0", &xs,
                      "prune", err))
        return -1;
    sqlite3_bind_int64(xs, 1, store_now_ms());
    if (store_collect_ids(s, xs, &ex, &nex, "prune", err)) return -1;
    for (size_t i = 0; i < nex; i++)
        if (store_delete(s, ex[i], err) < 0) {
            free(ex);
            return -1;
        } else
            total++;
    free(ex);
    /* delete one at a time, oldest unpinned first, until all limits hold */
    for (;;) {
        int64_t count = 0, bytes = 0, oldest = 0, id = 0;
        sqlite3_stmt *st;
        if (store_prepare(s,
                          "SELECT (SELECT count(*) FROM entries), (SELECT coalesce(sum(size), 0) FROM entries),"
                          " id, last_ms FROM entries WHERE pinned = 0 ORDER BY seq ASC LIMIT 1",
                          &st, "prune", err))
            return -1;
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            count = sqlite3_column_int64(st, 0);
            bytes = sqlite3_column_int64(st, 1);
            id = sqlite3_column_int64(st, 2);
            oldest = sqlite3_column_int64(st, 3);
        }
        sqlite3_finalize(st);
        if (r == SQLITE_DONE) break; /* nothing unpinned left */
        if (r != SQLITE_ROW) return store_dberr(s, err, "prune");
        int over = (l->max_entries > 0 && count > l->max_entries) || (l->max_bytes > 0 && bytes > l->max_bytes) ||
                   (l->max_age_ms > 0 && oldest < store_now_ms() - l->max_age_ms);
        if (!over) break;
        if (store_delete(s, id, err) < 0) return -1;
        total++;
    }
    if (removed) *removed = total;
    return 0;
}

/* Calls fn for each blob file name (a 64-hex name in a 2-hex folder). */
static int each_blob(store *s, void (*fn)(store *, const char *path, const char *name, void *), void *arg) {
    DIR *d = opendir(s->blobdir);
    if (!d) return -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strlen(de->d_name) != 2) continue;
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/%s", s->blobdir, de->d_name);
        DIR *d2 = opendir(sub);
        if (!d2) continue;
        struct dirent *f;
        while ((f = readdir(d2))) {
            if (strlen(f->d_name) != 64) continue;
            char p[4608];
            snprintf(p, sizeof p, "%s/%s", sub, f->d_name);
            fn(s, p, f->d_name, arg);
        }
        closedir(d2);
    }
    closedir(d);
    return 0;
}

typedef struct {
    int64_t blobs, orphans, removed;
    int remove;
} blob_scan;

static void scan_one(store *s, const char *path, const char *name, void *arg) {
    blob_scan *b = arg;
    b->blobs++;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, BLOB_USED_SQL, -1, &st, NULL) != SQLITE_OK) return;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int used = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (used) return;
    b->orphans++;
    if (b->remove && unlink(path) == 0) b->removed++;
}

int store_check(store *s, int integrity, store_report *r, cs_err *err) {
    memset(r, 0, sizeof *r);
    r->integrity_ok = -1;
    sqlite3_stmt *st;
    if (store_prepare(
            s,
            "SELECT count(*), coalesce(sum(pinned), 0), coalesce(sum(size), 0), (SELECT count(*) FROM vectors)"
            " FROM entries",
            &st, "check", err))
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        r->entries = sqlite3_column_int64(st, 0);
        r->pinned = sqlite3_column_int64(st, 1);
        r->bytes = sqlite3_column_int64(st, 2);
        r->vectors = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    if (store_prepare(s, "SELECT DISTINCT blob FROM entries WHERE blob IS NOT NULL", &st, "check", err)) return -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char *p = blob_path_for(s, (const char *)sqlite3_column_text(st, 0));
        if (p && access(p, R_OK) != 0) r->missing_blobs++;
        free(p);
    }
    sqlite3_finalize(st);
    blob_scan b = {0};
    each_blob(s, scan_one, &b);
    r->blobs = b.blobs;
    r->orphan_blobs = b.orphans;
    if (integrity) {
        if (store_prepare(s, "PRAGMA integrity_check", &st, "integrity_check", err)) return -1;
        int got = sqlite3_step(st);
        if (got == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            r->integrity_ok = strcmp(t, "ok") == 0;
            /* pages it could not read ("unable to get the page. error code=266") are a disk
             * failure, not damage in the file: say so */
            const char *ec = strstr(t, "error code=");
            if (!r->integrity_ok && ((ec && (atoi(ec + 11) & 0xff) == SQLITE_IOERR) || io_failure(s)))
                snprintf(r->integrity, sizeof r->integrity, "I/O error reading pages (%s): " IO_ADVICE, strerror(EIO));
            else
                snprintf(r->integrity, sizeof r->integrity, "%s", t);
        }
        sqlite3_finalize(st);
        if (got != SQLITE_ROW) return store_dberr(s, err, "integrity_check");
    }
    return 0;
}

int store_gc(store *s, int64_t *removed, cs_err *err) {
    if (store_trash_purge(s, store_now_ms() - STORE_TRASH_KEEP_MS, NULL, err)) return -1;
    blob_scan b = {0};
    b.remove = 1;
    /* exclusive: waits for adds in progress (in any process) to commit, and keeps new ones out */
    flock(s->lockfd, LOCK_EX);
    int rc = each_blob(s, scan_one, &b);
    /* temporary files of adds that died before their rename */
    DIR *d = opendir(s->blobdir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strlen(de->d_name) != 2) continue;
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/%s", s->blobdir, de->d_name);
        DIR *d2 = opendir(sub);
        struct dirent *f;
        while (d2 && (f = readdir(d2)))
            if (!strncmp(f->d_name, ".tmp-", 5)) {
                char p[4608];
                snprintf(p, sizeof p, "%s/%s", sub, f->d_name);
                if (unlink(p) == 0) b.removed++;
            }
        if (d2) closedir(d2);
    }
    if (d) closedir(d);
    flock(s->lockfd, LOCK_UN);
    /* thumbnails of entries that are gone (deleted by another path, or a crash before unlink) */
    char td[4200];
    snprintf(td, sizeof td, "%s/thumbs", s->dir);
    DIR *t = opendir(td);
    sqlite3_stmt *st = NULL;
    if (t && sqlite3_prepare_v2(s->db, "SELECT 1 FROM entries WHERE sha256 = ?", -1, &st, NULL) != SQLITE_OK) st = NULL;
    while (t && st && (de = readdir(t))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.') continue;
        int keep = 0;
        if (l == 68 && !strcmp(de->d_name + 64, ".jpg")) {
            sqlite3_bind_text(st, 1, de->d_name, 64, SQLITE_STATIC);
            keep = sqlite3_step(st) == SQLITE_ROW;
            sqlite3_reset(st);
        }
        char p[4500];
        snprintf(p, sizeof p, "%s/%s", td, de->d_name);
        if (!keep && unlink(p) == 0) b.removed++;
    }
    sqlite3_finalize(st);
    if (t) closedir(t);
    if (rc) return cs_err_set(err, "%s: cannot read the blob folder", s->blobdir);
    if (removed) *removed = b.removed;
    return 0;
}

int store_put_vector(store *s, int64_t id, const char *model, int part, const float *v, int dim, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "INSERT OR REPLACE INTO vectors(entry, model, part, dim, vec) VALUES(?, ?, ?, ?, ?)", &st,
                      "vector", err))
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, part);
    sqlite3_bind_int(st, 4, dim);
    if (dim > 0)
        sqlite3_bind_blob(st, 5, v, dim * (int)sizeof(float), SQLITE_STATIC);
    else
        sqlite3_bind_zeroblob(st, 5, 0); /* the "could not embed" marker */
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    /* the entry may have been deleted meanwhile: the foreign key then refuses the vector */
    if (r == SQLITE_CONSTRAINT_FOREIGNKEY) return 1;
    return r == SQLITE_DONE ? 0 : store_dberr(s, err, "vector");
}

/* Steps a prepared statement whose first column is an id, collecting the ids; finalizes it. */
int store_collect_ids(store *s, sqlite3_stmt *st, int64_t **ids, size_t *n, const char *what, cs_err *err) {
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *ni = realloc(*ids, cap * sizeof *ni);
            if (!ni) {
                sqlite3_finalize(st);
                return cs_errc(err, CS_ENOMEM, "out of memory");
            }
            *ids = ni;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : store_dberr(s, err, what);
}

int store_missing_vectors(store *s, const char *model, int limit, int64_t **ids, size_t *n, cs_err *err) {
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (store_prepare(
            s,
            "SELECT id FROM entries e WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.entry = e.id AND v.model = ?)"
            " ORDER BY id ASC LIMIT ?",
            &st, "missing vectors", err))
        return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
    return store_collect_ids(s, st, ids, n, "missing vectors", err);
}

int store_drop_other_vectors(store *s, const char *model, int64_t *removed, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "DELETE FROM vectors WHERE model <> ?", &st, "vectors", err)) return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (removed) *removed = sqlite3_changes(s->db);
    return r == SQLITE_DONE ? 0 : store_dberr(s, err, "vectors");
}

int store_missing_text_vectors(store *s, const char *model, int limit, int64_t **ids, size_t *n, cs_err *err) {
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (store_prepare(s,
                      "SELECT id FROM entries e WHERE e.kind <> 'image' AND e.text IS NOT NULL AND NOT EXISTS"
                      " (SELECT 1 FROM vectors v WHERE v.entry = e.id AND v.model = ?) ORDER BY id ASC LIMIT ?",
                      &st, "missing text vectors", err))
        return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
    return store_collect_ids(s, st, ids, n, "missing text vectors", err);
}

int store_text_counts(store *s, const char *model, int64_t *texts, int64_t *pending, cs_err *err) {
    *texts = *pending = 0;
    sqlite3_stmt *st;
    if (store_prepare(s,
                      "SELECT count(*), coalesce(sum(NOT EXISTS (SELECT 1 FROM vectors v WHERE v.entry = e.id AND"
                      " v.model = ?)), 0) FROM entries e WHERE e.kind <> 'image' AND e.text IS NOT NULL",
                      &st, "text counts", err))
        return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *texts = sqlite3_column_int64(st, 0);
        *pending = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return r == SQLITE_ROW ? 0 : store_dberr(s, err, "text counts");
}

int store_drop_vectors_except(store *s, const char *const *keep, int nkeep, int64_t *removed, cs_err *err) {
    /* "model NOT IN ('', ?, ...)" over the non-NULL items (a NULL in NOT IN would match nothing) */
    char sql[256] = "DELETE FROM vectors WHERE model NOT IN (''";
    int k = 0;
    for (int i = 0; i < nkeep && k < 16; i++)
        if (keep[i]) k++, strcat(sql, ", ?");
    strcat(sql, ")");
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, "vectors", err)) return -1;
    for (int i = 0, j = 0; i < nkeep && j < k; i++)
        if (keep[i]) sqlite3_bind_text(st, ++j, keep[i], -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (removed) *removed = sqlite3_changes(s->db);
    return r == SQLITE_DONE ? 0 : store_dberr(s, err, "vectors");
}

int store_meta_get(store *s, const char *key, char **value, cs_err *err) {
    *value = NULL;
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT value FROM meta WHERE key = ?", &st, "meta", err)) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    /* a failed read is an error, not "unset": the pause flag must fail closed (ingest.h) */
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) *value = store_col_strdup(st, 0);
    int rc = r == SQLITE_ROW || r == SQLITE_DONE ? 0 : store_dberr(s, err, "meta");
    sqlite3_finalize(st);
    return rc;
}

int store_meta_set(store *s, const char *key, const char *value, cs_err *err) {
    sqlite3_stmt *st;
    const char *sql = value ? "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)" : "DELETE FROM meta WHERE key = ?";
    if (store_prepare(s, sql, &st, "meta", err)) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (value) sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : store_dberr(s, err, "meta");
}

int store_each_vector(store *s, const char *model, int64_t after_rowid, store_vector_fn fn, void *arg, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s,
                      "SELECT rowid, entry, part, dim, vec FROM vectors WHERE model = ? AND rowid > ? ORDER BY rowid",
                      &st, "vectors", err))
        return -1;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after_rowid);
    int r, rc = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int dim = sqlite3_column_int(st, 3);
        const void *b = sqlite3_column_blob(st, 4);
        if (sqlite3_column_bytes(st, 4) != dim * (int)sizeof(float)) continue; /* malformed: skip */
        float *v = NULL;
        if (dim > 0) {
            v = malloc((size_t)dim * sizeof *v); /* blobs may be unaligned */
            if (!v) {
                rc = cs_errc(err, CS_ENOMEM, "out of memory");
                break;
            }
            memcpy(v, b, (size_t)dim * sizeof *v);
        }
        int stop = fn(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2), v, dim, arg);
        free(v);
        if (stop) break;
    }
    sqlite3_finalize(st);
    if (!rc && r != SQLITE_ROW && r != SQLITE_DONE) return store_dberr(s, err, "vectors");
    return rc;
}

#define BRIEF_COLS                                                                                                     \
    "id, seq, last_ms, kind, coalesce(subkind, ''), coalesce(collection, 0), coalesce(category, ''), pinned,"          \
    " kind = 'image' AND length(trim(coalesce(ocr_text, ''))) >= 4"

static void row_to_brief(sqlite3_stmt *st, store_brief *b) {
    b->id = sqlite3_column_int64(st, 0);
    b->seq = sqlite3_column_int64(st, 1);
    b->last_ms = sqlite3_column_int64(st, 2);
    snprintf(b->kind, sizeof b->kind, "%s", (const char *)sqlite3_column_text(st, 3));
    snprintf(b->subkind, sizeof b->subkind, "%s", (const char *)sqlite3_column_text(st, 4));
    b->collection = sqlite3_column_int64(st, 5);
    snprintf(b->category, sizeof b->category, "%s", (const char *)sqlite3_column_text(st, 6));
    b->pinned = sqlite3_column_int(st, 7);
    b->has_text = sqlite3_column_int(st, 8);
}

static int push_brief(store_brief **out, size_t *n, size_t *cap, sqlite3_stmt *st) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        store_brief *nb = realloc(*out, *cap * sizeof *nb);
        if (!nb) return -1;
        *out = nb;
    }
    row_to_brief(st, &(*out)[(*n)++]);
    return 0;
}

int store_briefs(store *s, const store_query *f, store_brief **out, size_t *n, cs_err *err) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (store_prepare(s,
                      "SELECT " BRIEF_COLS
                      " FROM entries WHERE (?1 IS NULL OR kind = ?1 OR subkind = ?1) AND last_ms >= ?2"
                      " AND (?3 = 0 OR collection = ?3) AND (?4 IS NULL OR category = ?4 COLLATE NOCASE) ORDER BY id",
                      &st, "entries", err))
        return -1;
    if (f && f->kind)
        sqlite3_bind_text(st, 1, f->kind, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, f ? f->since_ms : 0);
    sqlite3_bind_int64(st, 3, f ? f->collection : 0);
    if (f && f->category)
        sqlite3_bind_text(st, 4, f->category, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        if (push_brief(out, n, &cap, st)) {
            sqlite3_finalize(st);
            return cs_errc(err, CS_ENOMEM, "out of memory");
        }
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : store_dberr(s, err, "entries");
}

/* The element of a[0..n) (each size bytes, sorted by an int64_t id at its start) with id, or NULL. */
static const void *find_by_id(const void *a, size_t n, size_t size, int64_t id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        int64_t x;
        memcpy(&x, (const char *)a + m * size, sizeof x);
        if (x == id) return (const char *)a + m * size;
        if (x < id)
            lo = m + 1;
        else
            hi = m;
    }
    return NULL;
}

const store_brief *store_brief_find(const store_brief *b, size_t n, int64_t id) {
    return find_by_id(b, n, sizeof *b, id);
}

int store_briefs_of(store *s, const int64_t *ids, size_t nids, store_brief **out, size_t *n, cs_err *err) {
    *out = NULL;
    *n = 0;
    /* one statement for all the ids (a search asks about 2,500), not one each: the ids go in as a
     * JSON array, which SQLite turns into a set; its rows come sorted by id, each once */
    char *list = malloc(nids * 21 + 3), *p = list;
    if (!list) return cs_errc(err, CS_ENOMEM, "out of memory");
    *p++ = '[';
    for (size_t i = 0; i < nids; i++) p += sprintf(p, i ? ",%lld" : "%lld", (long long)ids[i]);
    *p++ = ']';
    *p = 0;
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT " BRIEF_COLS " FROM entries WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id",
                      &st, "entries", err)) {
        free(list);
        return -1;
    }
    sqlite3_bind_text(st, 1, list, (int)(p - list), SQLITE_STATIC);
    size_t cap = 0;
    int r, rc = 0;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW)
        if (push_brief(out, n, &cap, st)) rc = cs_errc(err, CS_ENOMEM, "out of memory");
    if (!rc && r != SQLITE_DONE) rc = store_dberr(s, err, "entries");
    sqlite3_finalize(st);
    free(list);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

int store_kind_map(store *s, const store_kind_row **rows, size_t *n, cs_err *err) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (store_prepare(s, "PRAGMA data_version", &st, "entries", err)) return -1;
    int r = sqlite3_step(st);
    int64_t version = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1, changes = sqlite3_total_changes64(s->db);
    sqlite3_finalize(st);
    if (r != SQLITE_ROW) return store_dberr(s, err, "entries");
    if (!s->kmap_read || version != s->kmap_version || changes != s->kmap_changes) {
        s->kmap_read = 0;
        if (store_prepare(s,
                          "SELECT id, kind = 'image', kind = 'image' AND length(trim(coalesce(ocr_text, ''))) >= 4"
                          " FROM entries ORDER BY id",
                          &st, "entries", err))
            return -1;
        size_t k = 0, cap = s->nkmap > 0 ? s->nkmap + 64 : 1024;
        store_kind_row *m = malloc(cap * sizeof *m);
        while (m && (r = sqlite3_step(st)) == SQLITE_ROW) {
            if (k == cap) {
                store_kind_row *nm = realloc(m, (cap *= 2) * sizeof *nm);
                if (!nm) {
                    free(m);
                    m = NULL;
                    break;
                }
                m = nm;
            }
            m[k++] = (store_kind_row){sqlite3_column_int64(st, 0), (unsigned char)sqlite3_column_int(st, 1),
                                      (unsigned char)sqlite3_column_int(st, 2)};
        }
        sqlite3_finalize(st);
        if (!m) return cs_errc(err, CS_ENOMEM, "out of memory");
        if (r != SQLITE_DONE) {
            free(m);
            return store_dberr(s, err, "entries");
        }
        free(s->kmap);
        s->kmap = m;
        s->nkmap = k;
        s->kmap_version = version;
        s->kmap_changes = changes;
        s->kmap_read = 1;
    }
    *rows = s->kmap;
    *n = s->nkmap;
    return 0;
}

const store_kind_row *store_kind_find(const store_kind_row *r, size_t n, int64_t id) {
    return find_by_id(r, n, sizeof *r, id);
}

int store_fts(store *s, const char *q, int limit, int64_t **ids, size_t *n, cs_err *err) {
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT rowid FROM entries_fts WHERE entries_fts MATCH ? ORDER BY rank LIMIT ?", &st,
                      "full-text search", err))
        return -1;
    sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, limit);
    return store_collect_ids(s, st, ids, n, "full-text search", err);
}

int store_fts_ranked(store *s, int trigram, const char *q, int limit, store_fts_hit **out, size_t *n, cs_err *err) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    /* bm25() is negative, lower is better; the rank column is that same bm25() (no other rank
     * function is configured), computed once for the ORDER BY: selecting bm25() again would
     * compute it twice per match; length(body) for the caller's length normalisation
     * (the word index's body, also for the trigram index: that one is cut at 4096 characters) */
    const char *sql = trigram ? "SELECT t.rowid, -t.rank, (SELECT length(body) FROM entries_fts WHERE rowid = t.rowid)"
                                " FROM entries_tri t WHERE entries_tri MATCH ? ORDER BY rank LIMIT ?"
                              : "SELECT rowid, -rank, length(body) FROM entries_fts WHERE entries_fts MATCH ?"
                                " ORDER BY rank LIMIT ?";
    if (store_prepare(s, sql, &st, "full-text search", err)) return -1;
    sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, limit);
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            store_fts_hit *nn = realloc(*out, cap * sizeof *nn);
            if (!nn) {
                sqlite3_finalize(st);
                free(*out);
                *out = NULL;
                *n = 0;
                return cs_errc(err, CS_ENOMEM, "out of memory");
            }
            *out = nn;
        }
        (*out)[(*n)++] =
            (store_fts_hit){sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1), sqlite3_column_int64(st, 2)};
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return store_dberr(s, err, "full-text search");
    }
    return 0;
}

/* fts5vocab reads the index's own term list; a temp table, so the schema stays as it is */
static int fts_vocab(store *s, cs_err *err) {
    return store_exec(
        s, "CREATE VIRTUAL TABLE IF NOT EXISTS temp.entries_fts_terms USING fts5vocab(main, 'entries_fts', 'row');",
        err);
}

/* The order of store_fts_have_terms' work list (indices into terms): the terms' byte order, so
 * that those sharing two leading bytes lie together. */
static int have_cmp(const void *a, const void *b, void *terms) {
    const char *const *t = terms;
    return strcmp(t[*(const size_t *)a], t[*(const size_t *)b]);
}

/* Two leading bytes that a range of the vocabulary can be asked by: ASCII letters or digits. */
static int have_prefix_ok(const char *t) {
    for (int i = 0; i < 2; i++)
        if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9'))) return 0;
    return 1;
}

/* Terms of one two-byte prefix (ix[0..k), sorted): one range scan of the vocabulary, the words
 * that begin with it and are as long as the shortest to the longest of them; each found word
 * marks the terms equal to it. */
static int have_by_range(store *s, const char *const *terms, const size_t *ix, size_t k, unsigned char *have,
                         cs_err *err) {
    size_t lo = (size_t)-1, hi = 0;
    for (size_t i = 0; i < k; i++) {
        size_t l = strlen(terms[ix[i]]);
        lo = l < lo ? l : lo;
        hi = l > hi ? l : hi;
    }
    sqlite3_stmt *st;
    if (store_prepare(s,
                      "SELECT term FROM temp.entries_fts_terms WHERE term >= ?1 AND term < ?1 || char(1114111)"
                      " AND length(CAST(term AS BLOB)) BETWEEN ?2 AND ?3", /* bytes, as strlen */
                      &st, "full-text terms", err))
        return -1;
    sqlite3_bind_text(st, 1, terms[ix[0]], 2, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)lo);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)hi);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (!t) continue;
        size_t a = 0, b = k; /* the first term >= t */
        while (a < b) {
            size_t m = (a + b) / 2;
            if (strcmp(terms[ix[m]], t) < 0)
                a = m + 1;
            else
                b = m;
        }
        for (; a < k && !strcmp(terms[ix[a]], t); a++) have[ix[a]] = 1; /* repeats too */
    }
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : store_dberr(s, err, "full-text terms");
}

/* Terms ix[0..k) by an IN list on the vocabulary's term column: an equality lookup per term. */
static int have_by_seek(store *s, const char *const *terms, const size_t *ix, size_t k, unsigned char *have,
                        cs_err *err) {
    if (!k) return 0;
    /* the terms as a JSON array of strings (\u escapes for what JSON does not take as it is) */
    size_t len = 3;
    for (size_t i = 0; i < k; i++) len += 6 * strlen(terms[ix[i]]) + 3;
    char *js = malloc(len), *p = js;
    if (!js) return cs_errc(err, CS_ENOMEM, "out of memory");
    *p++ = '[';
    for (size_t i = 0; i < k; i++) {
        if (i) *p++ = ',';
        *p++ = '"';
        for (const unsigned char *t = (const unsigned char *)terms[ix[i]]; *t; t++)
            if (*t < 0x20 || *t == '"' || *t == '\\')
                p += sprintf(p, "\\u%04x", *t);
            else
                *p++ = (char)*t;
        *p++ = '"';
    }
    *p++ = ']';
    *p = 0;
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT term FROM temp.entries_fts_terms WHERE term IN (SELECT value FROM json_each(?1))", &st,
                      "full-text terms", err)) {
        free(js);
        return -1;
    }
    sqlite3_bind_text(st, 1, js, (int)(p - js), SQLITE_STATIC);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        for (size_t i = 0; t && i < k; i++)
            if (!strcmp(terms[ix[i]], t)) have[ix[i]] = 1;
    }
    sqlite3_finalize(st);
    free(js);
    return r == SQLITE_DONE ? 0 : store_dberr(s, err, "full-text terms");
}

/* Terms sharing two leading bytes, this many or more, are asked by one range scan: a word's
 * one-edit variants mostly share its first two letters (every edit after them), and a seek costs
 * about as much as reading a few dozen of the vocabulary's words in order (it probes each of the
 * index's segments). */
#define HAVE_RANGE_MIN 24

int store_fts_have_terms(store *s, const char *const *terms, size_t n, unsigned char *have, cs_err *err) {
    memset(have, 0, n);
    if (!n) return 0;
    if (fts_vocab(s, err)) return -1;
    size_t *ix = malloc(n * sizeof *ix), *seek = malloc(n * sizeof *seek), ns = 0;
    if (!ix || !seek) {
        free(ix);
        free(seek);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) ix[i] = i;
    qsort_r(ix, n, sizeof *ix, have_cmp, (void *)terms);
    int rc = 0;
    for (size_t i = 0, j; !rc && i < n; i = j) {
        const char *t = terms[ix[i]];
        int ok = have_prefix_ok(t);
        for (j = i + 1; j < n && ok && !strncmp(terms[ix[j]], t, 2); j++) {
        }
        if (ok && j - i >= HAVE_RANGE_MIN)
            rc = have_by_range(s, terms, ix + i, j - i, have, err);
        else
            for (size_t k = i; k < j; k++) seek[ns++] = ix[k];
    }
    if (!rc) rc = have_by_seek(s, terms, seek, ns, have, err);
    free(ix);
    free(seek);
    return rc;
}

int store_fts_terms(store *s, const char *prefix, int limit, store_fts_term **out, size_t *n, int64_t *total,
                    cs_err *err) {
    *out = NULL;
    *n = 0;
    *total = 0;
    if (fts_vocab(s, err)) return -1;
    sqlite3_stmt *st;
    /* the number of indexed entries: FTS5 keeps one row per entry in its docsize table, which
     * SQLite counts from its B-tree; count(*) on the FTS5 table itself reads every stored text */
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM entries_fts_docsize", -1, &st, NULL) != SQLITE_OK &&
        store_prepare(s, "SELECT count(*) FROM entries_fts", &st, "full-text terms", err))
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) *total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    /* the terms of the prefix are the range [prefix, prefix + U+10FFFF) in the index's order */
    if (store_prepare(s,
                      "SELECT term, doc FROM temp.entries_fts_terms WHERE term >= ?1 AND term < ?1 || char(1114111)"
                      " ORDER BY doc, term LIMIT ?2",
                      &st, "full-text terms", err))
        return -1;
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, limit);
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            store_fts_term *nn = realloc(*out, cap * sizeof *nn);
            if (!nn) {
                r = SQLITE_NOMEM;
                break;
            }
            *out = nn;
        }
        char *t = strdup((const char *)sqlite3_column_text(st, 0));
        if (!t) {
            r = SQLITE_NOMEM;
            break;
        }
        (*out)[(*n)++] = (store_fts_term){t, sqlite3_column_int64(st, 1)};
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        store_fts_terms_free(*out, *n);
        *out = NULL;
        *n = 0;
        return r == SQLITE_NOMEM ? cs_errc(err, CS_ENOMEM, "out of memory") : store_dberr(s, err, "full-text terms");
    }
    return 0;
}

void store_fts_terms_free(store_fts_term *t, size_t n) {
    for (size_t i = 0; i < n; i++) free(t[i].term);
    free(t);
}

int store_get_vector(store *s, int64_t id, const char *model, int part, float *v, int dim, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT vec FROM vectors WHERE entry = ? AND model = ? AND part = ? AND dim = ?", &st,
                      "vector", err))
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, part);
    sqlite3_bind_int(st, 4, dim);
    int r = sqlite3_step(st), rc = 1;
    if (r == SQLITE_ROW && sqlite3_column_bytes(st, 0) == dim * (int)sizeof(float)) {
        memcpy(v, sqlite3_column_blob(st, 0), (size_t)dim * sizeof(float));
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int store_unorganised(store *s, int limit, int64_t **ids, size_t *n, cs_err *err) {
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (store_prepare(s, "SELECT id FROM entries WHERE subkind IS NULL AND text IS NOT NULL ORDER BY id LIMIT ?", &st,
                      "organise", err))
        return -1;
    sqlite3_bind_int(st, 1, limit > 0 ? limit : -1);
    return store_collect_ids(s, st, ids, n, "organise", err);
}

int store_set_subkind(store *s, int64_t id, const char *subkind, const char *lang, cs_err *err) {
    sqlite3_stmt *st;
    if (store_prepare(s, "UPDATE entries SET subkind = ?, lang = ? WHERE id = ?", &st, "organise", err)) return -1;
    sqlite3_bind_text(st, 1, subkind ? subkind : "", -1, SQLITE_STATIC);
    if (lang)
        sqlite3_bind_text(st, 2, lang, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, id);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : store_dberr(s, err, "organise");
}

int64_t store_commits(const store *s) { return s->commits; }
