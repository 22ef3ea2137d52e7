/* cli: the `clipseek` command table (main.c) and the helpers shared by subcommands
 * (cli_common.c; loading a model: cli_device.c).
 *
 * Exit codes: 0 success, 1 runtime failure (the message says why), 2 usage error, 75 busy (the
 * store was locked by another process for too long: trying again later may work; sysexits'
 * EX_TEMPFAIL). Errors go to stderr as "clipseek: <message>"; stdout carries only results, so it
 * can be piped. */
#ifndef CLI_H
#define CLI_H

#include <stdint.h>
#include <stdio.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_BUSY = 75 };

/* main.c: runs one command line (argv[argc] is NULL; argv is rewritten) and returns its exit
 * status; main calls it, and so does the daemon's engine server in each of its children. */
int cli_main(int argc, char **argv);

/* Prints "clipseek: " + message to stderr. Returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct cs_err;
/* Prints "clipseek: " + e's message to stderr. Returns the exit code for its cs_err code: the one
 * place a library error becomes an exit status (CS_EBUSY: CLI_BUSY; anything else CLI_FAIL). */
int cli_fail_err(const struct cs_err *e);
/* Prints a usage error and returns CLI_USAGE. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a positive int option value; returns 0 or -1. */
int cli_parse_int(const char *s, int lo, int hi, int *out);

/* The thread count from --threads (0 if absent): picked up by every computing command. */
extern int cli_threads;
/* --device and --dtype (cli_device.c): where the towers run, for every computing command.
 * cli_f32: a GPU keeps F32 weights (--dtype f32). cli_dtype: CLIP_DTYPE_* for the CPU (--dtype
 * f32|f16|q8; else the dtype stored by `model use`, which cli_model_dir applies, else per tower). */
extern const char *cli_device;
extern int cli_f32;
extern int cli_dtype;
struct clip_params;
struct clip_ctx;
struct cs_err;
/* clip_params with threads, the device (--device, else CLIPSEEK_DEVICE, else the config's
 * `device =`, else auto) and --dtype. */
struct clip_params cli_clip_params(int threads);
/* clip_load with cli_clip_params(threads); says on stderr (one line) why an asked device is not used. */
int cli_clip_load(const char *dir, int threads, struct clip_ctx **c, struct cs_err *e);
/* The same with the caller's params (from cli_clip_params, then adjusted: no_tokenizer...). */
int cli_clip_load_params(const char *dir, const struct clip_params *p, struct clip_ctx **c, struct cs_err *e);
void cli_device_say(const struct clip_ctx *c);
/* Prints "LABEL device (driver), precision, memory" and, if any, why an asked device is not used. */
void cli_device_print(const struct clip_ctx *c, const char *label);
/* --data-dir, if given (else CLIPSEEK_DATA_DIR, $XDG_DATA_HOME/clipseek, ~/.local/share/clipseek). */
extern const char *cli_data_dir_opt;

/* The data directory in effect (malloc'd), or NULL if none can be determined. */
char *cli_data_dir(void);
struct store;
/* Opens the store in the data directory; prints the error and returns NULL on failure. */
struct store *cli_open_store(void);

int cmd_tokenize(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_add(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_wl_event(int argc, char **argv);
/* internal: serves a files entry on the X11 CLIPBOARD for `copy` (cli_x11own.c); not in the help */
int cmd_x11_own_files(int argc, char **argv);
/* cli_history.c */
int cmd_pause(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_clear(int argc, char **argv);
int cmd_undo(int argc, char **argv);
int cmd_edit(int argc, char **argv);
int cmd_export(int argc, char **argv); /* export and import */
/* import --from copyq FILE: a CopyQ tab file's items through the ingest chain, oldest first */
int cli_import_copyq(const char *path);
/* "10m", "2h", "7d", "1w" (minutes, hours, days, weeks) into *ms; 0, or -1 when not a duration. */
int cli_parse_duration(const char *s, int64_t *ms);
/* One line for humans about capture's pause state into buf; returns 1 when paused until resumed
 * (for good), -1 when the flag cannot be read, else 0. */
int cli_pause_line(struct store *s, char *buf, size_t n);
int cmd_list(int argc, char **argv);
int cmd_pick(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_pin(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_copy(int argc, char **argv);
struct paste_target;
/* Puts entry id_text on the clipboard; with paste, gives the focus back to t (NULL: stays where it
 * is) and types keys there (paste.h: paste_keys). Prints the error; returns CLI_OK/FAIL/USAGE. */
int cli_copy_paste(const char *id_text, int paste, const struct paste_target *t, const char *keys);
/* popup [--picker P] [--keys K] [--no-paste] [-- PICKER-ARGS]: pick an entry, paste it (cli_popup.c) */
int cmd_popup(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_organize(int argc, char **argv);
int cmd_similar(int argc, char **argv);
struct json_t;
void cli_print_json(struct json_t *j);
int cmd_doctor(int argc, char **argv);
int cmd_reload(int argc, char **argv);
/* Asks a running daemon to finish indexing: CLI_OK/CLI_FAIL, or -1 when no daemon runs. */
int cli_daemon_index_wait(void);
int cli_model_use(int argc, char **argv);
/* BERT-family sentence-transformers folders (cli_text.c), chosen when stm_detect(dir) says so:
 * tokenize (lines from `from` to ids per line; maxlen 0 = no truncation), embed
 * (texts[i] of lens[i] bytes; f32 1 = raw float32 output, else one JSON array per line), info. */
int cli_text_tokenize(const char *dir, const char *from, int maxlen);
int cli_text_embed(const char *dir, const char *const *texts, const size_t *lens, size_t n, int norm, int f32);
int cli_text_info(const char *dir, int json);
/* Checks that text model `tdir` embeds into CLIP model `cdir`'s space (its sentence embedding has
 * the CLIP projection's size). Loads headers only. Returns 0 or -1 with *e. */
int cli_text_check_space(const char *tdir, const char *cdir, struct cs_err *e);
/* Checks that dir is a sentence-transformers model that loads (a text embedder). 0, or -1 with *e. */
int cli_text_check_embedder(const char *dir, struct cs_err *e);
struct store;
struct stm_ctx;
/* The text model set by `model use ... --text-model` (or $CLIPSEEK_TEXT_MODEL), loaded; *out is
 * NULL when none is set. Returns 0, or -1 with *e when the one set cannot be loaded. */
int cli_text_query_model(struct store *s, struct stm_ctx **out, struct cs_err *e);
/* The text embedder's folder (docs/text-models.md): $CLIPSEEK_TEXT_EMBEDDER, else `model use ...
 * --text-embedder`'s, else the config's `text_embedder =`; malloc'd, NULL when none is set. */
char *cli_text_embedder_dir(struct store *s);
/* That embedder, loaded, and its vectors' model id (*id malloc'd); both NULL when none is set.
 * Returns 0, or -1 with *e when the folder set is no sentence-transformers model or does not load. */
int cli_text_embedder(struct store *s, struct stm_ctx **out, char **id, struct cs_err *e);
/* bert_params from the same flags and settings as cli_clip_params. */
struct bert_params cli_bert_params(int threads);
int cli_model_list(int argc, char **argv);
int cli_model_fetch(int argc, char **argv);
struct hub_model;
/* What a CLIP folder needs besides the weights (clip_load reads these). */
#define CLI_N_CLIP_FILES 3
extern const char *const cli_clip_files[CLI_N_CLIP_FILES];
/* repo's CLIP snapshot in the Hugging Face cache (no network): 0 and *m filled, or -1. */
int cli_hub_cached(const char *repo, struct hub_model *m);
/* Prints where the model folder came from: a "source" line, or with json a ",\n \"source\": ..."
 * member to close an object with. */
void cli_model_origin(const char *dir, int json);
/* The model folder in use (malloc'd) or NULL; opt is a --model value or NULL. */
char *cli_model_dir(struct store *s, const char *opt);
/* Embeds every entry that lacks vectors for the model in use. */
int cli_index_all(struct store *s, const char *model_opt, int quiet);
struct clip_ctx;
/* Runs the organiser until it has nothing left: text kinds, OCR (with_ocr), and with a model
 * (c may be NULL) categories, near-duplicates, collections and category rules. */
int cli_organise(struct store *s, struct clip_ctx *c, const char *model_id, int with_ocr, int quiet);
int cmd_collections(int argc, char **argv);
int cmd_web(int argc, char **argv);

#endif
