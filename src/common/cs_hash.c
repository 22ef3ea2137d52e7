/* cs_hash: see cs_hash.h. */
#include "cs_hash.h"

uint64_t cs_hash(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64: offset basis, prime 0x100000001b3 */
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}
