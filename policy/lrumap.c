/* SPDX-License-Identifier: MIT */
/*
 * lrumap - chained buckets under a keyed hash plus one doubly linked recency list per tier
 * (see lrumap.h). Every operation but the bucket doubling is O(1) plus the chain walked; the
 * doubling happens at most log2(max) times in a map's life.
 */
#include "lrumap.h"
#include "xalloc.h"

/* libc */
#include <stdlib.h>

#define FIRST_BUCKETS 64

void lrumap_init(lrumap *m, const hash_key *key, size_t max)
{
    *m = (lrumap){.key = *key};
    lrumap_set_max(m, max);
}

void lrumap_set_max(lrumap *m, size_t max)
{
    m->max = max ? max : 1;
}

uint64_t lrumap_hash(const lrumap *m, const void *key, size_t len)
{
    return hash_bytes(&m->key, key, len);
}

lrumap_node *lrumap_find(const lrumap *m, uint64_t hash,
                         int (*same)(const lrumap_node *, const void *), const void *arg)
{
    if (!m->nbuckets)
        return NULL;
    for (lrumap_node *e = m->buckets[hash & (m->nbuckets - 1)]; e; e = e->chain)
        if (e->hash == hash && same(e, arg))
            return e;
    return NULL;
}

/* Doubles the buckets while there are more entries than buckets, but never beyond the first
 * power of two >= max: past the cap the map stops growing. */
static void grow(lrumap *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : FIRST_BUCKETS;
    lrumap_node **b;

    if (m->nbuckets && (m->n <= m->nbuckets || m->nbuckets >= m->max))
        return;
    b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (lrumap_node *e = m->buckets[i], *next; e; e = next) {
            next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

static void list_unlink(lrumap *m, lrumap_node *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        m->oldest[e->tier] = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        m->newest[e->tier] = e->older;
    m->tier_n[e->tier]--;
}

static void list_push(lrumap *m, lrumap_node *e, unsigned tier)
{
    e->tier = tier < LRUMAP_TIERS ? tier : LRUMAP_TIERS - 1;
    e->newer = NULL;
    e->older = m->newest[e->tier];
    if (e->older)
        e->older->newer = e;
    else
        m->oldest[e->tier] = e;
    m->newest[e->tier] = e;
    m->tier_n[e->tier]++;
}

void lrumap_insert(lrumap *m, lrumap_node *node, uint64_t hash, unsigned tier)
{
    lrumap_node **b;

    m->n++;
    grow(m);
    node->hash = hash;
    b = &m->buckets[hash & (m->nbuckets - 1)];
    node->chain = *b;
    *b = node;
    list_push(m, node, tier);
}

void lrumap_touch(lrumap *m, lrumap_node *node, unsigned tier)
{
    list_unlink(m, node);
    list_push(m, node, tier);
}

void lrumap_remove(lrumap *m, lrumap_node *node)
{
    lrumap_node **e = &m->buckets[node->hash & (m->nbuckets - 1)];

    while (*e != node)
        e = &(*e)->chain;
    *e = node->chain;
    list_unlink(m, node);
    m->n--;
}

lrumap_node *lrumap_victim(const lrumap *m, int (*may_go)(const lrumap_node *))
{
    for (unsigned t = 0; t < LRUMAP_TIERS; t++)
        for (lrumap_node *e = m->oldest[t]; e; e = e->newer)
            if (!may_go || may_go(e))
                return e;
    return NULL;
}

size_t lrumap_longest_chain(const lrumap *m)
{
    size_t longest = 0;

    for (size_t i = 0; i < m->nbuckets; i++) {
        size_t n = 0;
        for (const lrumap_node *e = m->buckets[i]; e; e = e->chain)
            n++;
        if (n > longest)
            longest = n;
    }
    return longest;
}

void lrumap_free(lrumap *m)
{
    free(m->buckets);
    *m = (lrumap){.key = m->key, .max = m->max};
}
