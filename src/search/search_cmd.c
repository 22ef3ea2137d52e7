/* search_cmd: see search_cmd.h. */
#include "search_cmd.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "search_json.h"

/* "90s", "30m", "2h", "3d", "1w", or plain seconds: that long ago, in Unix ms. */
static int parse_since(const char *s, int64_t *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0) return -1;
    long long mul = 1;
    if (!strcmp(end, "") || !strcmp(end, "s"))
        mul = 1;
    else if (!strcmp(end, "m"))
        mul = 60;
    else if (!strcmp(end, "h"))
        mul = 3600;
    else if (!strcmp(end, "d"))
        mul = 86400;
    else if (!strcmp(end, "w"))
        mul = 604800;
    else
        return -1;
    *out = store_now_ms() - v * mul * 1000;
    return 0;
}

/* --limit's value: 1..100000, the whole word a number (cli_parse_int's rule). */
static int parse_limit(const char *s, int *out) {
    if (!*s) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 1 || v > 100000) return -1;
    *out = (int)v;
    return 0;
}

const char *search_cmd_parse(int argc, char **argv, search_cmd *c, char *msg, size_t n) {
    memset(c, 0, sizeof *c);
    c->q.limit = 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--kind") && v)
            c->q.kind = argv[++i];
        else if (!strcmp(a, "--since") && v) {
            if (parse_since(argv[++i], &c->q.since_ms)) return "--since takes 30m, 2h, 3d, 1w or seconds";
        } else if (!strcmp(a, "--limit") && v) {
            if (parse_limit(argv[++i], &c->q.limit)) return "--limit needs a positive number";
        } else if (!strcmp(a, "--json"))
            c->format = SEARCH_OUT_JSON;
        else if (!strcmp(a, "--format") && v) {
            i++;
            if (!strcmp(v, "tsv"))
                c->format = SEARCH_OUT_TSV;
            else if (!strcmp(v, "json"))
                c->format = SEARCH_OUT_JSON;
            else if (!strcmp(v, "human"))
                c->format = SEARCH_OUT_HUMAN;
            else
                return "--format is human, json or tsv";
        } else if (!strcmp(a, "--model") && v)
            c->model = argv[++i];
        else if (!strcmp(a, "--image") && v)
            c->image = argv[++i];
        else if (!strcmp(a, "--collection") && v)
            c->coll = argv[++i];
        else if (!strcmp(a, "--category") && v)
            c->q.category = argv[++i];
        else if (!strcmp(a, "--reveal"))
            c->reveal = 1;
        else if (!strcmp(a, "--") && v && !c->text)
            c->text = argv[++i]; /* a query that starts with - */
        else if (a[0] == '-' && a[1] && !(a[1] >= '0' && a[1] <= '9')) {
            snprintf(msg, n, "search: unknown option '%s' (a query starting with '-' goes after --)", a);
            return msg;
        } else if (!c->text)
            c->text = a;
        else {
            snprintf(msg, n, "search: one QUERY (quote it), got also '%s'", a);
            return msg;
        }
    }
    if (!c->text && !c->image) return "search: expected QUERY or --image FILE";
    return NULL;
}

/* One hit as a human line: id, kind, score, why it matched, preview. */
static void print_human(FILE *out, const search_hit *h, const store_entry *e) {
    char *pv = store_preview(e, 80);
    const char *why = search_why(h, !strcmp(e->kind, "image")), *m = search_match_name(h->match);
    int words = (h->signals & SEARCH_TEXT) && m;
    char how[40];
    snprintf(how, sizeof how, "%s%s%s", why ? why : "recent", words ? ":" : "", words ? m : "");
    if ((h->signals & SEARCH_TEXT) && (h->signals & SEARCH_MEANING)) strncat(how, "+means", sizeof how - strlen(how) - 1);
    fprintf(out, "%6lld  %-5s %.4f %-16s %s\n", (long long)e->id, e->kind, h->score, how, pv ? pv : "");
    free(pv);
}

int search_cmd_print(FILE *out, FILE *err, store *s, const search_cmd *c, const search_query *q, const search_hit *h,
                     size_t n, search_mask_fn mask, search_mask_json_fn mask_json) {
    if (q->warning[0]) fprintf(err, "clipseek: %s\n", q->warning); /* e.g. index out of date: disk full */
    json_t *arr = c->format == SEARCH_OUT_JSON ? json_array() : NULL;
    /* one snapshot and one WAL read lock for all the hits' rows, not a lock and unlock per row */
    int rt = store_read_begin(s, NULL);
    for (size_t i = 0; i < n; i++) {
        store_entry e;
        if (store_get(s, h[i].id, &e, NULL)) continue;
        /* masked before anything is printed: the matched words come from the masked text too */
        int masked = !c->reveal && mask && mask(&e);
        if (c->format == SEARCH_OUT_JSON) {
            json_t *o = store_entry_json(&e);
            search_hit_json(o, &h[i], &e, q->text);
            if (masked && mask_json)
                mask_json(o, &e);
            else if (masked)
                json_object_set_new(o, "masked", json_true());
            json_array_append_new(arr, o);
        } else if (c->format == SEARCH_OUT_TSV) {
            char *line = search_pick_line(&h[i], &e, 200);
            if (line) fprintf(out, "%s\n", line);
            free(line);
        } else
            print_human(out, &h[i], &e);
        store_entry_free(&e);
    }
    if (rt == 1) store_read_end(s);
    if (arr) {
        char *txt = json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (txt) fprintf(out, "%s\n", txt);
        free(txt);
        json_decref(arr);
    }
    if (!n && c->format == SEARCH_OUT_HUMAN) fprintf(err, "clipseek: no matches\n");
    return n ? 0 : 1;
}
