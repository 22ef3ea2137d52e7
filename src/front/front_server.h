/* front_server: the engine server. `clipseek daemon` forks it before it starts any thread: a
 * single-threaded copy of the engine with every library already loaded and relocated (the
 * zygote pattern). For each request of the front binary (front_proto.h) it forks a child that
 * takes the front's stdin/stdout/stderr, working directory, umask, environment and argv and runs
 * the command through the engine's own entry point, so the output and exit status are the
 * engine's, byte for byte; the front exits with the child's status (or its signal). A fork costs
 * about a millisecond; loading the engine's 100-odd libraries costs 20-150 ms.
 *
 * It serves any data directory's commands (the child reads its own argv and environment); it
 * lives in the daemon's data directory only so that the front finds it. It ends when the daemon
 * stops it, and by itself when the daemon dies (PR_SET_PDEATHSIG). */
#ifndef FRONT_SERVER_H
#define FRONT_SERVER_H

#include <sys/types.h>

#include "../common/cs_err.h"

/* The engine's entry point: runs one command line (argv[argc] is NULL) and returns its exit
 * status. Called in a fresh child, once. */
typedef int (*front_run_fn)(int argc, char **argv);

/* Binds <data_dir>/engine.sock (replacing a stale file: the caller already holds the daemon's
 * socket, so no other server can be live there) and forks the server. Must be called while the
 * process has one thread. Returns the server's pid; -1 with err (CS_EINVAL: the path is too long
 * for a socket, CS_EIO: socket or fork failed). */
pid_t front_server_start(const char *data_dir, front_run_fn run, cs_err *err);

/* Stops the server (SIGTERM; it removes its socket) and waits for it. Commands it started run to
 * their end. pid <= 0 is a no-op. */
void front_server_stop(pid_t pid);

#endif
