/* SPDX-License-Identifier: MIT */
/* Unit tests for the keyed hash (policy/hash.c) and the bounded LRU map (policy/lrumap.c):
 * reference vectors, tiers, the cap under a million keys, and chains under chosen keys. */
#include "policy/lrumap.h"
#include "unit.h"

/* libc */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct item {
    lrumap_node node;
    char key[32];
} item;

static int same(const lrumap_node *n, const void *key)
{
    return strcmp(((const item *)n)->key, key) == 0;
}

static item *find(lrumap *m, const char *key)
{
    return (item *)lrumap_find(m, lrumap_hash(m, key, strlen(key)), same, key);
}

/* Inserts `key` in `tier`, evicting the map's victim first when full; returns evictions. */
static int put(lrumap *m, const char *key, unsigned tier)
{
    item *it = find(m, key);
    int evicted = 0;

    if (it) {
        lrumap_touch(m, &it->node, tier);
        return 0;
    }
    while (m->n >= m->max) {
        lrumap_node *v = lrumap_victim(m, NULL);
        lrumap_remove(m, v);
        free(v);
        evicted++;
    }
    it = calloc(1, sizeof *it);
    snprintf(it->key, sizeof it->key, "%s", key);
    lrumap_insert(m, &it->node, lrumap_hash(m, key, strlen(key)), tier);
    return evicted;
}

static void empty(lrumap *m)
{
    for (unsigned t = 0; t < LRUMAP_TIERS; t++)
        while (m->oldest[t]) {
            lrumap_node *v = m->oldest[t];
            lrumap_remove(m, v);
            free(v);
        }
    lrumap_free(m);
}

static int odd_only(const lrumap_node *n)
{
    const char *k = ((const item *)n)->key;
    return (k[strlen(k) - 1] - '0') % 2 == 1;
}

/* The 32-bit FNV-1a the DNS cache used: what an attacker could aim at before. */
static unsigned fnv1a(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int main(void)
{
    static const unsigned char ref_key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    hash_key zero = {0, 0}, k = {0, 0}, other = {1, 2};
    unsigned char msg[64];
    char key[64], row[64];
    lrumap m;
    long over = 0, missing = 0;
    int colliding = 0;

    /* SipHash-1-3 of the reference implementation (github.com/veorq/SipHash). */
    for (int i = 0; i < 8; i++) {
        k.k0 |= (uint64_t)ref_key[i] << (8 * i);
        k.k1 |= (uint64_t)ref_key[i + 8] << (8 * i);
    }
    for (int i = 0; i < 64; i++)
        msg[i] = (unsigned char)i;
    snprintf(row, sizeof row, "%016llx", (unsigned long long)hash_bytes(&zero, "", 0));
    unit_str("siphash-1-3, zero key, empty", "hash", row, "d1fba762150c532c");
    snprintf(row, sizeof row, "%016llx", (unsigned long long)hash_bytes(&zero, "siphash", 7));
    unit_str("siphash-1-3, zero key, \"siphash\"", "hash", row, "8264ceeccb16bcbe");
    unit_int("another key, another hash", "differs",
             hash_bytes(&k, msg, 15) != hash_bytes(&other, msg, 15), 1);

    /* Tiers: a full map of tier-1 entries and tier-0 newcomers: only newcomers go. */
    lrumap_init(&m, &k, 10);
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "learned-%d", i);
        put(&m, key, 1);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "new-%d", i);
        put(&m, key, 0);
    }
    unit_int("tiers", "entries at the cap", (long)m.n, 10);
    unit_int("tiers", "learned kept", find(&m, "learned-0") && find(&m, "learned-4"), 1);
    unit_int("tiers", "newest newcomer kept", find(&m, "new-999") != NULL, 1);
    unit_int("tiers", "old newcomer gone", find(&m, "new-994") != NULL, 0);
    /* Touching moves an entry to the young end: new-995 survives the next eviction. */
    lrumap_touch(&m, &find(&m, "new-995")->node, 0);
    put(&m, "new-1000", 0);
    unit_int("touch", "touched kept", find(&m, "new-995") != NULL, 1);
    unit_int("touch", "next oldest gone", find(&m, "new-996") != NULL, 0);
    /* A predicate can hold entries back (the DNS cache: queries in flight). */
    unit_str("victim", "first that may go", ((item *)lrumap_victim(&m, odd_only))->key, "new-997");
    empty(&m);

    /* A million distinct keys through a map of 100,000: never above the cap, and the newest
     * 100,000 all present. */
    lrumap_init(&m, &k, 100000);
    for (long i = 0; i < 1000000; i++) {
        snprintf(key, sizeof key, "net:2001:db8:%lx:%lx::/64", i >> 16, i & 0xffff);
        put(&m, key, 0);
        over += m.n > m.max;
    }
    unit_int("1,000,000 keys", "times above the cap", over, 0);
    unit_int("1,000,000 keys", "entries", (long)m.n, 100000);
    for (long i = 900000; i < 1000000; i++) {
        snprintf(key, sizeof key, "net:2001:db8:%lx:%lx::/64", i >> 16, i & 0xffff);
        missing += find(&m, key) == NULL;
    }
    unit_int("1,000,000 keys", "newest 100,000 missing", missing, 0);
    unit_int("1,000,000 keys", "buckets bounded by the cap", m.nbuckets <= 131072, 1);
    unit_int("1,000,000 keys", "longest chain <= 16", lrumap_longest_chain(&m) <= 16, 1);
    empty(&m);

    /* Chosen keys: 2,000 names that all share one bucket of 4,096 under FNV-1a (what the DNS
     * cache used) spread out under the keyed hash. */
    lrumap_init(&m, &k, 100000);
    for (long i = 0; colliding < 2000; i++) {
        snprintf(key, sizeof key, "x%ld.example", i);
        if (fnv1a(key) % 4096 == 7) {
            put(&m, key, 0);
            colliding++;
        }
    }
    unit_int("2,000 FNV-colliding names", "entries", (long)m.n, 2000);
    unit_int("2,000 FNV-colliding names", "longest chain <= 12", lrumap_longest_chain(&m) <= 12, 1);
    empty(&m);
    return unit_report("test_lrumap");
}
