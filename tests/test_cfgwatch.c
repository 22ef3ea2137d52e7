/* cfgwatch: the config file's changes are seen (written, renamed into place, removed), other
 * files in the folder are not, a missing folder is made; and paste_keys refuses key strings that
 * are not a key, before running anything. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/capture/paste.h"
#include "../src/config/cfgwatch.h"
#include "testutil.h"

static void put(const char *path, const char *text) { write_file(path, text, strlen(text)); }

/* the events of a write arrive at once; poll with a bound so a missing one cannot hang */
static int changed_within(cfgwatch *w, int ms) {
    struct pollfd p = {cfgwatch_fd(w), POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return 0;
    return cfgwatch_changed(w);
}

Test(cfgwatch, sees_the_file_and_only_it) {
    char dir[] = "/tmp/clipseek-cfgwatch-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[256], cfg[300], other[300], tmp[300];
    snprintf(sub, sizeof sub, "%s/clipseek", dir);
    snprintf(cfg, sizeof cfg, "%s/config", sub);
    snprintf(other, sizeof other, "%s/notes", sub);
    snprintf(tmp, sizeof tmp, "%s/config.swp", sub);
    cfgwatch *w = NULL;
    cs_err e;
    cr_assert_eq(cfgwatch_open(cfg, &w, &e), 0, "%s", e.msg);
    struct stat st;
    cr_assert_eq(stat(sub, &st), 0, "the folder is made");
    cr_expect_eq(st.st_mode & 0777, 0700);
    cr_expect_eq(cfgwatch_changed(w), 0, "nothing yet");
    put(other, "x");
    cr_expect_eq(changed_within(w, 200), 0, "another file");
    put(cfg, "max_entries = 5\n");
    cr_expect_eq(changed_within(w, 2000), 1, "written");
    cr_expect_eq(cfgwatch_changed(w), 0, "drained");
    put(tmp, "max_entries = 6\n"); /* an editor's save: a new file renamed over the old */
    changed_within(w, 200);                /* the temporary file's own events do not count */
    cr_assert_eq(rename(tmp, cfg), 0);
    cr_expect_eq(changed_within(w, 2000), 1, "renamed into place");
    unlink(cfg);
    cr_expect_eq(changed_within(w, 2000), 1, "removed");
    cfgwatch_close(w);
    cfgwatch_close(NULL);
    unlink(other);
    rmdir(sub);
    rmdir(dir);
}

Test(cfgwatch, bad_paths) {
    cfgwatch *w = (cfgwatch *)1;
    cs_err e;
    cr_expect_eq(cfgwatch_open("config", &w, &e), -1, "no folder");
    cr_expect_null(w);
    cr_expect_eq(cfgwatch_open("/nonexistent-clipseek/deeper/config", &w, &e), -1);
    cr_expect(strstr(e.msg, "/nonexistent-clipseek/deeper") != NULL, "%s", e.msg);
}

Test(paste, keys_refused_before_anything_runs) {
    cs_err e;
    const char *bad[] = {"", "+", "ctrl+", "ctrl+v;rm -rf", "hyper+v", "ctrl+shift+alt+super+ctrl+shift+alt+super+v", "ctrl v"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(paste_keys(NULL, bad[i], &e), -1, "'%s' should be refused", bad[i]);
        cr_expect(strstr(e.msg, "paste keys") != NULL, "'%s' refused for what it is, not later: %s", bad[i], e.msg);
    }
    unsetenv("DISPLAY");
    unsetenv("WAYLAND_DISPLAY");
    cr_expect_eq(paste_keys(NULL, "ctrl+shift+v", &e), -1);
    cr_expect(strstr(e.msg, "no display") != NULL, "a good key string fails only for want of a display: %s", e.msg);
}
