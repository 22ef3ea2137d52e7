/* search_cmd: the `clipseek search` command's own words and its output, in one place for the two
 * processes that run it: the CLI (cli_search.c: searching itself, or through the daemon's SEARCH
 * request) and the daemon, which answers the front binary's CLI request with the same bytes
 * (daemon_requests.c; the front's fast path, src/front/front.c), so a search typed while the
 * daemon runs costs the daemon's work and one socket round trip, not a process that opens the
 * store.
 *
 *   search QUERY [--kind K] [--since 30m|2h|3d|1w|SECONDS] [--limit N] [--json | --format
 *          human|json|tsv] [--model DIR] [--image FILE] [--collection NAME] [--category C]
 *          [--reveal] [-- QUERY]
 * The common options (--data-dir, --threads, --device, --dtype) are not these words: the caller
 * has taken them out (src/cli/main.c). */
#ifndef SEARCH_CMD_H
#define SEARCH_CMD_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "../store/store.h"
#include "search.h"

enum { SEARCH_OUT_HUMAN, SEARCH_OUT_JSON, SEARCH_OUT_TSV };

typedef struct search_cmd {
    search_query q;   /* kind, since_ms, limit (default 20) and category set; text is left NULL,
                       * and collection 0: the caller looks up coll in its store */
    const char *text; /* the query, or NULL (then image is set) */
    const char *image, *model, *coll; /* --image FILE (as given), --model DIR, --collection NAME; NULL if absent */
    int format;                        /* SEARCH_OUT_* */
    int reveal;                        /* --reveal: secrets printed as they are */
} search_cmd;

/* Parses argv[1..argc-1] (argv[0] is the command's name) into *c; the strings stay argv's.
 * --since is taken relative to now. Returns NULL, or a usage message (the CLI prints it with
 * "(see 'clipseek help')" and exits 2), written into msg (n bytes; the message quotes a word of
 * argv: 200 more than the longest holds it whole) or static. */
const char *search_cmd_parse(int argc, char **argv, search_cmd *c, char *msg, size_t n);

/* Hides a secret before an entry is printed (secrets_mask_entry); returns 1 if it masked. */
typedef int (*search_mask_fn)(store_entry *e);
/* Then marks the entry's JSON object as masked (secrets_mask_json). */
typedef void (*search_mask_json_fn)(json_t *o, const store_entry *e);

/* Prints the hits h[0..n-1] of a search c ran (query: the words searched, for JSON's "matched")
 * as `clipseek search` does: to out one line per hit (human: id, kind, score, why, preview; tsv:
 * search_pick_line; json: one array of store_entry_json objects with search_hit_json's fields);
 * to err "clipseek: WARNING" first when q->warning is set and, in human form, "clipseek: no
 * matches" when n is 0. Rows are read from s in one read transaction; a hit whose row is gone is
 * skipped. Unless c->reveal, each entry passes through mask first; a masked entry's JSON
 * object then through mask_json (NULL: it only says "masked": true). Returns the exit status: 0, or 1 when there are no hits (as grep). */
int search_cmd_print(FILE *out, FILE *err, store *s, const search_cmd *c, const search_query *q, const search_hit *h,
                     size_t n, search_mask_fn mask, search_mask_json_fn mask_json);

#endif
