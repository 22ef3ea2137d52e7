/* cli_device: where the CLIP towers run, for every computing command: --device (auto, cpu, vulkan,
 * vulkan:N) and --dtype (f32, f16, q8: the weights the towers keep), then CLIPSEEK_DEVICE, then the
 * config's `device =`, else auto. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/rules.h"
#include "../model/clip.h"
#include "cli.h"

const char *cli_device = NULL;
int cli_f32 = 0;
int cli_dtype = CLIP_DTYPE_DEFAULT;

clip_params cli_clip_params(int threads) {
    clip_params p = clip_default_params();
    p.threads = threads;
    p.f32 = cli_f32;
    p.dtype = cli_dtype;
    p.device = cli_device;
    /* converted F16/Q8 weights are kept beside the vectors, in the data dir */
    static char cache[4200];
    char *dd = cli_data_dir();
    if (dd) {
        snprintf(cache, sizeof cache, "%s/weights", dd);
        p.cache_dir = cache;
        free(dd);
    }
    const char *env = getenv("CLIPSEEK_DEVICE");
    if (!p.device && !(env && *env)) {
        static char cfg[32];
        rules *r = NULL;
        cs_err e;
        /* a broken config is reported by the commands that read it; here it only means "auto" */
        if (rules_load(NULL, &r, &e) == 0 && rules_device(r)) {
            snprintf(cfg, sizeof cfg, "%s", rules_device(r));
            p.device = cfg;
        }
        rules_free(r);
    }
    return p;
}

void cli_device_say(const clip_ctx *c) {
    int asked = 0;
    const char *note = clip_device_note(c, &asked);
    if (note && asked) fprintf(stderr, "clipseek: %s\n", note);
}

int cli_clip_load(const char *dir, int threads, clip_ctx **c, cs_err *e) {
    clip_params p = cli_clip_params(threads);
    return cli_clip_load_params(dir, &p, c, e);
}

int cli_clip_load_params(const char *dir, const clip_params *pp, clip_ctx **c, cs_err *e) {
    clip_params p = *pp;
    if (clip_load(dir, &p, c, e)) return -1;
    /* a device asked for by name is opened now, to say at once if it cannot be used; "auto"
     * opens on the first pass (probing costs 0.1-0.3 s, which a command that never computes
     * should not pay) */
    const char *env = getenv("CLIPSEEK_DEVICE");
    if (p.device || (env && *env)) cli_device_say(*c);
    return 0;
}

void cli_device_print(const clip_ctx *c, const char *label) {
    clip_device d;
    clip_get_device(c, &d);
    int asked = 0;
    const char *note = clip_device_note(c, &asked);
    printf("%s%s (%s), %s weights, %.1f MB of weights and %.1f MB of workspace there now", label, d.device,
           d.driver[0] ? d.driver : d.backend, d.precision ? d.precision : "F32", d.weight_bytes / 1e6,
           d.work_bytes / 1e6);
    if (d.upload_ms > 0) printf(", uploaded in %.0f ms", d.upload_ms);
    printf("\n");
    if (note) printf("%*snote: %s\n", (int)strlen(label), "", note);
}
