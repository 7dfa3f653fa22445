/* SPDX-License-Identifier: MIT */
#include "hashkey.h"

/* System. */
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int hashkey_random(hash_key *key)
{
    struct timespec rt, mono;
    hash_key mix;

    /* Blocks only until the kernel's pool is first seeded, early at boot. */
    if (getrandom(key, sizeof *key, 0) == (ssize_t)sizeof *key)
        return 0;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    mix.k0 = (uint64_t)(uintptr_t)&rt ^ (uint64_t)(uintptr_t)key;
    mix.k1 = (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)&hashkey_random;
    key->k0 = hash_bytes(&mix, &rt, sizeof rt);
    key->k1 = hash_bytes(&mix, &mono, sizeof mono);
    return -1;
}
