/* clipseek: entry point and subcommand table. Thin by design: each subcommand lives in its own
 * file and calls the library; only this layer prints or exits. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/backend.h"
#include "../model/clip.h"
#include "cli.h"

int cli_threads = 0;
const char *cli_data_dir_opt = NULL;

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("clipseek: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_FAIL;
}

int cli_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("clipseek: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see 'clipseek help')\n", stderr);
    va_end(ap);
    return CLI_USAGE;
}

int cli_parse_int(const char *s, int lo, int hi, int *out) {
    if (!s || !*s) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"tokenize", cmd_tokenize, "tokenize --model DIR [--max-length N] [--texts-from FILE]   texts (stdin), one per line -> token ids"},
    {"embed", cmd_embed,
     "embed --model DIR (--text T | --texts-from FILE | --image FILE... | --token-ids \"ID ...\" | --pixel-values FILE)\n"
     "        [--format json|f32] [--no-normalize]   one embedding per input, in input order"},
    {"preprocess", cmd_preprocess, "preprocess --model DIR --image FILE --out FILE   normalised pixels, float32 C x H x W"},
    {"model", cmd_model, "model info DIR [--json]   architecture, sizes, parameters, dtype, resident memory\n"
                         "  model use DIR|REPO   the model the index worker and searches use (REPO: from the HF cache)\n"
                         "  model list [--available]   models here; --available: a catalogue with size, speed, quality\n"
                         "  model fetch [REPO] [--revision R]   download into the Hugging Face cache (HF_ENDPOINT,\n"
                         "    HF_TOKEN, HF_HUB_OFFLINE), resumable, checksummed"},
    {"daemon", cmd_daemon, "daemon [--no-x11] [--primary] [--model DIR] [--web-port N] [--no-web]   capture, index, serve the CLI and the web page"},
    {"web", cmd_web, "web [--open] [--port N] [--logout-all]   a one-time login URL for the web page (opened with --open); serves it if no daemon does; --logout-all ends every session"},
    {"doctor", cmd_doctor, "doctor   data dir, display, daemon, store health, model"},
    {"index", cmd_index, "index [--wait] [--model DIR]   embed every entry that has no vectors yet (foreground)"},
    {"search", cmd_search, "search QUERY [--kind K] [--since 3d] [--collection C] [--category C] [--limit N] [--json] [--format tsv] [--image FILE]   by words and by meaning; no matches: status 1"},
    {"similar", cmd_similar, "similar ID [--kind K] [--limit N] [--json]   entries that mean something close"},
    {"organize", cmd_organize, "organize [--no-ocr]   text kinds, text in images, categories, duplicates, collections, rules (now)"},
    {"collections", cmd_collections, "collections [--json] | rename C NAME | merge FROM INTO   automatic and named groups"},
    {"add", cmd_add, "add [--wait] FILE...|DIR...|-   import files, folders (recursively) or stdin; --wait also indexes them"},
    {"wl-event", cmd_wl_event, "wl-event   one Wayland selection event (the daemon's wl-paste --watch runs it): reads the offered types, skips passwords, stores the best type"},
    {"store", cmd_store, "store [--type MIME]   store one clip from stdin (for wl-paste --watch; honours CLIPBOARD_STATE)"},
    {"list", cmd_list, "list [--kind K] [--collection C] [--category C] [--duplicates-of ID] [--limit N] [--pinned] [--json]   newest first"},
    {"pick", cmd_pick, "pick [--kind K] [--limit N] [--pinned]   ID<TAB>preview lines for dmenu/rofi/fzf"},
    {"show", cmd_show, "show ID [--json]   one entry in full"},
    {"decode", cmd_decode, "decode ID   the raw content on stdout"},
    {"copy", cmd_copy, "copy ID   put an entry back on the clipboard (wl-copy or xclip)"},
    {"delete", cmd_delete, "delete ID...   remove entries"},
    {"pin", cmd_pin, "pin ID...   keep entries whatever the retention limits"},
    {"unpin", cmd_pin, "unpin ID..."},
    {"tag", cmd_tag, "tag ID TAG [--remove]"},
    {"pause", cmd_pause, "pause   stop storing clips (clipseek store and capture skip them)"},
    {"resume", cmd_pause, "resume"},
    {"stats", cmd_stats, "stats [--json]   counts and sizes"},
    {"check", cmd_stats, "check [--integrity] [--json]   missing and orphan blobs, SQLite integrity_check"},
    {"gc", cmd_gc, "gc   remove orphan blob files"},
};

static void usage(FILE *f) {
    fputs("usage: clipseek COMMAND [options]\n\ncommands:\n", f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) fprintf(f, "  %s\n", commands[i].help);
    fputs("\ncommon options:\n  --threads N     threads for computing commands (also CLIPSEEK_THREADS)\n"
          "  --device D      where computing commands run: auto (a GPU if there is one), cpu, vulkan, vulkan:N\n"
          "                  (also CLIPSEEK_DEVICE, or device = in the config)\n"
          "  --dtype f32|f16|q8  the weights the towers keep: on the CPU f32, f16 or q8 (8-bit blocks; default\n"
          "                  per tower, docs/performance.md), on a GPU f32 or f16 (f16 also for q8); stored\n"
          "                  with the model by `model use`\n"
          "  --data-dir DIR  the history's folder (also CLIPSEEK_DATA_DIR; default $XDG_DATA_HOME/clipseek)\n", f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return CLI_OK;
    }
    /* --threads is accepted anywhere; strip it before the subcommand parses its own options */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data-dir")) {
            if (i + 1 >= argc || !argv[i + 1][0]) return cli_usage("--data-dir needs a folder");
            cli_data_dir_opt = argv[++i];
            continue;
        }
        if (!strcmp(argv[i], "--device")) {
            int kind, idx;
            if (i + 1 >= argc || be_parse_device(argv[i + 1], &kind, &idx, NULL))
                return cli_usage("--device is auto, cpu, vulkan or vulkan:N");
            cli_device = argv[++i];
            continue;
        }
        if (!strcmp(argv[i], "--dtype")) {
            if (i + 1 >= argc || clip_dtype_parse(argv[i + 1], &cli_dtype, NULL) || cli_dtype == CLIP_DTYPE_DEFAULT)
                return cli_usage("--dtype is f32, f16 or q8 (the weights the towers keep; a GPU keeps f16 for q8)");
            cli_f32 = !strcmp(argv[++i], "f32");
            continue;
        }
        if (!strcmp(argv[i], "--threads")) {
            if (i + 1 >= argc || cli_parse_int(argv[i + 1], 1, 1024, &cli_threads))
                return cli_usage("--threads needs a number from 1 to 1024");
            i++;
            continue;
        }
        argv[n++] = argv[i];
    }
    argc = n;
    argv[argc] = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    if (!strcmp(argv[1], "x11-own-files")) return cmd_x11_own_files(argc - 1, argv + 1); /* internal, for copy */
    return cli_usage("unknown command '%s'", argv[1]);
}
