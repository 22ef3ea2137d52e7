/* ipc_search: see ipc_search.h. */
#include "ipc_search.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cs_clock.h"
#include "ipc.h"

#define REPLY_MAX (1 << 20)

int ipc_search(const char *data_dir, search_query *q, search_hit **hits, size_t *n, cs_err *err) {
    json_t *req = json_pack("{s:s, s:I, s:i}", "q", q->text, "since_ms", (json_int_t)q->since_ms, "limit", q->limit);
    if (q->kind) json_object_set_new(req, "kind", json_string(q->kind));
    if (q->collection) json_object_set_new(req, "collection", json_integer(q->collection));
    if (q->category) json_object_set_new(req, "category", json_string(q->category));
    char *body = json_dumps(req, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(req);
    if (!body || strlen(body) > 60000) {
        free(body);
        return 1;
    } /* over the server's line: search here */
    size_t reqlen = strlen(body) + 8;
    char *line = malloc(reqlen), *buf = malloc(REPLY_MAX);
    if (!line || !buf) {
        free(body);
        free(line);
        free(buf);
        return 1;
    }
    snprintf(line, reqlen, "SEARCH %s", body);
    free(body);
    int r = ipc_request(data_dir, line, buf, REPLY_MAX, 30000);
    free(line);
    if (r != 0) {
        free(buf);
        return 1;
    }
    json_t *rep = json_loads(buf, 0, NULL), *arr = json_object_get(rep, "hits");
    free(buf);
    if (!json_is_array(arr)) {
        const char *m = json_string_value(json_object_get(rep, "error"));
        int rc = m ? cs_errc(err, CS_EFAIL, "daemon: %s", m) : 1;
        json_decref(rep);
        return rc;
    }
    const char *warn = json_string_value(json_object_get(rep, "warning"));
    snprintf(q->warning, sizeof q->warning, "%s", warn ? warn : "");
    size_t k = json_array_size(arr);
    search_hit *h = calloc(k ? k : 1, sizeof *h);
    for (size_t i = 0; h && i < k; i++) {
        json_t *a = json_array_get(arr, i);
        h[i].id = json_integer_value(json_array_get(a, 0));
        h[i].score = json_number_value(json_array_get(a, 1));
        h[i].signals = (int)json_integer_value(json_array_get(a, 2));
        h[i].cosine = (float)json_number_value(json_array_get(a, 3));
        h[i].match = (int)json_integer_value(json_array_get(a, 4));
        h[i].standout = (float)json_number_value(json_array_get(a, 5));
    }
    json_decref(rep);
    if (!h) return cs_errc(err, CS_ENOMEM, "out of memory");
    *hits = h;
    *n = k;
    return 0;
}

char *ipc_search_answer(const char *body, ipc_search_fn fn, void *arg) {
    json_t *req = json_loads(body, 0, NULL), *out = json_object();
    search_query sq = {0};
    sq.text = json_string_value(json_object_get(req, "q"));
    sq.kind = json_string_value(json_object_get(req, "kind"));
    sq.since_ms = json_integer_value(json_object_get(req, "since_ms"));
    sq.collection = json_integer_value(json_object_get(req, "collection"));
    sq.category = json_string_value(json_object_get(req, "category"));
    sq.limit = (int)json_integer_value(json_object_get(req, "limit"));
    if (sq.limit <= 0 || sq.limit > 1000) sq.limit = 20;
    cs_err e = {0};
    search_hit *h = NULL;
    size_t n = 0;
    search_timing tm = {0};
    sq.timing = &tm;
    double t0 = cs_mono_ms(), embed = 0;
    int rc = !req || !sq.text ? cs_errc(&e, CS_EINVAL, "bad request") : fn(arg, &sq, &h, &n, &embed, &e);
    if (!rc) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("[I, f, i, f, i, f]", (json_int_t)h[i].id, h[i].score, h[i].signals,
                                                 (double)h[i].cosine, h[i].match, (double)h[i].standout));
        json_object_set_new(out, "hits", arr);
        if (sq.warning[0]) json_object_set_new(out, "warning", json_string(sq.warning));
        /* where the time goes, for benchmarks (bench/e2e.py) */
        json_object_set_new(out, "embed_ms", json_real(embed));
        json_object_set_new(out, "total_ms", json_real(cs_mono_ms() - t0));
        json_object_set_new(out, "phases_ms",
                            json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "store", tm.store, "embed", tm.embed,
                                      "matrix", tm.matrix, "words", tm.words, "vectors", tm.vectors, "briefs",
                                      tm.briefs, "rank", tm.rank));
    } else
        json_object_set_new(out, "error", json_string(e.msg[0] ? e.msg : "search failed"));
    free(h);
    json_decref(req);
    char *txt = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return txt;
}
