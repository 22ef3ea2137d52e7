/* front_help: the command list and help texts (front_help.h). */
#include "front_help.h"

#include <string.h>

const front_command front_commands[] = {
    {"daemon", "capture, index, serve the CLI and the web page",
     "daemon [--no-x11] [--primary] [--model DIR] [--web-port N]\n"
     "       [--no-web] [--need-capture]\n"
     "  Captures the clipboard (X11 and/or Wayland), indexes new clips and serves\n"
     "  the web page on loopback. --need-capture: no display to capture from is an\n"
     "  error (exit 1), as the systemd unit wants."},
    {"reload", "the running daemon reads the config again",
     "reload\n"
     "  The running daemon reads its config again (as on SIGHUP, and when the file\n"
     "  changes). A config that does not load is refused with the reason; the\n"
     "  daemon keeps the settings it had."},
    {"status", "capture (paused or not), entries, trash",
     "status [--json]\n"
     "  Whether capture is paused (and until when), the entry count, and what\n"
     "  `undo` would bring back. --json: paused, paused_until_ms, skip_next..."},
    {"pause", "stop storing clips: for a while, until resume, or the next copy",
     "pause [DURATION | --next]\n"
     "  DURATION: 10m, 2h, 1d, 1w (minutes, hours, days, weeks); capture resumes by\n"
     "  itself after it, also across restarts. No DURATION: until `resume`.\n"
     "  --next: store everything but the next copy (e.g. before copying a password)."},
    {"resume", "store clips again (ends a pause, cancels pause --next)", "resume"},
    {"list", "entries, newest first",
     "list [--kind K] [--collection C] [--category C]\n"
     "     [--duplicates-of ID] [--limit N] [--pinned] [--json] [--reveal]\n"
     "  Secrets are masked (8 bullets) unless --reveal."},
    {"search", "by words and by meaning; no matches: status 1",
     "search QUERY [--kind K] [--since 3d] [--collection C]\n"
     "       [--category C] [--limit N] [--json] [--format tsv] [--image FILE]\n"
     "       [--reveal]\n"
     "  A QUERY that starts with '-' goes after --.\n"
     "  Full-text and meaning search (with a model). No matches: exit status 1.\n"
     "  Secrets are masked unless --reveal."},
    {"pick", "ID<TAB>preview lines for dmenu/rofi/fzf",
     "pick [--kind K] [--limit N] [--pinned] [--reveal]\n"
     "  One line per entry: ID<TAB>preview, for dmenu, rofi or fzf. Secrets are\n"
     "  masked unless --reveal."},
    {"show", "one entry in full",
     "show ID [--json] [-v]\n"
     "  The entry's text, kind, size, source, tags and collection; -v adds the\n"
     "  sha256 and the blob path."},
    {"decode", "the raw content on stdout", "decode ID"},
    {"copy", "put an entry back on the clipboard (and paste it)",
     "copy ID [--paste [--keys ctrl+v]]\n"
     "  Puts the entry on the clipboard through wl-copy (Wayland) or xclip (X11).\n"
     "  --paste also pastes it into the focused window (xdotool, wtype); --keys:\n"
     "  the keys that paste there (default ctrl+v)."},
    {"popup", "pick an entry at the pointer and paste it (bind to a hotkey)",
     "popup [--picker rofi|fuzzel|wofi] [--keys K] [--no-paste]\n"
     "      [-- ARGS]\n"
     "  Opens a picker at the pointer and pastes the chosen entry into the window\n"
     "  that had the focus (bind it to a hotkey). --no-paste: only copy it.\n"
     "  ARGS go to the picker."},
    {"edit", "edit a text entry in $VISUAL / $EDITOR",
     "edit ID\n"
     "  Opens the text in $VISUAL, else $EDITOR, else vi (a private 0600 file) and\n"
     "  saves what you write as the entry's text; it is indexed again."},
    {"delete", "remove entries (undo brings them back)",
     "delete ID...\n"
     "  The entries go to the trash for 24 hours: `undo` brings them back. Secrets\n"
     "  are deleted for good at once."},
    {"clear", "delete many entries at once (asks first)",
     "clear [--older-than AGE] [--kind K] [--include-pinned] [--yes]\n"
     "  Deletes every entry, or those last copied longer ago than AGE (30m, 12h, 7d,\n"
     "  2w) and/or of kind K. Pinned entries are kept unless --include-pinned.\n"
     "  Asks on a terminal; without one it needs --yes. `undo` brings them back."},
    {"undo", "bring back what the last delete or clear removed",
     "undo\n"
     "  Brings back the entries of the last `delete` or `clear` (within 24 hours)."},
    {"pin", "keep entries whatever the retention limits", "pin ID..."},
    {"unpin", "let retention remove entries again", "unpin ID..."},
    {"tag", "add or remove a tag", "tag ID TAG [--remove]"},
    {"add", "import files, folders or stdin",
     "add [--wait] [--images-only] [--ext png,jpg] FILE...|DIR...|-\n"
     "  Imports files, folders (recursively) or stdin; --wait also indexes them.\n"
     "  --images-only: only files whose content is an image; --ext: only files\n"
     "  with one of these extensions (any case)."},
    {"export", "write the history to a portable archive file",
     "export FILE\n"
     "  Writes entries, images, tags, pins and collections to FILE (one SQLite\n"
     "  file, 0600), a consistent copy even while the daemon runs. Secrets and the\n"
     "  trash are left out."},
    {"import", "merge an archive made by export into this history",
     "import FILE | import --from copyq FILE\n"
     "  Adds the archive's entries that are not here yet (same content = same\n"
     "  entry), with their times, tags, pins and collections; all or nothing.\n"
     "  --from copyq: a CopyQ tab file (~/.config/copyq/copyq_tab_*.dat), its\n"
     "  text and images, oldest first; content already here is bumped."},
    {"web", "a one-time login URL for the web page",
     "web [--open] [--port N] [--logout-all]\n"
     "  Prints a one-time login URL for the web page (opens it with --open); serves\n"
     "  the page if no daemon does. --logout-all ends every session."},
    {"doctor", "OK/WARN/FAIL per check; exit 1 on any FAIL",
     "doctor [--json]\n"
     "  OK/WARN/FAIL per check: daemon, capture, pause, store, model, config, web.\n"
     "  Exit status 1 on any FAIL."},
    {"index", "embed every entry that has no vectors yet",
     "index [--wait] [--model DIR]\n"
     "  Embeds every entry that has no vectors yet (in the foreground)."},
    {"similar", "entries that mean something close", "similar ID [--kind K] [--limit N] [--json]"},
    {"organize", "text kinds, OCR, categories, duplicates, collections",
     "organize [--no-ocr]\n"
     "  Runs now: text kinds, text in images, categories, near-duplicates,\n"
     "  collections and the category rules."},
    {"collections", "automatic and named groups", "collections [--json] | rename C NAME | merge FROM INTO"},
    {"stats", "counts and sizes", "stats [--json]"},
    {"check", "missing and orphan blobs, SQLite integrity_check", "check [--integrity] [--json]"},
    {"gc", "remove orphan files, expired trash", "gc"},
    {"model", "model info, use, list, fetch",
     "model info DIR [--json]\n"
     "                            architecture, sizes, parameters, dtype, memory\n"
     "  model use DIR|REPO        the model indexing and searches use (REPO: from\n"
     "                            the Hugging Face cache)\n"
     "      [--dtype f32|f16|q8]  the weights it keeps on the CPU\n"
     "      [--text-model DIR|REPO]      queries in any language, into CLIP's space\n"
     "      [--text-embedder DIR|REPO | --no-text-embedder]\n"
     "                            text clips also in a sentence model's own space\n"
     "  model list [--available]  models here; --available: a catalogue\n"
     "  model fetch [REPO] [--revision R]   download a CLIP or sentence-transformers\n"
     "                            model into the Hugging Face cache\n"
     "                            (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE)"},
    {"store", "store one clip from stdin (for wl-paste --watch)",
     "store [--type MIME]\n"
     "  Stores one clip from stdin (for wl-paste --watch; honours CLIPBOARD_STATE)."},
    {"wl-event", "one Wayland selection event (run by the daemon)",
     "wl-event\n"
     "  One Wayland selection event (the daemon's wl-paste --watch runs it): reads\n"
     "  the offered types, skips passwords, stores the best type."},
    {"tokenize", "texts (stdin), one per line -> token ids",
     "tokenize --model DIR [--max-length N] [--texts-from FILE]"},
    {"embed", "one embedding per input, in input order",
     "embed --model DIR (--text T | --texts-from FILE\n"
     "      | --image FILE... | --token-ids \"ID ...\" | --pixel-values FILE)\n"
     "      [--format json|f32] [--no-normalize]"},
    {"preprocess", "normalised pixels, float32 C x H x W", "preprocess --model DIR --image FILE --out FILE"},
};
const int front_ncommands = sizeof front_commands / sizeof front_commands[0];

const front_command *front_find(const char *name) {
    for (int i = 0; i < front_ncommands; i++)
        if (!strcmp(name, front_commands[i].name)) return &front_commands[i];
    return NULL;
}

void front_usage(FILE *f) {
    fputs("usage: clipseek COMMAND [options]    (clipseek COMMAND --help for its options)\n\ncommands:\n", f);
    for (size_t i = 0; i < (size_t)front_ncommands; i++)
        fprintf(f, "  %-12s %s\n", front_commands[i].name, front_commands[i].summary);
    fputs("\ncommon options:\n  --threads N     threads for computing commands (also CLIPSEEK_THREADS)\n"
          "  --device D      where computing commands run: auto (a GPU if there is one),\n"
          "                  cpu, vulkan, vulkan:N (also CLIPSEEK_DEVICE, or device =)\n"
          "  --dtype f32|f16|q8  the weights the towers keep: on the CPU f32, f16 or q8\n"
          "                  (8-bit blocks; default per tower, docs/performance.md), on a\n"
          "                  GPU f32 or f16 (f16 also for q8); stored with the model by\n"
          "                  `model use`\n"
          "  --data-dir DIR  the history's folder (also CLIPSEEK_DATA_DIR;\n"
          "                  default $XDG_DATA_HOME/clipseek)\n"
          "  --version       clipseek's version\n",
          f);
}

int front_print_usage(const front_command *c) { return printf("usage: clipseek %s\n", c->usage) < 0; }

void front_print_version(void) { printf("clipseek %s\n", CLIPSEEK_VERSION); }

int front_answer_help(int argc, char **argv) {
    if (argc < 2) {
        front_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "version")) {
        front_print_version();
        return 0;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        const front_command *c = argc > 2 ? front_find(argv[2]) : NULL;
        if (c) return front_print_usage(c);
        front_usage(stdout);
        return 0;
    }
    return -1;
}

int front_common_option(const char *arg) {
    static const char *const names[FRONT_NOPTS] = {"--data-dir", "--device", "--dtype", "--threads"};
    for (int i = 0; i < FRONT_NOPTS; i++)
        if (!strcmp(arg, names[i])) return i;
    return -1;
}
