/* hub_int: shared between hub.c (network) and hub_cache.c (the cache layout); not public. */
#ifndef HUB_INT_H
#define HUB_INT_H

#include <stddef.h>

#include "../common/cs_err.h"
#include "hub.h"

/* The weight layouts in transformers' order of preference (index = rank). */
enum { HUB_FMT_ST, HUB_FMT_ST_SHARDED, HUB_FMT_BIN, HUB_FMT_BIN_SHARDED, HUB_FMT_COUNT };
extern const char *const hub_fmt_name[HUB_FMT_COUNT];
/* The single file or the index file of each layout. */
extern const char *const hub_fmt_file[HUB_FMT_COUNT];

/* <cache>/models--org--name into buf. Returns 0 or -1 (err set). */
int hub_repo_dir(const hub_params *p, const char *repo, char *buf, size_t n, cs_err *err);
/* Reads refs/<rev> of a repo folder into commit (41 bytes). Returns 0 or -1 (absent or malformed). */
int hub_read_ref(const char *rdir, const char *rev, char *commit);
/* Writes refs/<rev> = commit (temporary file, fsync, rename). */
int hub_write_ref(const char *rdir, const char *rev, const char *commit, cs_err *err);
/* The best complete weight layout in a snapshot folder whose `files` all exist: its rank, or -1. */
int hub_snapshot_format(const char *snap, const char *const *files, int n);
/* Shard names listed by an index file's weight_map (each a plain file name), malloc'd array of
 * malloc'd strings, NULL-terminated. Returns 0 or -1 (err set). Free with hub_free_names. */
int hub_index_shards(const char *index_path, char ***names, cs_err *err);
void hub_free_names(char **names); /* NULL is a no-op */
/* mkdir -p with mode 0700 for the folders it creates. */
int hub_mkdirs(const char *path, cs_err *err);
/* Points snap/<file> at ../../blobs/<etag> (a temporary link renamed over the old one). */
int hub_link_snapshot(const char *rdir, const char *commit, const char *file, const char *etag, cs_err *err);
/* The module folders a sentence-transformers modules.json names (path, a malloc'd array of
 * malloc'd relative paths, NULL-terminated; "" and the root are left out), and for each its kind:
 * 'n' Normalize (no files), 'd' Dense (config.json and weights), 'o' other (config.json).
 * Returns 0 or -1 (err set: unreadable, not an array of objects, a path that is not a plain
 * relative folder). Free with hub_free_names. */
int hub_module_dirs(const char *modules_json, char ***dirs, char **kinds, cs_err *err);
/* The same over modules.json's text (len bytes; name is used in messages); the fuzzer's entry. */
int hub_module_dirs_parse(const char *txt, size_t len, const char *name, char ***dirs, char **kinds, cs_err *err);
/* 1 if p is a relative path of plain names (letters, digits, '-', '_', '.'; no empty, "." or ".."
 * part, no part starting with '.'), at most 200 bytes. */
int hub_relpath_valid(const char *p);
/* 1 if s is n hex digits. */
int hub_is_hex(const char *s, size_t n);

#endif
