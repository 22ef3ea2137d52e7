/* store: the clipboard history on disk: a SQLite database (WAL) plus content-addressed blob files.
 *
 * Layout under the data directory (mode 0700): clipseek.db (0600, WAL mode, synchronous=FULL so
 * an acknowledged clip survives a power cut), blobs/xx/<sha256> (0600) for image bytes.
 *
 * Invariants:
 *   - an entry's SHA-256 is unique: adding the same content again bumps last-copied time and the
 *     copy count of the existing entry instead of adding a row;
 *   - a blob is written to a temporary name, fsynced, renamed and its directory fsynced before the
 *     row naming it commits, so a committed row never names a missing blob (a crash can leave an
 *     orphan blob; the check reports it and gc, run at every daemon start, removes it);
 *   - the database carries application_id 0x436c5073 ("ClPs") and user_version = schema version;
 *     a database of another application, or a newer schema, is refused with a clear message.
 *
 * Threading: one store per thread (SQLite connections are not shared); several processes may open
 * the same directory at once (WAL, busy timeout 5 s). */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"

typedef struct store store;

#define STORE_SCHEMA_VERSION 7

/* Opens (creating if needed) the store in dir. Creates dir with mode 0700 and the database with
 * 0600; tightens existing permissions that are looser. Caller closes with store_close. */
int store_open(const char *dir, store **out, cs_err *err);
void store_close(store *s); /* NULL is a no-op */

const char *store_dir(const store *s);

typedef struct store_new {
    const char *kind;  /* "text", "image", "files" */
    const char *mime;  /* the type stored, e.g. "text/plain;charset=utf-8", "image/png" */
    const char *mimes; /* all types offered, newline-separated; NULL = mime */
    const void *data;  /* the content */
    size_t len;
    const char *source;  /* application / window title / imported file's path; may be NULL */
    int width, height;   /* images; 0 if unknown */
    int64_t time_ms;     /* copy time; 0 = now */
    const char *subkind; /* text kinds: "url", "email", "code", "secret"... (textkind.h); NULL = prose */
    const char *lang;    /* for code: a language guess; NULL otherwise */
} store_new;

/* Adds an entry, or bumps the existing one with the same content. Text kinds ("text", "files")
 * must be valid UTF-8 without NUL bytes; they are stored in the row. Images go to a blob.
 * *id receives the entry id, *added 1 if a row was created (either may be NULL). */
int store_add(store *s, const store_new *e, int64_t *id, int *added, cs_err *err);

typedef struct store_entry {
    int64_t id;
    char kind[16];
    char *mime, *mimes, *text, *blob, *source;
    char sha256[65];
    int64_t size, first_ms, last_ms, copies;
    int pinned, width, height;
    char **tags; /* ntags strings */
    int ntags;
    char *subkind, *lang; /* NULL when none (prose, images, or not organised yet) */
    char *ocr_text;       /* text read from an image; NULL not read yet, "" none */
    char *category;       /* image category (zero-shot), NULL if none */
    double category_conf; /* its probability, 0..1 */
    int64_t collection;   /* collection id, 0 none */
    int64_t dup_of;       /* near-duplicate group (its first entry's id), 0 none */
    int64_t expire_ms;    /* deleted after this time (an expire rule), 0 never */
    int64_t seq;          /* copy order (larger = more recent) */
} store_entry;

void store_entry_free(store_entry *e); /* frees the strings; the struct itself is the caller's; NULL is a no-op */

/* Reads one entry. Returns 0, 1 if there is no such id (err set), -1 on failure. */
int store_get(store *s, int64_t id, store_entry *out, cs_err *err);

typedef struct store_query {
    const char *kind; /* NULL: all kinds; matches the kind or the text kind ("url", "code"...) */
    int pinned_only;
    int64_t since_ms; /* 0: no lower bound on last_ms */
    int limit;        /* 0: no limit */
    int offset;
    int64_t collection;   /* 0: any */
    const char *category; /* NULL: any */
    int64_t before_seq;   /* > 0: only entries copied before this one (keyset paging) */
} store_query;

/* Lists entries, most recently copied first (in copy order, so a clip copied again moves to the
 * top even within the same millisecond; pinned ones are not moved). *out is a malloc'd
 * array of *n entries; free each with store_entry_free, then the array. */
int store_list(store *s, const store_query *q, store_entry **out, size_t *n, cs_err *err);

/* Deletes an entry (its blob goes when no other row names it, its thumbnail with it). Returns 1
 * if there was none. The blob is unlinked under blobs/.lock held exclusively, after re-checking,
 * so an add of the same image in progress (which holds it shared) never loses its blob. */
int store_delete(store *s, int64_t id, cs_err *err);
int store_set_pinned(store *s, int64_t id, int pinned, cs_err *err);
/* add = 1 adds the tag, 0 removes it. Tags are 1-64 bytes of UTF-8 without control characters. */
int store_tag(store *s, int64_t id, const char *tag, int add, cs_err *err);

/* The content of an entry: text kinds from the row, images from the blob. *data is malloc'd. */
int store_content(store *s, const store_entry *e, unsigned char **data, size_t *len, cs_err *err);

/* Path of an entry's blob (malloc'd), or NULL for text kinds. */
char *store_blob_path(const store *s, const store_entry *e);

typedef struct store_limits {
    int64_t max_entries; /* 0: none */
    int64_t max_age_ms;  /* 0: none */
    int64_t max_bytes;   /* 0: none; sum of entry sizes */
} store_limits;

/* Deletes unpinned entries whose expire time has passed, then the least recently copied unpinned
 * entries until every limit holds (max_age_ms looks at the last copy time). *removed gets the
 * count. */
int store_prune(store *s, const store_limits *l, int64_t *removed, cs_err *err);

typedef struct store_report {
    int64_t entries, pinned, bytes, blobs;
    int64_t missing_blobs; /* rows whose blob file is gone */
    int64_t orphan_blobs;  /* blob files no row names */
    int64_t vectors;
    int integrity_ok;    /* 1 ok, 0 problems, -1 not checked */
    char integrity[256]; /* first line of PRAGMA integrity_check */
} store_report;

/* Counts and checks the store; integrity 1 also runs PRAGMA integrity_check (slow on big DBs). */
int store_check(store *s, int integrity, store_report *r, cs_err *err);

/* Removes orphan blobs, thumbnails of entries that are gone, and leftover temporary files (from an
 * add killed between writing its blob and committing its row). Adds hold a shared lock on blobs/.lock from blob write to commit and
 * gc holds it exclusively, so gc never removes the blob of an add in progress, in any process.
 * *removed gets the count. */
int store_gc(store *s, int64_t *removed, cs_err *err);

/* ---- vectors (written by the index worker) ---- */

/* Stores part `part` of an entry's embedding under a model id (replacing it). */
int store_put_vector(store *s, int64_t id, const char *model, int part, const float *v, int dim, cs_err *err);

/* Ids of entries without any vector for `model`, oldest first, at most limit (0: all). */
int store_missing_vectors(store *s, const char *model, int limit, int64_t **ids, size_t *n, cs_err *err);

/* Deletes vectors of other models (after a model switch). */
int store_drop_other_vectors(store *s, const char *model, int64_t *removed, cs_err *err);

/* Ids of entries that hold text (every kind but images) without any vector for `model`, oldest
 * first, at most limit (0: all): what a text-only space (the text embedder, docs/text-models.md)
 * still has to embed. */
int store_missing_text_vectors(store *s, const char *model, int limit, int64_t **ids, size_t *n, cs_err *err);

/* The number of text entries (as store_missing_text_vectors counts them), and of those without a
 * vector for `model`: a text space's backfill progress. */
int store_text_counts(store *s, const char *model, int64_t *texts, int64_t *pending, cs_err *err);

/* Deletes the vectors of every model but keep[0..nkeep-1] (NULL items are skipped): the CLIP
 * model's space and the text embedder's space stay, those of models no longer in use go.
 * *removed (may be NULL) gets the number of rows deleted. */
int store_drop_vectors_except(store *s, const char *const *keep, int nkeep, int64_t *removed, cs_err *err);

/* Calls fn for each vector of `model` whose rowid is greater than after_rowid, in rowid order
 * (marker rows of dim 0 included). fn returns non-zero to stop. Used to append new vectors to the
 * search matrix; the search path itself never reads vectors from SQLite. */
typedef int (*store_vector_fn)(int64_t rowid, int64_t entry, int part, const float *v, int dim, void *arg);
int store_each_vector(store *s, const char *model, int64_t after_rowid, store_vector_fn fn, void *arg, cs_err *err);

/* Part `part` of an entry's vector for model into v (dim floats). Returns 0, 1 if none, -1. */
int store_get_vector(store *s, int64_t id, const char *model, int part, float *v, int dim, cs_err *err);

/* Kind, copy order and last copy time of every entry, indexed by the caller (for filtering and
 * tie-breaking search results). *out is malloc'd. */
typedef struct store_brief {
    int64_t id, seq, last_ms, collection;
    char kind[16], subkind[16], category[32];
    int pinned;
    int has_text; /* an image whose OCR found text (4+ characters): a screenshot or document, not a picture */
} store_brief;
/* filter (may be NULL: every entry) uses kind, since_ms, collection and category of a query;
 * the result is sorted by id. */
int store_briefs(store *s, const store_query *filter, store_brief **out, size_t *n, cs_err *err);
/* The brief of id in b[0..n) sorted by id (binary search), or NULL. */
const store_brief *store_brief_find(const store_brief *b, size_t n, int64_t id);
/* The briefs of the given ids that exist (deleted ones are left out), sorted by id. */
int store_briefs_of(store *s, const int64_t *ids, size_t nids, store_brief **out, size_t *n, cs_err *err);

/* What a search needs of every entry to place a cosine in its crowd (search.h): the entry exists,
 * is an image or not, and holds OCR text or not (store_brief.has_text). */
typedef struct store_kind_row {
    int64_t id;
    unsigned char image, has_text;
} store_kind_row;
/* Every entry's kind row, sorted by id: *rows is borrowed from s and valid until the next call on
 * s or store_close. Kept between calls and read again only when the database changed since: another
 * connection committed (PRAGMA data_version) or this one wrote (sqlite3_total_changes64). Inside
 * a read transaction (store_read_begin) the rows belong to the same snapshot as the other reads.
 * Reading it costs a scan of every entry; a search asks it for the ids of its score sample (about
 * 2,000) instead of reading their rows one by one. */
int store_kind_map(store *s, const store_kind_row **rows, size_t *n, cs_err *err);
/* The row of id in r[0..n) (binary search), or NULL. */
const store_kind_row *store_kind_find(const store_kind_row *r, size_t n, int64_t id);

/* Full-text matches of an FTS5 query (already sanitised), best first (BM25), at most limit. */
int store_fts(store *s, const char *fts_query, int limit, int64_t **ids, size_t *n, cs_err *err);

/* A full-text match with its BM25 score (higher is better, > 0) and the length in characters of
 * the entry's indexed text. */
typedef struct store_fts_hit {
    int64_t id;
    double bm25;
    int64_t len;
} store_fts_hit;
/* Like store_fts, with scores; trigram != 0 asks the trigram index (substrings of 3+ characters,
 * over the first 4096 characters of text and OCR text) instead of the word index. *out is
 * malloc'd (NULL when nothing matched). */
int store_fts_ranked(store *s, int trigram, const char *fts_query, int limit, store_fts_hit **out, size_t *n,
                     cs_err *err);

/* A word of the full-text index and the number of entries holding it. */
typedef struct store_fts_term {
    char *term;
    int64_t docs;
} store_fts_term;
/* The indexed words that begin with prefix (lowercase, as the index folds them), those in the
 * fewest entries first, at most limit; *total gets the number of entries in the index. *out is
 * malloc'd, as is each term; free with store_fts_terms_free. */
int store_fts_terms(store *s, const char *prefix, int limit, store_fts_term **out, size_t *n, int64_t *total,
                    cs_err *err);
void store_fts_terms_free(store_fts_term *t, size_t n);
/* Which of terms[0..n) the word index holds (each one word as the index keeps it: lowercase, no
 * diacritics): have[i] = 1 or 0. For search's one-edit variants: a query that names hundreds of
 * absent words costs FTS5 a phrase each for every matching entry. Terms that share two leading
 * ASCII letters or digits, 24 or more, are asked by one range scan of the index's term list
 * (a word's variants mostly share its first two letters); the rest by one statement that seeks
 * each (a seek probes every segment of the index: 1,635 variants of three words took 21 ms
 * on a 10k-entry index of 6 segments, 5 ms once merged into one). */
int store_fts_have_terms(store *s, const char *const *terms, size_t n, unsigned char *have, cs_err *err);

/* Entries of text kinds not yet organised (subkind never computed), at most limit. */
int store_unorganised(store *s, int limit, int64_t **ids, size_t *n, cs_err *err);
/* Sets an entry's text kind ("" for prose) and code language (may be NULL). */
int store_set_subkind(store *s, int64_t id, const char *subkind, const char *lang, cs_err *err);

/* ---- organisation (store_org.c; written by the organiser, src/organize/) ---- */

/* Images whose text has not been read yet (ocr_text NULL), oldest first, at most limit. */
int store_need_ocr(store *s, int limit, int64_t **ids, size_t *n, cs_err *err);
/* Records the text read from an image ("" when none). Returns 1 if the entry is gone. */
int store_set_ocr(store *s, int64_t id, const char *text, cs_err *err);

/* Entries that have vectors for model but whose organised mark is not `mark`, oldest first. */
int store_need_organise(store *s, const char *model, const char *mark, int limit, int64_t **ids, size_t *n,
                        cs_err *err);
/* The same, among ids above `after` only: a caller that walks the history in rounds resumes
 * where its last pass ended instead of reading the organised head again each pass. */
int store_need_organise_after(store *s, const char *model, const char *mark, int64_t after, int limit, int64_t **ids,
                              size_t *n, cs_err *err);
/* Every entry id above `after`, ascending, and whether each is an image (image[i] 1/0): for a
 * kind map kept in step with the store (a kind never changes, ids are never reused). *ids and
 * *image are malloc'd (both NULL when *n is 0 or on error). */
int store_kinds_after(store *s, int64_t after, int64_t **ids, unsigned char **image, size_t *n, cs_err *err);
/* Marks an entry organised with model, with its category (NULL none) and near-duplicate group
 * (0 none). Returns 1 if the entry is gone. */
int store_set_organised(store *s, int64_t id, const char *model, const char *category, double conf, int64_t dup_of,
                        cs_err *err);
/* Clears every entry's organised mark (labels or thresholds changed: organise again). */
int store_reset_organised(store *s, cs_err *err);
/* Sets the time after which prune deletes the entry (0: never). */
int store_set_expire(store *s, int64_t id, int64_t expire_ms, cs_err *err);

typedef struct store_collection {
    int64_t id, members, created_ms;
    char *name;
    int user_named;
    int dim;         /* centroid length, 0 when none */
    float *centroid; /* unit vector of model, or NULL */
    char *model;
} store_collection;
void store_collection_free(store_collection *c); /* frees the members, not the struct; NULL is a no-op */

/* Every collection with its member count, largest first. *out is malloc'd. */
int store_collections(store *s, store_collection **out, size_t *n, cs_err *err);
/* Creates a collection. centroid may be NULL (a rule's collection). *id receives its id. */
int store_collection_create(store *s, const char *name, int user_named, const char *model, const float *centroid,
                            int dim, int64_t *id, cs_err *err);
/* The collection named name (ignoring ASCII case) or with that decimal id. Returns 1 if none. */
int store_collection_find(store *s, const char *name_or_id, int64_t *id, cs_err *err);
/* Replaces the centroid (of model). */
int store_collection_set_centroid(store *s, int64_t id, const char *model, const float *centroid, int dim, cs_err *err);
/* Renames; user = 1 marks it named by the user (automatic naming then leaves it alone), and
 * user = 0 renames only a collection the user has not named. Names are 1-100 bytes of UTF-8
 * without control characters. Returns 1 if there is no such collection. */
int store_collection_rename(store *s, int64_t id, const char *name, int user, cs_err *err);
/* Moves every member of `from` into `into` and deletes `from`; the centroid of `into` becomes the
 * member-weighted mean of both. Returns 1 if either does not exist. */
int store_collection_merge(store *s, int64_t from, int64_t into, cs_err *err);
/* Puts an entry into a collection (0: takes it out). Returns 1 if the entry is gone. */
int store_set_collection(store *s, int64_t id, int64_t collection, cs_err *err);
/* Ids of a collection's members, most recently copied first, at most limit. */
int store_collection_members(store *s, int64_t id, int limit, int64_t **ids, size_t *n, cs_err *err);

/* Groups the writes that follow into one transaction (one fsync instead of one per write):
 * store_begin takes the write lock (BEGIN IMMEDIATE, waiting up to the busy timeout), store_end
 * commits (ok = 1) or rolls back (ok = 0). Hold it only around writes that belong together and
 * take milliseconds: other writers (capture) wait meanwhile. Not nestable. */
int store_begin(store *s, cs_err *err);
int store_end(store *s, int ok, cs_err *err);
/* A read transaction around many reads (a search runs thousands of statements): one snapshot and
 * one WAL read lock for all of them instead of one per statement. Returns 1 when it began one,
 * which store_read_end ends; 0 when a transaction is already open on s (nothing to end); -1 on
 * failure. Writes inside it are not allowed (it would be upgraded and could fail busy). */
int store_read_begin(store *s, cs_err *err);
void store_read_end(store *s);
/* Write transactions this handle committed since it opened (explicit ones and single-statement
 * autocommits alike): each costs one WAL fsync, so tests use it to check writes are grouped. */
int64_t store_commits(const store *s);

/* Settings kept in the database (model in use, pause flag). *value is malloc'd, NULL if unset. */
int store_meta_get(store *s, const char *key, char **value, cs_err *err);
int store_meta_set(store *s, const char *key, const char *value, cs_err *err); /* NULL deletes */
/* Deletes a setting in one statement: 1 if it was set (this caller took it; of several processes
 * racing, exactly one gets 1), 0 if not, -1 on failure. */
int store_meta_take(store *s, const char *key, cs_err *err);

/* Number of vectors of model with data (dim > 0): what a search matrix of that model should hold. */
int store_vector_count(store *s, const char *model, int64_t *n, cs_err *err);
/* Number of entries, and of entries without vectors for model (model NULL: *pending = 0). */
int store_counts(store *s, const char *model, int64_t *entries, int64_t *pending, cs_err *err);

/* Distinct values of column ("kind", "subkind" or "category"; NULL and "" left out) with their
 * entry counts, most common first. *values (each malloc'd) and *counts are malloc'd arrays. */
int store_group_counts(store *s, const char *column, char ***values, int64_t **counts, size_t *n, cs_err *err);

/* ---- history: trash, undo, clear, edit (store_history.c) ---- */

/* How long a deleted entry stays in the trash (undo-able) before prune or gc purge it. */
#define STORE_TRASH_KEEP_MS (24LL * 3600 * 1000)

/* Deletes entries as one undo step. Each moves to the trash with its tags, pin and collection
 * (its blob and thumbnail stay on disk, its vectors and index rows go), except secrets, which are
 * deleted for good as store_delete does. All or nothing: an id that does not exist returns 1
 * (err names it) and nothing is deleted. *trashed (may be NULL) gets how many went to the
 * trash. Runs its own transaction: not inside store_begin. */
int store_trash(store *s, const int64_t *ids, size_t n, int64_t *trashed, cs_err *err);

/* Brings back the most recent undo step: the entries return under their ids with their tags,
 * pin, copy order and collection (if it still exists); the index worker embeds them again. An
 * entry whose content was copied again meanwhile is not duplicated: its pin and tags go onto the
 * entry that has it, and that id is reported. *ids (malloc'd, *n of them) gets the ids; *n = 0
 * when the trash is empty. One transaction. */
int store_undo(store *s, int64_t **ids, size_t *n, cs_err *err);

/* Removes for good the trash rows deleted before cutoff_ms (INT64_MAX: all), and their files when
 * no row names them. store_prune runs it with now - STORE_TRASH_KEEP_MS. */
int store_trash_purge(store *s, int64_t cutoff_ms, int64_t *removed, cs_err *err);
/* Rows in the trash, and in its most recent undo step (either may be NULL). */
int store_trash_count(store *s, int64_t *entries, int64_t *last_batch, cs_err *err);

typedef struct store_clear {
    int64_t older_than_ms; /* > 0: only entries last copied longer ago than this */
    const char *kind;      /* NULL: all; else the kind or the text kind, as store_query */
    int include_pinned;    /* 0: pinned entries are kept */
} store_clear;
/* Ids of the entries a clear would delete (pass them to store_trash). *ids is malloc'd. */
int store_clear_ids(store *s, const store_clear *c, int64_t **ids, size_t *n, cs_err *err);

/* Replaces the text of a text entry (kind "text"; other kinds are refused) with text, of text
 * kind subkind (NULL prose) and language lang (may be NULL). Both full-text indexes follow; its
 * vectors are dropped so the index worker embeds it again, and the organiser looks at it again.
 * Returns 0, 1 if there is no such entry, 2 when refused (not a text entry, text empty or not
 * UTF-8, or another entry holds this text already: sha256 is unique), -1 on failure; err says
 * why. */
int store_set_text(store *s, int64_t id, const char *text, size_t len, const char *subkind, const char *lang,
                   cs_err *err);

/* ---- archives (store_archive.c) ---- */

typedef struct store_archive_counts {
    int64_t entries;    /* written (export) or added (import) */
    int64_t duplicates; /* import: already here (same sha256), left as they are */
    int64_t blobs, tags;
} store_archive_counts;

/* Writes the history to path: one SQLite file (0600, application_id "ClPx", so it is never taken
 * for a live store) made with the online backup API, a consistent snapshot even while other
 * processes write, with the image bytes in a table archive_blobs(sha256, data). Secrets, the
 * trash, vectors (they belong to one model) and settings are left out. Written to a temporary
 * name and renamed: path never holds half an archive. */
int store_export(store *s, const char *path, store_archive_counts *c, cs_err *err);

/* Merges an archive made by store_export: entries not here yet (by sha256) are added with new
 * ids, their times, copy counts, pins, tags, text kinds, OCR text and collections (by name);
 * the index worker embeds them. Imported clips take their place in the copy order by time.
 * Every row is checked first (kind, UTF-8, sha256 of text and image bytes) and the rows go in
 * one transaction: a damaged or hostile archive is refused with the reason and nothing is
 * imported (image files written for it are removed again). */
int store_import(store *s, const char *path, store_archive_counts *c, cs_err *err);

/* ---- presentation (store_json.c) ---- */

/* One line of at most max bytes (UTF-8 safe, whitespace runs collapsed, control characters and
 * bidi overrides dropped as cs_utf8_unsafe says, broken UTF-8 as U+FFFD), or
 * "[image WxH png]" for images. malloc'd. */
char *store_preview(const store_entry *e, size_t max);
struct json_t;
/* The stable JSON object of an entry (keys in docs/cli.md); the caller owns the reference. */
struct json_t *store_entry_json(const store_entry *e);

/* Milliseconds since the epoch. */
int64_t store_now_ms(void);

/* Hex SHA-256 of data (out has 65 bytes). */
void store_sha256_hex(const void *data, size_t len, char out[65]);

#endif
