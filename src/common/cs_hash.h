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

/* A slot in 0..mask (mask + 1 a power of two) for an integer key such as an entry id, for open
 * addressing: Fibonacci hashing (the golden-ratio multiple's high bits), so consecutive ids
 * spread. */
static inline size_t cs_hash_slot(int64_t key, size_t mask) {
    return (size_t)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> 17) & mask;
}

#endif
