/* front_proto: the wire format between the front binary (front.c) and the engine server that a
 * running daemon keeps (front_server.h), on <data dir>/engine.sock (AF_UNIX stream, 0600).
 *
 * Request, front -> server: one sendmsg carrying a front_hello and, as SCM_RIGHTS, four file
 * descriptors: the front's stdin, stdout, stderr and its working directory (O_PATH); then
 * hello.len bytes: the umask, argc and envc as three uint32_t, then argc + envc strings, each
 * NUL-terminated (argv[0..argc), then the environment).
 * Reply, server -> front: the command's pid (int32_t) once it runs, then its wait status
 * (int32_t, as waitpid gives it), then the server closes the connection. No pid (the connection
 * closes first): the command did not start, so the front may run the engine itself. */
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

#endif
