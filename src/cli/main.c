/* clipseek: entry point and subcommand table. Thin by design: each subcommand lives in its own
 * file and calls the library; only this layer prints or exits. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cs_log.h"
#include "../model/backend.h"
#include "../model/clip.h"
#include "../front/front_help.h"
#include "cli.h"

int cli_threads = 0;
const char *cli_data_dir_opt = NULL;

/* Each command's function; front_help.c has the same names with their help texts, which the
 * front binary prints without starting this one (docs/architecture.md, "Front and engine"). */
static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    {"daemon", cmd_daemon},
    {"reload", cmd_reload},
    {"status", cmd_status},
    {"pause", cmd_pause},
    {"resume", cmd_pause},
    {"list", cmd_list},
    {"search", cmd_search},
    {"pick", cmd_pick},
    {"show", cmd_show},
    {"decode", cmd_decode},
    {"copy", cmd_copy},
    {"popup", cmd_popup},
    {"edit", cmd_edit},
    {"delete", cmd_delete},
    {"clear", cmd_clear},
    {"undo", cmd_undo},
    {"pin", cmd_pin},
    {"unpin", cmd_pin},
    {"tag", cmd_tag},
    {"add", cmd_add},
    {"export", cmd_export},
    {"import", cmd_export},
    {"web", cmd_web},
    {"doctor", cmd_doctor},
    {"index", cmd_index},
    {"similar", cmd_similar},
    {"organize", cmd_organize},
    {"collections", cmd_collections},
    {"stats", cmd_stats},
    {"check", cmd_stats},
    {"gc", cmd_gc},
    {"model", cmd_model},
    {"store", cmd_store},
    {"wl-event", cmd_wl_event},
    {"tokenize", cmd_tokenize},
    {"embed", cmd_embed},
    {"preprocess", cmd_preprocess},
};

int cli_main(int argc, char **argv) {
    /* the defaults again: in the daemon's engine server a command starts from the daemon's values */
    cli_threads = 0;
    cli_data_dir_opt = NULL;
    cli_device = NULL;
    cli_f32 = 0;
    cli_dtype = CLIP_DTYPE_DEFAULT;
    cs_log_set_sink(NULL, NULL, CS_LOG_INFO);
    int rc = front_answer_help(argc, argv); /* no command, --version, help [COMMAND] */
    if (rc >= 0) return rc;
    /* the common options (front_help.h) are accepted anywhere; strip them before the subcommand
     * parses its own options */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        switch (front_common_option(argv[i])) {
        case FRONT_OPT_DATA_DIR:
            if (i + 1 >= argc || !argv[i + 1][0]) return cli_usage("--data-dir needs a folder");
            cli_data_dir_opt = argv[++i];
            continue;
        case FRONT_OPT_DEVICE: {
            int kind, idx;
            if (i + 1 >= argc || be_parse_device(argv[i + 1], &kind, &idx, NULL))
                return cli_usage("--device is auto, cpu, vulkan or vulkan:N");
            cli_device = argv[++i];
            continue;
        }
        case FRONT_OPT_DTYPE:
            if (i + 1 >= argc || clip_dtype_parse(argv[i + 1], &cli_dtype, NULL) || cli_dtype == CLIP_DTYPE_DEFAULT)
                return cli_usage("--dtype is f32, f16 or q8 (the weights the towers keep; a GPU keeps f16 for q8)");
            cli_f32 = !strcmp(argv[++i], "f32");
            continue;
        case FRONT_OPT_THREADS:
            if (i + 1 >= argc || cli_parse_int(argv[i + 1], 1, 1024, &cli_threads))
                return cli_usage("--threads needs a number from 1 to 1024");
            i++;
            continue;
        default:
            break;
        }
        argv[n++] = argv[i];
    }
    argc = n;
    argv[argc] = NULL;
    /* again without the common options: `clipseek --data-dir X help`, `--threads 2 --version`, or
     * nothing left (usage on stderr, exit 2) */
    rc = front_answer_help(argc, argv);
    if (rc >= 0) return rc;
    /* COMMAND -h/--help anywhere: its usage, before anything parses (a command must not take
     * "--help" as a query or a file, nor create the data directory) */
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            if (front_find(argv[1])) return front_print_usage(front_find(argv[1]));
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    if (!strcmp(argv[1], "x11-own-files")) return cmd_x11_own_files(argc - 1, argv + 1); /* internal, for copy */
    return cli_usage("unknown command '%s'", argv[1]);
}

int main(int argc, char **argv) { return cli_main(argc, argv); }
