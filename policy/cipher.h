/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_CIPHER_H
#define TLSGUARD_CIPHER_H

/*
 * cipher - OpenSSL cipher knowledge for the policy core (internal to policy/).
 *
 * A cipher_set is the expansion of one `ciphers=` string by the local OpenSSL: the sorted
 * names of the TLS <= 1.2 ciphers it selects. TLSv1.3 suites are not governed by cipher
 * strings (as in Postfix and OpenSSL) and are always allowed if the local OpenSSL knows
 * them. A name the local OpenSSL does not know is never allowed.
 *
 * Ownership: cipher_set_new() returns a set the caller frees with cipher_set_free(). Sets
 * are immutable and may be shared by threads. Errors: cipher_set_new() returns NULL and
 * writes the reason (from OpenSSL) into err. No I/O; OpenSSL is used in memory only.
 */

#include <stddef.h>

typedef struct cipher_set cipher_set;

cipher_set *cipher_set_new(const char *spec, char *err, size_t errsize);
cipher_set *cipher_set_free(cipher_set *set);
size_t cipher_set_count(const cipher_set *set);

/* 1 if a negotiated cipher with this OpenSSL name is allowed by the set, else 0. */
int cipher_set_allows(const cipher_set *set, const char *name);

/* 1 if the local OpenSSL knows a cipher (any protocol version) by this name. Thread-safe;
 * the table is built once on first use. */
int cipher_known(const char *name);

/* 1 if the name is a TLSv1.3 suite known to the local OpenSSL. */
int cipher_is_tls13(const char *name);

#endif
