/* front_proto: the wire format between the front binary (front.c) and the engine server that a
 * running daemon keeps (front_server.h), on <data dir>/engine.sock (AF_UNIX stream, 0600).
 *
 * Request, front -> server: one sendmsg carrying a front_hello and, as SCM_RIGHTS, four file
 * descriptors: the front's stdin, stdout, stderr and its working directory (O_PATH); then
 * hello.len bytes: the umask, argc and envc as three uint32_t, then argc + envc strings, each
 * NUL-terminated (argv[0..argc), then the environment).
 * Reply, server -> front: the command's pid (int32_t) once it runs, then its wait status
 * (int32_t, as waitpid gives it), then the server closes the connection. No pid (the connection
 * closes first): the command did not start, so the front may run the engine itself.
 *
 * The daemon's answer to a search (the front's fast path): on <data dir>/daemon.sock (the control
 * socket, ipc.h), the front sends one line, FRONT_CLI_REQUEST and a space, then the command's
 * words without the common options as a JSON array of strings, ["search", "QUERY", "--json"],
 * then a newline (the whole line at most FRONT_CLI_MAX_LINE bytes). The daemon answers
 *   OK STATUS ERRLEN OUTLEN\n  then ERRLEN bytes for stderr, then OUTLEN bytes for stdout
 * (the exit status and the bytes the engine's own `clipseek search` would give; stderr comes
 * first, as the engine writes a warning before the hits), or one line NO REASON when it leaves
 * the command to the engine (a word it does not take, --image, --model, a usage error, any
 * failure: the engine then says why, in its own words), then closes the connection. */
#ifndef FRONT_PROTO_H
#define FRONT_PROTO_H

#include <stdint.h>

#define FRONT_SOCKET      "engine.sock"
#define FRONT_MAGIC       0x31455343u /* "CSE1" little-endian: the format's version */
#define FRONT_MAX_LEN     (4u << 20)  /* argv + environment, bytes */
#define FRONT_MAX_STRINGS 65536u

typedef struct front_hello {
    uint32_t magic;
    uint32_t len;
} front_hello;

enum { FRONT_NFDS = 4 };

#define FRONT_CLI_REQUEST  "CLI"
#define FRONT_CLI_MAX_LINE  60000       /* below the control socket's 64 KiB request line */
#define FRONT_CLI_MAX_REPLY (1ull << 30) /* a header saying more is not believed */

#endif
