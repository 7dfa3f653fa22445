/* SPDX-License-Identifier: MIT */
/*
 * cipher - expansion of OpenSSL cipher strings, and the table of cipher names the local
 * OpenSSL knows. See cipher.h for the contract.
 */
#include "cipher.h"
#include "xalloc.h"

/* libc */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* OpenSSL */
#include <openssl/err.h>
#include <openssl/ssl.h>

struct cipher_set {
    char **names; /* TLS <= 1.2 cipher names, sorted for bsearch */
    size_t n;
};

typedef struct known_cipher {
    const char *name; /* owned by the table, never freed */
    int tls13;
} known_cipher;

/* Written once under pthread_once, read-only afterwards: safe to share between threads. */
static known_cipher *known_table;
static size_t known_count;
static pthread_once_t known_once = PTHREAD_ONCE_INIT;

/* All TLSv1.3 suites OpenSSL 3 implements; set_ciphersuites() keeps those it knows. */
static const char all_tls13_suites[] = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
                                       "TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256:"
                                       "TLS_AES_128_CCM_8_SHA256";

static int is_tls13_cipher(const SSL_CIPHER *c)
{
    return strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_known(const void *a, const void *b)
{
    return strcmp(((const known_cipher *)a)->name, ((const known_cipher *)b)->name);
}

static void known_build(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    STACK_OF(SSL_CIPHER) *sk;
    int n;

    /* If OpenSSL cannot give a context, every name counts as unknown (= weak, not allowed). */
    if (!ctx) {
        ERR_clear_error();
        return;
    }
    if (SSL_CTX_set_ciphersuites(ctx, all_tls13_suites) != 1 ||
        SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL:@SECLEVEL=0") != 1) {
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return;
    }
    sk = SSL_CTX_get_ciphers(ctx);
    n = sk ? sk_SSL_CIPHER_num(sk) : 0;
    known_table = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*known_table));
    for (int i = 0; i < n; i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
        known_table[known_count].name = xstrdup(SSL_CIPHER_get_name(c));
        known_table[known_count].tls13 = is_tls13_cipher(c);
        known_count++;
    }
    qsort(known_table, known_count, sizeof(*known_table), cmp_known);
    SSL_CTX_free(ctx);
}

static const known_cipher *known_find(const char *name)
{
    known_cipher key;

    if (!name || !*name)
        return NULL;
    pthread_once(&known_once, known_build);
    if (known_count == 0)
        return NULL;
    key.name = name;
    key.tls13 = 0;
    return bsearch(&key, known_table, known_count, sizeof(*known_table), cmp_known);
}

int cipher_known(const char *name)
{
    return known_find(name) != NULL;
}

int cipher_is_tls13(const char *name)
{
    const known_cipher *k = known_find(name);
    return k && k->tls13;
}

static void set_err(char *err, size_t errsize, const char *msg)
{
    if (err && errsize > 0) {
        strncpy(err, msg, errsize - 1);
        err[errsize - 1] = '\0';
    }
}

/* One context for every expansion, made once and never changed afterwards: SSL_CTX_new()
 * costs far more than a whole expansion (OpenSSL 3 fetches every algorithm from its
 * providers), and a policy reload or the fuzzer expands many strings. Each expansion sets
 * its string on an SSL of its own, which copies the context's settings, so "@SECLEVEL=n" in
 * one string cannot leak into another, and SSL_new() on a shared context is thread-safe. */
static SSL_CTX *template_ctx;
static pthread_once_t template_once = PTHREAD_ONCE_INIT;

static void template_build(void)
{
    template_ctx = SSL_CTX_new(TLS_method());
    if (!template_ctx)
        ERR_clear_error();
}

cipher_set *cipher_set_new(const char *spec, char *err, size_t errsize)
{
    SSL *ssl;
    STACK_OF(SSL_CIPHER) *sk;
    cipher_set *set;
    int n;

    set_err(err, errsize, "");
    if (!spec || !*spec) {
        set_err(err, errsize, "empty cipher string");
        return NULL;
    }
    pthread_once(&template_once, template_build);
    ssl = template_ctx ? SSL_new(template_ctx) : NULL;
    if (!ssl) {
        ERR_clear_error();
        set_err(err, errsize, "OpenSSL could not create a context");
        return NULL;
    }
    if (SSL_set_cipher_list(ssl, spec) != 1) {
        const char *why = ERR_reason_error_string(ERR_peek_last_error());
        set_err(err, errsize, why ? why : "rejected by OpenSSL");
        ERR_clear_error();
        SSL_free(ssl);
        return NULL;
    }
    sk = SSL_get_ciphers(ssl);
    n = sk ? sk_SSL_CIPHER_num(sk) : 0;
    set = xcalloc(1, sizeof(*set));
    set->names = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*set->names));
    for (int i = 0; i < n; i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
        /* The TLSv1.3 suites always lead the list whatever the string says; they are
         * judged by cipher_is_tls13() instead. */
        if (!is_tls13_cipher(c))
            set->names[set->n++] = xstrdup(SSL_CIPHER_get_name(c));
    }
    SSL_free(ssl);
    qsort(set->names, set->n, sizeof(*set->names), cmp_strp);
    return set;
}

cipher_set *cipher_set_free(cipher_set *set)
{
    if (set) {
        for (size_t i = 0; i < set->n; i++)
            free(set->names[i]);
        free(set->names);
        free(set);
    }
    return NULL;
}

size_t cipher_set_count(const cipher_set *set)
{
    return set ? set->n : 0;
}

int cipher_set_allows(const cipher_set *set, const char *name)
{
    if (!set || !name || !*name)
        return 0;
    if (cipher_is_tls13(name))
        return 1;
    return bsearch(&name, set->names, set->n, sizeof(*set->names), cmp_strp) != NULL;
}
