/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_LRUMAP_H
#define TLSGUARD_LRUMAP_H

/*
 * lrumap - a bounded hash map that forgets its least recently used entries, for tables whose
 * keys strangers choose: the daemon's peer history (store/peers.c) and DNS cache
 * (dns/resolver.c).
 *
 * Intrusive: the caller embeds an lrumap_node in its own entry, owns the entry's memory and
 * compares keys (lrumap_find() takes a predicate). Buckets are chained, hashed with
 * hash_bytes() under the map's key, and double as the entries grow, up to one bucket per
 * entry of `max`: a map never holds more buckets than that, whatever comes in.
 *
 * Eviction: every entry sits in one of LRUMAP_TIERS recency lists, chosen by the caller at
 * insert and at each touch. lrumap_victim() names the least recently used entry of the
 * lowest non-empty tier that the caller's predicate lets go: a caller puts what matters
 * most in the highest tier (the peer map: peers whose history can detect a downgrade), so
 * a flood of new entries pushes out only other new entries. The map never frees anything
 * itself: the caller removes the victim and frees it.
 *
 * Never fails: out of memory aborts (xalloc.h). Not thread-safe: the caller locks. Pure: no
 * I/O.
 */

#include <stddef.h>
#include <stdint.h>

#include "hash.h"

#define LRUMAP_TIERS 2

typedef struct lrumap_node {
    struct lrumap_node *chain;        /* next in the bucket */
    struct lrumap_node *older, *newer; /* neighbours in the tier's recency list */
    uint64_t hash;
    unsigned tier;
} lrumap_node;

typedef struct lrumap {
    hash_key key;
    lrumap_node **buckets;
    size_t nbuckets; /* 0 or a power of two */
    size_t n;        /* entries */
    size_t max;      /* the cap the caller enforces with lrumap_victim(); >= 1 */
    lrumap_node *oldest[LRUMAP_TIERS], *newest[LRUMAP_TIERS];
    size_t tier_n[LRUMAP_TIERS];
} lrumap;

/* An empty map hashing under `key` that sizes its buckets for up to `max` entries. */
void lrumap_init(lrumap *m, const hash_key *key, size_t max);
/* Changes the cap (e.g. at reload); the caller evicts down to it. */
void lrumap_set_max(lrumap *m, size_t max);
/* The hash of a key, for lrumap_find() and lrumap_insert(). */
uint64_t lrumap_hash(const lrumap *m, const void *key, size_t len);

/* The entry with hash `hash` for which same(node, arg) is true, or NULL. */
lrumap_node *lrumap_find(const lrumap *m, uint64_t hash,
                         int (*same)(const lrumap_node *node, const void *arg), const void *arg);
/* Adds `node` (not in the map) as the newest of `tier`. Never evicts: call lrumap_victim()
 * first while m->n >= m->max. */
void lrumap_insert(lrumap *m, lrumap_node *node, uint64_t hash, unsigned tier);
/* Makes `node` the newest of `tier` (it may change tier). */
void lrumap_touch(lrumap *m, lrumap_node *node, unsigned tier);
/* Unlinks `node`; the caller frees it. */
void lrumap_remove(lrumap *m, lrumap_node *node);
/* The least recently used entry of the lowest tier for which may_go(node) is true (NULL:
 * any), or NULL if none may go. */
lrumap_node *lrumap_victim(const lrumap *m, int (*may_go)(const lrumap_node *node));
/* The longest bucket chain (for tests and the bench). */
size_t lrumap_longest_chain(const lrumap *m);
/* Frees the buckets; the caller has removed (or frees, walking oldest[]) every entry first. */
void lrumap_free(lrumap *m);

#endif
