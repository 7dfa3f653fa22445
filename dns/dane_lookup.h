/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_DANE_LOOKUP_H
#define TLSGUARD_DANE_LOOKUP_H

/*
 * dane_lookup - gathers the DNS facts of RFC 7672 for one destination domain through the
 * shared resolver: the MX RRset (or the implicit MX), then per host in preference order
 * its address and its TLSA RRset at _PORT._tcp.<base>, choosing the TLSA base by the CNAME
 * rules of section 2.2.3. Every lookup is graded (policy/dane.h); the decision is the policy
 * core's. The whole gathering shares one deadline, so a recipient is answered within
 * dns_timeout however many lookups time out.
 *
 * Fail closed: every lookup that fails is recorded as failed, never as absence: a CNAME
 * lookup of a host (dane_host.cname), an MX or TLSA answer with a record that does not parse.
 * The whole MX RRset is sorted (preference, then name) before the DANE_HOSTS_MAX most
 * preferred hosts are kept; the others are counted in dane_facts.dropped.
 *
 * Ownership: the facts are written into the caller's dane_facts; nothing is kept. Errors are
 * facts, never a failure of the call. Thread-safe once resolver_init() succeeded
 * (resolver.h).
 */

#include <time.h>

#include "policy/dane.h"

/* Fills *out for `domain` (normalised); `port` picks the TLSA prefix (25 for SMTP).
 * `timeout_ms` bounds the whole gathering. Never fails: errors are facts. */
void dane_lookup_domain(const char *domain, int port, long timeout_ms, dane_facts *out);

#endif
