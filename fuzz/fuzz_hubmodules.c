/* Fuzz target: what the hub reads from the network to decide which files of a
 * sentence-transformers repository to download. The first byte picks: modules.json through
 * hub_module_dirs_parse (every folder it returns must be a plain relative path, since it becomes
 * a path in the cache and in a URL), or a path through hub_relpath_valid (a path it accepts must
 * have no empty, ".", ".." or hidden part and must not be absolute). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/hub/hub_int.h"

/* An independent check of what hub_relpath_valid promises. */
static int plain(const char *p) {
    if (!*p || p[0] == '/' || strlen(p) > 200) return 0;
    const char *part = p;
    for (;;) {
        const char *end = strchr(part, '/');
        size_t len = end ? (size_t)(end - part) : strlen(part);
        if (!len || part[0] == '.') return 0;
        if (!end) return 1;
        part = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] % 2 == 0) {
        char **dirs, *kinds;
        cs_err e;
        if (hub_module_dirs_parse(text, len, "modules.json", &dirs, &kinds, &e) == 0) {
            for (size_t i = 0; dirs[i]; i++)
                if (!hub_relpath_valid(dirs[i]) || !plain(dirs[i]) || !strchr("ndo", kinds[i]) || !kinds[i]) abort();
            hub_free_names(dirs);
            free(kinds);
        } else if (!e.msg[0])
            abort(); /* an error always says why */
    } else {
        char *s = malloc(len + 1);
        if (!s) return 0;
        memcpy(s, text, len);
        s[len] = 0;
        if (hub_relpath_valid(s) && (!plain(s) || strstr(s, "..") == s)) abort();
        free(s);
    }
    return 0;
}
