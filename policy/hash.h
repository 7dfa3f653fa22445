/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_HASH_H
#define TLSGUARD_HASH_H

/*
 * hash - the one hash function of tlsguard's tables: SipHash-1-3 under a 128-bit key.
 *
 * Whoever can choose the keys of a table (a sending peer picks its address and name, a
 * sender picks the domains tlsguard looks up) could otherwise pick keys that all land in one
 * bucket and make every lookup walk them. Under a secret key chosen at random per process
 * (the daemon draws it with getrandom(), store/peers.c and dns/resolver.c) nobody
 * outside can compute where a key lands. SipHash-1-3 is the variant Rust's and Python's
 * tables use: keyed, fast on short inputs, and no known way to find collisions without the
 * key. A table whose keys come only from the postmaster's own files may use a fixed key.
 *
 * Pure: no I/O, no randomness of its own. Thread-safe (no state).
 */

#include <stddef.h>
#include <stdint.h>

typedef struct hash_key {
    uint64_t k0, k1;
} hash_key;

/* SipHash-1-3 of data[0..len) under `key`. */
uint64_t hash_bytes(const hash_key *key, const void *data, size_t len);

#endif
