/* Fuzz target: the user's text files - the config (settings and rules) and the image label
 * file - over arbitrary bytes. The first byte picks the parser; a parsed config is then used
 * the way capture uses it (rules_reject) on a few clips. */
#include <stdint.h>
#include <stdlib.h>

#include "../src/config/rules.h"
#include "../src/organize/labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    cs_err e;
    if (data[0] & 1) {
        labels *l;
        if (labels_parse(text, len, "fuzz", &l, &e) == 0) {
            float conf, v[4] = {1, 0, 0, 0};
            (void)labels_classify(l, v, 4, &conf); /* not embedded: must say so, not crash */
            for (int i = 0; i < labels_count(l); i++) (void)labels_name(l, i);
            labels_free(l);
        }
    } else {
        rules *r;
        if (rules_parse(text, len, "fuzz", &r, &e) == 0) {
            static const unsigned char clip[] = "https://github.com/x INVOICE 12 hunter2";
            (void)rules_reject(r, "text", "url", clip, sizeof clip - 1, "KeePassXC");
            (void)rules_reject(r, "text", NULL, clip, sizeof clip - 1, NULL);
            (void)rules_reject(r, "image", NULL, clip, 4, "firefox");
            (void)rules_org(r);
            rules_free(r);
        }
    }
    return 0;
}
