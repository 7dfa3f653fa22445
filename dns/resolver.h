/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_RESOLVER_H
#define TLSGUARD_RESOLVER_H

/*
 * resolver - one libunbound context with DNSSEC validation, shared by every session.
 *
 * Queries run asynchronously in libunbound's own thread (ub_ctx_async(ctx, 1), so nothing
 * forks); one resolver thread of ours calls ub_process() and fills a cache. Answers are
 * cached for their TTL, negative ones too (bounded: errors for a few seconds only), and
 * simultaneous identical queries share one query. The cache holds at most cache_max
 * entries (dns_cache_max) plus those with a query in flight; to make room the least
 * recently asked goes (policy/lrumap.h, hashed under a random key per process, so names a sender
 * chooses cannot crowd one bucket). A caller waits for its answer, never
 * longer than its deadline: other sessions are never blocked.
 *
 * Ownership: resolver_query() returns a reference the caller gives back with
 * resolver_release(). Errors: a lookup that cannot be done is graded FAIL or TIMEOUT in the
 * answer, never reported as absence of data. Thread-safe: any thread may query and release
 * between resolver_init() and resolver_shutdown(), which the owner calls once each.
 */

#include <stddef.h>
#include <time.h>

#include "policy/dane.h"

typedef struct resolver_config {
    const char *trust_anchor; /* file of DS/DNSKEY lines; NULL: none */
    const char *forwarder;    /* "ADDR[@PORT]"; NULL: full recursion from root hints */
    const char *unbound_conf; /* unbound.conf file applied first; NULL: none */
    long cache_max;           /* cached answers kept */
} resolver_config;

typedef struct resolver_answer {
    dane_lookup lk;                 /* graded outcome */
    char canonname[DANE_NAME_MAX];  /* final CNAME target, "" if none was followed */
    size_t n;                       /* rdata items */
    unsigned char **data;
    size_t *len;
} resolver_answer;

/* Creates the context and checks the configuration with a first query. Returns 0, or -1
 * with a message in err. */
int resolver_init(const resolver_config *cfg, char *err, size_t errsize);

/* The CLOCK_MONOTONIC time `ms` milliseconds from now, for resolver_query(). */
struct timespec resolver_deadline(long ms);

/* 1 once resolver_init() succeeded. */
int resolver_ready(void);

/* Record types for resolver_query() (RFC 1035, 3596, 6698). */
enum { RR_A = 1, RR_CNAME = 5, RR_MX = 15, RR_AAAA = 28, RR_TLSA = 52 };

/* Looks up name/rrtype (class IN), waiting until `deadline` (CLOCK_MONOTONIC) at most.
 * Never returns NULL. */
const resolver_answer *resolver_query(const char *name, int rrtype, const struct timespec *deadline);
void resolver_release(const resolver_answer *a);

/* Entries in the cache (for tests and the log). */
size_t resolver_cache_count(void);

/* Stops the thread and frees the context and cache. */
void resolver_shutdown(void);

#endif
