/* pickle: a restricted reader of the Python pickles inside PyTorch checkpoints. Nothing in the
 * file is ever run: the reader builds a tree of plain values, and a call to one of the few allowed
 * globals is recorded as a PK_CALL node for the caller (torch.c) to interpret as data.
 *
 * Terms: opcodes are those of pickle protocols 2-5 that torch.save and Python's pickler emit for
 * a state dict (dicts, lists, tuples, ints, floats, strings, memo, MARK, GLOBAL/STACK_GLOBAL,
 * REDUCE, BUILD, BINPERSID). Any other opcode is refused with its byte offset.
 *
 * Allowed globals (anything else, e.g. posix.system or __builtin__.eval, is refused with an error
 * naming it, at the GLOBAL opcode, before any argument is even read):
 *   collections.OrderedDict            REDUCE with () gives an empty PK_DICT (a plain mapping here)
 *   torch._utils._rebuild_tensor_v2    REDUCE gives PK_CALL {callee, args}
 *   torch._utils._rebuild_parameter    REDUCE gives PK_CALL {callee, args}
 *   torch.<T>Storage                   only as data (inside a persistent id); never called
 *
 * Bounds: the value stack, the MARK stack, memo indices, the number of values and string lengths
 * are all capped; every length is checked against the bytes left, so a truncated pickle is an
 * error naming the byte offset. The nesting depth (PK_MAX_DEPTH) is checked as each item goes into
 * a container, from the item's depth at that moment: a memoised container filled after it was
 * nested can end up deeper than the cap. That is no hazard, because no recursion is used anywhere
 * (nothing walks values recursively), so a hostile pickle cannot exhaust the C stack either way.
 *
 * Ownership: all values belong to the pk_doc and live until pk_free; strings are NUL-terminated
 * copies. Threading: none; a pk_doc is immutable after pk_load. */
#ifndef PICKLE_H
#define PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"

#define PK_MAX_DEPTH 64    /* containers inside containers */
#define PK_MAX_STACK 16384 /* values on the stack at once (Python batches SETITEMS by 1000) */
#define PK_MAX_MARKS 256   /* open MARKs */
#define PK_MAX_MEMO  (1u << 22)

typedef enum {
    PK_NONE,
    PK_BOOL,
    PK_INT,
    PK_BIGINT,
    PK_FLOAT,
    PK_STR,
    PK_BYTES,
    PK_TUPLE,
    PK_LIST,
    PK_DICT,
    PK_GLOBAL,
    PK_CALL,
    PK_PERSID
} pk_type;

/* The allowed globals (PK_GLOBAL's `g`). */
typedef enum {
    PK_G_ORDERED_DICT,
    PK_G_REBUILD_TENSOR_V2,
    PK_G_REBUILD_PARAMETER,
    PK_G_FLOAT_STORAGE,
    PK_G_HALF_STORAGE,
    PK_G_BFLOAT16_STORAGE,
    PK_G_DOUBLE_STORAGE,
    PK_G_LONG_STORAGE,
    PK_G_INT_STORAGE,
    PK_G_SHORT_STORAGE,
    PK_G_CHAR_STORAGE,
    PK_G_BYTE_STORAGE,
    PK_G_BOOL_STORAGE
} pk_global;

typedef struct pk_val pk_val;
struct pk_val {
    pk_type type;
    int64_t i;     /* PK_INT, PK_BOOL */
    double f;      /* PK_FLOAT */
    const char *s; /* PK_STR, PK_BYTES, PK_BIGINT (little-endian two's complement bytes),
                         * PK_GLOBAL ("module.name"); NUL-terminated */
    size_t len;    /* bytes of s */
    pk_global g;   /* PK_GLOBAL */
    pk_val **v;    /* PK_TUPLE/PK_LIST: items; PK_DICT: key, value, key, value...;
                         * PK_CALL: {callee PK_GLOBAL, args PK_TUPLE}; PK_PERSID: {pid} */
    size_t n, cap;
    int depth; /* 0 for a scalar */
};

typedef struct pk_doc pk_doc;

/* Reads one pickle from buf (up to and including its STOP opcode). *root is the value STOP
 * returned (borrowed from the doc); *used (optional) the bytes read. On failure returns -1 with a
 * message "label: pickle ...: ..." naming the byte offset and the problem (a refused global by
 * name, an unsupported opcode, truncation, a bound exceeded). Caller frees *out with pk_free. */
int pk_load(const unsigned char *buf, size_t len, const char *label, pk_doc **out, const pk_val **root, size_t *used,
            cs_err *err);
void pk_free(pk_doc *d); /* NULL is a no-op */

/* A value's type as a word, for messages ("dict", "tuple", ...). */
const char *pk_type_name(pk_type t);

#endif
