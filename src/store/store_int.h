/* store_int: what the store's source files share; not part of the store's API. */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <sqlite3.h>

#include "store.h"

struct store {
    char *dir, *blobdir, *dbpath;
    sqlite3 *db;
    int lockfd; /* blobs/.lock: shared while adding (blob then row), exclusive while collecting */
    /* inside store_begin/store_end: files of deleted entries (blob sha256s) to remove once the
     * deletion commits, never before (a rollback or a crash must not leave a row without its blob) */
    char (*pending)[65];
    size_t npending;
    /* tests only (NULL otherwise): called at named points of races the tests force, so an
     * interleaving is made deterministic instead of hoped for: "add-blob-written" (an image's
     * blob is on disk, its row not yet committed, the shared lock held) and "drop-blob" (a
     * deleted entry's blob is about to be checked and unlinked, no lock held yet) */
    void (*test_hook)(store *s, const char *point, void *arg);
    void *test_hook_arg;
    int scrub;       /* a secret was deleted inside store_begin: scrub the full-text index at store_end */
    int64_t commits; /* write transactions committed on this handle (store_commits) */
    /* store_kind_map's rows and the database version they were read at (valid: kmap_read) */
    store_kind_row *kmap;
    size_t nkmap;
    int kmap_read;
    int64_t kmap_version, kmap_changes;
};

/* The cs_err code for an SQLite result code: BUSY/LOCKED -> CS_EBUSY, CORRUPT/NOTADB ->
 * CS_ECORRUPT, FULL -> CS_ENOSPC, IOERR -> CS_EIO, NOMEM -> CS_ENOMEM, PERM/READONLY ->
 * CS_EPERM, CANTOPEN -> CS_ENOTFOUND, constraint and size errors -> CS_EINVAL. */
cs_err_code store_code(int sqlite_rc);
/* Sets err to "<db path>: <what>: <SQLite's message>" with store_code's code (CS_EIO or
 * CS_ENOSPC for a failure of the disk); returns -1. */
int store_dberr(store *s, cs_err *err, const char *what);
/* Runs SQL statements; returns 0 or -1 (err set). */
/* Prepares sql on the store's connection. Returns 0, or -1 with "<db>: <what>: <sqlite message>". */
int store_prepare(store *s, const char *sql, sqlite3_stmt **st, const char *what, cs_err *err);
int store_exec(store *s, const char *sql, cs_err *err);
/* A text column, malloc'd, or NULL. */
char *store_col_strdup(sqlite3_stmt *st, int i);
/* Steps a prepared statement whose first column is an id, appending the ids to *ids (malloc'd, *n of them);
 * finalizes it. */
int store_collect_ids(store *s, sqlite3_stmt *st, int64_t **ids, size_t *n, const char *what, cs_err *err);

/* Whether a blob file is still named by a row: an entry, or one in the trash (bind ?1 = sha256). */
#define BLOB_USED_SQL "SELECT 1 FROM entries WHERE blob = ?1 UNION ALL SELECT 1 FROM trash WHERE blob = ?1"
/* Writes a blob file durably (temporary name, fsync, rename, fsync dir); an existing one of the
 * same size is kept. The caller holds blobs/.lock shared until the row naming it commits. */
int store_write_blob(store *s, const char *sha, const void *data, size_t len, cs_err *err);
/* Unlinks a blob no row names any more, under blobs/.lock (store.c explains the race it closes). */
void store_drop_blob_if_unused(store *s, const char *sha);
/* The files of a deleted entry: its blob (if no row names it) and its thumbnail. */
void store_drop_entry_files(store *s, const char *blob, const char *sha);
/* Merges the full-text segments so a deleted secret's terms leave the file (see store.c). */
int store_scrub_index(store *s, cs_err *err);

#endif
