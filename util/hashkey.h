/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_HASHKEY_H
#define TLSGUARD_HASHKEY_H

/*
 * hashkey - a secret hash key per table and process (policy/hash.h), from the kernel's random
 * generator. Used by the tables whose keys strangers choose: the peer history and the DNS
 * cache. Thread-safe.
 */

#include "policy/hash.h"

/* Fills *key from getrandom(). Should the kernel refuse (a kernel older than 3.17), the key
 * mixes the clocks, the process id and addresses that ASLR moves: weaker, still not known
 * outside. Returns 0, or -1 when it had to fall back. */
int hashkey_random(hash_key *key);

#endif
