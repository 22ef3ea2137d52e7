/* cs_json: see cs_json.h. */
#include "cs_json.h"

#include <stdlib.h>

#include "cs_file.h"

json_t *cs_json_object(const char *txt, size_t len, const char *name, cs_err *err) {
    json_error_t je;
    json_t *root = json_loadb(txt, len, 0, &je);
    if (json_is_object(root)) return root;
    if (root) snprintf(je.text, sizeof je.text, "the top level is not an object");
    json_decref(root);
    cs_errc(err, CS_EINVAL, "%s: not a JSON object (line %d: %s)", name, je.line, je.text);
    return NULL;
}

json_t *cs_json_read_object(const char *path, size_t max, cs_err *err) {
    char *txt;
    size_t len = 0;
    if (cs_read_file(path, max, &txt, &len, err)) return NULL;
    json_t *root = cs_json_object(txt, len, path, err);
    free(txt);
    return root;
}
