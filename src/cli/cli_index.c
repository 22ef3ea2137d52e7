/* cli_index: `clipseek index`: the index worker in the foreground, or a running daemon's
 * (cli_common.c has the shared cli_index_all and the choice of model). */
#include <string.h>

#include "../store/store.h"
#include "cli.h"

int cmd_index(int argc, char **argv) {
    const char *model = NULL;
    int wait = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--wait"))
            wait = 1;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else
            return cli_usage("index: unexpected argument '%s'", argv[i]);
    }
    /* a running daemon already has the model loaded: let it do the work */
    if (wait && !model) {
        int r = cli_daemon_index_wait();
        if (r >= 0) return r;
    }
    store *s = cli_open_store();
    if (!s) return CLI_FAIL;
    int rc = cli_index_all(s, model, 0);
    store_close(s);
    return rc;
}
