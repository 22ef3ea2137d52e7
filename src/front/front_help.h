/* front_help: clipseek's command list and its help texts, shared by the front binary (which prints
 * them without starting the engine) and the engine's main.c (which dispatches on the same names).
 * Plain data and stdio: this file must link against libc alone (the front's ldd test checks it). */
#ifndef FRONT_HELP_H
#define FRONT_HELP_H

#include <stdio.h>

/* A command: its name, a summary for `clipseek help` (fits one 80-column line after the name) and
 * its usage for `clipseek COMMAND --help` (lines of at most 80 columns; a test checks both). */
typedef struct front_command {
    const char *name;
    const char *summary;
    const char *usage;
} front_command;

#ifndef CLIPSEEK_VERSION
#define CLIPSEEK_VERSION "0.1.0"
#endif

extern const front_command front_commands[];
extern const int front_ncommands;

/* The command named name, or NULL. */
const front_command *front_find(const char *name);

/* Writes `clipseek help`'s text (every command's summary, then the common options) to f. */
void front_usage(FILE *f);

/* Prints "usage: clipseek " + name's usage on stdout. Returns 0, 1 if stdout failed. name must be
 * a command (front_find). */
int front_print_usage(const front_command *c);

/* What the command line's first word alone decides: no command (usage on stderr, returns 2),
 * --version / -V / version (returns 0), help / --help / -h [COMMAND] (returns 0, 1 if stdout
 * failed for a COMMAND's usage). Returns -1 for anything else. */
int front_answer_help(int argc, char **argv);

/* The common options, accepted anywhere on a command line and each followed by its value, in this
 * order: the engine's main.c applies them, the front finds the command word and the data
 * directory past them; one list, so the two cannot disagree on what a command line says. */
enum { FRONT_OPT_DATA_DIR, FRONT_OPT_DEVICE, FRONT_OPT_DTYPE, FRONT_OPT_THREADS, FRONT_NOPTS };
/* Which common option arg is (FRONT_OPT_*), or -1. */
int front_common_option(const char *arg);

/* Prints "clipseek VERSION" on stdout. */
void front_print_version(void);

#endif
