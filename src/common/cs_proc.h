/* cs_proc: starting helper programs (wl-paste, xdg-open) and finding them on PATH.
 *
 * The child's side between fork and exec only calls async-signal-safe functions, so these are
 * safe in a process with threads. */
#ifndef CS_PROC_H
#define CS_PROC_H

#include <sys/types.h>

/* 1 if an executable named name is in a directory of $PATH, else 0 (also with no PATH). */
int cs_proc_have(const char *name);

/* Starts argv[0] (looked up on PATH) with argv, its stderr on a pipe whose read end (close on
 * exec) goes to *errfd; the caller reads it, closes it and reaps the child with waitpid. If the
 * program cannot be run the child says why on that pipe and exits 127. Returns the pid, or -1
 * with errno set (nothing to close then). */
pid_t cs_proc_spawn_stderr_pipe(char *const argv[], int *errfd);

/* Starts argv[0] (looked up on PATH) fully detached: forked twice, so it is never our zombie,
 * stdout and stderr on /dev/null. Returns 0, or -1 with errno set if the first fork failed (a
 * program that cannot be run is not reported). */
int cs_proc_detach(char *const argv[]);

/* How many of want threads could run at once now without waiting for a CPU: the online CPUs less
 * the other processes' tasks that are running or waiting to run at this instant (the kernel's
 * count in /proc/loadavg, less this process's own running threads), at least 1 and at most want.
 * want when that count cannot be read. Cheap (one small read while nothing else runs, one per
 * thread of this process otherwise): to be asked before each burst of parallel work. */
int cs_proc_cpus_free(int want);

#endif
