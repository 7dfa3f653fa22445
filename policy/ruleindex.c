/* SPDX-License-Identifier: MIT */
/*
 * ruleindex - open addressing (linear probing) with hash_bytes(), kept at most half full.
 */
#include "ruleindex.h"
#include "hash.h"
#include "xalloc.h"

/* libc */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    unsigned char *key; /* NULL = empty */
    size_t len;
    size_t value;
    uint64_t hash;
} slot;

struct ruleindex {
    slot *slots;
    size_t cap; /* a power of two */
    size_t used;
};

/* The keys are the postmaster's own selectors, so a fixed key serves (hash.h). */
static uint64_t hash_of(const void *key, size_t len)
{
    static const hash_key fixed = {0x7467756172642d72ULL, 0x756c65696e646578ULL};

    return hash_bytes(&fixed, key, len);
}

ruleindex *ruleindex_new(void)
{
    ruleindex *ix = xcalloc(1, sizeof(*ix));
    ix->cap = 16;
    ix->slots = xcalloc(ix->cap, sizeof(*ix->slots));
    return ix;
}

ruleindex *ruleindex_free(ruleindex *ix)
{
    if (ix) {
        for (size_t i = 0; i < ix->cap; i++)
            free(ix->slots[i].key);
        free(ix->slots);
        free(ix);
    }
    return NULL;
}

static slot *find_slot(slot *slots, size_t cap, const void *key, size_t len, uint64_t hash)
{
    size_t i = (size_t)hash & (cap - 1);
    for (;;) {
        slot *s = &slots[i];
        if (!s->key || (s->hash == hash && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
        i = (i + 1) & (cap - 1);
    }
}

static void grow(ruleindex *ix)
{
    size_t ncap = ix->cap * 2;
    slot *ns = xcalloc(ncap, sizeof(*ns));
    for (size_t i = 0; i < ix->cap; i++) {
        slot *s = &ix->slots[i];
        if (s->key)
            *find_slot(ns, ncap, s->key, s->len, s->hash) = *s;
    }
    free(ix->slots);
    ix->slots = ns;
    ix->cap = ncap;
}

int ruleindex_add(ruleindex *ix, const void *key, size_t len, size_t value, size_t *existing)
{
    uint64_t h = hash_of(key, len);
    slot *s;

    if ((ix->used + 1) * 2 > ix->cap)
        grow(ix);
    s = find_slot(ix->slots, ix->cap, key, len, h);
    if (s->key) {
        if (existing)
            *existing = s->value;
        return 0;
    }
    s->key = xmalloc(len ? len : 1);
    memcpy(s->key, key, len);
    s->len = len;
    s->value = value;
    s->hash = h;
    ix->used++;
    return 1;
}

int ruleindex_get(const ruleindex *ix, const void *key, size_t len, size_t *value)
{
    slot *s;

    if (!ix)
        return 0;
    s = find_slot(ix->slots, ix->cap, key, len, hash_of(key, len));
    if (!s->key)
        return 0;
    *value = s->value;
    return 1;
}
