/* cfgwatch: notices when the config file changes, so the daemon can reload it (daemon.h: reload).
 *
 * Watches the file's folder with inotify, not the file itself: editors save by writing a new file
 * and renaming it over the old one (vim, most GUI editors), which a watch on the file would lose
 * with the old inode. Events that count: the file closed after writing, renamed into place or
 * away, or removed (a removed file means the defaults). A write still in progress is not an
 * event (IN_MODIFY is not watched), so a reload never reads half a file written by a program that
 * closes it when done. The folder is created (0700) if missing, so a config written later is seen.
 * Not thread-safe: one thread polls cfgwatch_fd and calls cfgwatch_changed. */
#ifndef CFGWATCH_H
#define CFGWATCH_H

#include "../common/cs_err.h"

typedef struct cfgwatch cfgwatch;

/* Starts watching path's folder. Returns 0 and *out (free with cfgwatch_close), or -1 with err
 * (inotify unavailable or out of watches, the folder cannot be made). */
int cfgwatch_open(const char *path, cfgwatch **out, cs_err *err);

/* The descriptor to poll for POLLIN. */
int cfgwatch_fd(const cfgwatch *w);

/* Reads every pending event without blocking. Returns 1 if one concerned the file, else 0. */
int cfgwatch_changed(cfgwatch *w);

/* Stops watching; NULL is a no-op. */
void cfgwatch_close(cfgwatch *w);

#endif
