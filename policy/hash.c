/* SPDX-License-Identifier: MIT */
/*
 * hash - SipHash-1-3 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012, with
 * one compression and three finalization rounds), little-endian words as the paper says.
 */
#include "hash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                                             \
    do {                                                                                     \
        v0 += v1;                                                                            \
        v1 = ROTL(v1, 13);                                                                   \
        v1 ^= v0;                                                                            \
        v0 = ROTL(v0, 32);                                                                   \
        v2 += v3;                                                                            \
        v3 = ROTL(v3, 16);                                                                   \
        v3 ^= v2;                                                                            \
        v0 += v3;                                                                            \
        v3 = ROTL(v3, 21);                                                                   \
        v3 ^= v0;                                                                            \
        v2 += v1;                                                                            \
        v1 = ROTL(v1, 17);                                                                   \
        v1 ^= v2;                                                                            \
        v2 = ROTL(v2, 32);                                                                   \
    } while (0)

static uint64_t load_le(const unsigned char *p, size_t n)
{
    uint64_t w = 0;

    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    return w;
}

uint64_t hash_bytes(const hash_key *key, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t v0 = key->k0 ^ 0x736f6d6570736575ULL, v1 = key->k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = key->k0 ^ 0x6c7967656e657261ULL, v3 = key->k1 ^ 0x7465646279746573ULL;
    uint64_t m;
    size_t i;

    for (i = 0; i + 8 <= len; i += 8) {
        m = load_le(p + i, 8);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    m = load_le(p + i, len - i) | (uint64_t)(len & 0xff) << 56;
    v3 ^= m;
    SIPROUND;
    v0 ^= m;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}
