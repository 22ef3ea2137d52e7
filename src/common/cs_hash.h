/* cs_hash: a 64-bit FNV-1a hash of bytes, for the in-memory hash tables (vocabularies, caches)
 * and for names derived from a path (the converted-weights cache). Not for anything an attacker
 * picks the input of where collisions matter: it is fast, not keyed. */
#ifndef CS_HASH_H
#define CS_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a over n bytes at p (n == 0: the offset basis). Stable across runs and builds: a value
 * written into a file name stays valid. */
uint64_t cs_hash(const void *p, size_t n);

#endif
