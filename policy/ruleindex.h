/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_RULEINDEX_H
#define TLSGUARD_RULEINDEX_H

/*
 * ruleindex - a hash table from byte keys to rule indexes (internal to policy/).
 *
 * The parser stores one key per selector (kind + canonical domain or masked address);
 * matching looks keys up instead of walking the rules, so a lookup costs O(labels) or
 * O(prefix lengths in use), not O(rules). A key maps to one value: the first insert wins,
 * which is how duplicate selectors are found.
 *
 * Ownership: ruleindex_new() returns a table freed with ruleindex_free(); keys are copied.
 * Immutable (and shareable by threads) once the parser is done inserting.
 */

#include <stddef.h>

typedef struct ruleindex ruleindex;

ruleindex *ruleindex_new(void);
ruleindex *ruleindex_free(ruleindex *ix);

/* Inserts key -> value. Returns 1 if inserted; 0 if the key was present already, in which
 * case nothing changes and *existing (if not NULL) receives the stored value. */
int ruleindex_add(ruleindex *ix, const void *key, size_t len, size_t value, size_t *existing);

/* Returns 1 and sets *value if the key is present, else 0. */
int ruleindex_get(const ruleindex *ix, const void *key, size_t len, size_t *value);

#endif
