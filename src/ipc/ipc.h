/* ipc: the daemon's control socket, both halves: <data dir>/daemon.sock (AF_UNIX stream, mode
 * 0600), one request line in, one reply line out, then the server closes the connection. The
 * requests themselves (PING, STATUS, SEARCH ...) are the daemon's: daemon.h lists them.
 *
 * Server: ipc_listen claims the socket (refusing if a daemon already answers on it, replacing a
 * stale one nobody answers on); ipc_serve accepts until *stop is set and answers each connection
 * of a process of this user (any other is closed unanswered) in a thread of its own, since some requests block (INDEX-WAIT); ipc_join waits for those
 * threads, so that the caller frees what its handler uses only once no connection uses it. */
#ifndef IPC_H
#define IPC_H

#include <stdatomic.h>
#include <stddef.h>

#include "../common/cs_err.h"

/* Client: sends one request line to the daemon of data_dir and reads the reply line (without
 * its newline) into buf. Returns 0, 1 if no daemon answers (nothing listens on the socket), -1
 * on a protocol error (the daemon went away, or no reply within timeout_ms; <= 0 waits
 * forever). */
int ipc_request(const char *data_dir, const char *req, char *buf, size_t n, int timeout_ms);

typedef struct ipc_server ipc_server;

/* Binds <data_dir>/daemon.sock. Fails if a daemon already answers PING there (CS_EFAIL: waiting
 * would not help), with CS_EINVAL if the path is too long for a socket, CS_EIO if it cannot be
 * bound. */
int ipc_listen(const char *data_dir, ipc_server **out, cs_err *err);

/* The socket's path (borrowed from srv, valid until ipc_close). */
const char *ipc_path(const ipc_server *srv);

/* A handler's answer to one request line (line is borrowed, without its newline): *reply gets a
 * malloc'd reply line (NULL: "ERR out of memory" is sent), or, with *reply_len set (it starts at
 * 0), *reply_len bytes sent as they are, no newline added (a reply whose own header says how long
 * it is: the front's CLI request, front_proto.h). Returns IPC_STOP to have the server set *stop
 * once the reply is written (the STOP request), else IPC_CONTINUE. Runs on the connection's
 * thread, so handlers run concurrently. */
enum { IPC_CONTINUE = 0, IPC_STOP = 1 };
typedef int (*ipc_handler)(void *arg, const char *line, char **reply, size_t *reply_len);

/* How long a connection's thread waits for the request line, and for room to write its reply:
 * a client too slow for either gets its turn cut short, so ipc_join never waits on it for long. */
#define IPC_IO_TIMEOUT_MS 5000

/* Accepts connections until *stop is nonzero (looked at every 200 ms) and answers each with
 * handler. Returns when stopping, without waiting for connections still being answered: the
 * caller first ends what their handlers may block on (INDEX-WAIT waits for the index worker),
 * then calls ipc_join. */
void ipc_serve(ipc_server *srv, ipc_handler handler, void *arg, atomic_int *stop);

/* Waits for every connection's thread accepted by ipc_serve (after ipc_serve has returned): each
 * reads its request for at most IPC_IO_TIMEOUT_MS, runs the handler, and writes the reply within
 * IPC_IO_TIMEOUT_MS, so the wait is bounded by the slowest handler. NULL is a no-op. */
void ipc_join(ipc_server *srv);

/* Waits for the connections (ipc_join), closes the socket and removes its file. NULL is a no-op. */
void ipc_close(ipc_server *srv);

#endif
