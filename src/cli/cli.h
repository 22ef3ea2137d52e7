/* cli: the `clipseek` command table and helpers shared by subcommands.
 *
 * Exit codes: 0 success, 1 runtime failure (the message says why), 2 usage error. Errors go to
 * stderr as "clipseek: <message>"; stdout carries only results, so it can be piped. */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Prints "clipseek: " + message to stderr. Returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a usage error and returns CLI_USAGE. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a positive int option value; returns 0 or -1. */
int cli_parse_int(const char *s, int lo, int hi, int *out);

/* The thread count from --threads (0 if absent): picked up by every computing command. */
extern int cli_threads;

int cmd_tokenize(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_model(int argc, char **argv);

#endif
