/* SPDX-License-Identifier: MIT */
#include "dane_lookup.h"

/* System. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Core. */
#include "dane.h"

/* Daemon. */
#include "resolver.h"

enum { RR_A = 1, RR_CNAME = 5, RR_MX = 15, RR_AAAA = 28, RR_TLSA = 52 };

static void copy_lookup(dane_lookup *dst, const resolver_answer *a)
{
    *dst = a->lk;
}

/* MX RRset into hosts, in preference order (stable for equal preferences). */
static void take_mx(dane_facts *f, const resolver_answer *a)
{
    for (size_t i = 0; i < a->n && f->nhosts < DANE_HOSTS_MAX; i++) {
        dane_host *h = &f->hosts[f->nhosts];
        int pref;

        memset(h, 0, sizeof *h);
        if (dane_parse_mx(a->data[i], a->len[i], &pref, h->name, sizeof h->name) != 0)
            continue;
        h->preference = pref;
        f->nhosts++;
    }
    for (size_t i = 1; i < f->nhosts; i++)
        for (size_t j = i; j > 0 && f->hosts[j - 1].preference > f->hosts[j].preference; j--) {
            dane_host t = f->hosts[j];
            f->hosts[j] = f->hosts[j - 1];
            f->hosts[j - 1] = t;
        }
    f->null_mx = f->nhosts == 1 && strcmp(f->hosts[0].name, ".") == 0;
}

/* Looks up _PORT._tcp.<base> into the host. Returns the lookup status. */
static dane_status tlsa_at(dane_host *h, const char *base, int port, const struct timespec *deadline)
{
    char qname[DANE_NAME_MAX + 16];
    const resolver_answer *a;

    snprintf(qname, sizeof qname, "_%d._tcp.%s", port, base);
    a = resolver_query(qname, RR_TLSA, deadline);
    snprintf(h->tlsa_base, sizeof h->tlsa_base, "%s", base);
    copy_lookup(&h->tlsa, a);
    h->ntlsa = 0;
    if (a->lk.status == DANE_LOOKUP_DATA)
        for (size_t i = 0; i < a->n && h->ntlsa < DANE_TLSA_MAX; i++)
            if (dane_parse_tlsa(a->data[i], a->len[i], &h->tlsa_rr[h->ntlsa]) == 0)
                h->ntlsa++;
    resolver_release(a);
    return h->tlsa.status;
}

/*
 * One host: its address decides whether TLSA applies and at which base (RFC 7672 2.2.3,
 * as Postfix does it): a secure address answer looks for TLSA at the CNAME target first and
 * falls back to the original name only when the target has none; an insecure answer
 * reached through a secure CNAME still looks at the original name.
 */
static void gather_host(dane_host *h, int port, const struct timespec *deadline)
{
    const resolver_answer *a = resolver_query(h->name, RR_A, deadline);
    char canon[DANE_NAME_MAX];

    if (a->lk.status == DANE_LOOKUP_NODATA) {
        resolver_release(a);
        a = resolver_query(h->name, RR_AAAA, deadline);
    }
    copy_lookup(&h->addr, a);
    snprintf(canon, sizeof canon, "%s", a->canonname);
    resolver_release(a);
    if (h->addr.status != DANE_LOOKUP_DATA)
        return;
    if (!h->addr.secure) {
        const resolver_answer *c;
        int cname_secure;

        if (!canon[0])
            return;
        c = resolver_query(h->name, RR_CNAME, deadline);
        cname_secure = c->lk.status == DANE_LOOKUP_DATA && c->lk.secure;
        resolver_release(c);
        if (cname_secure)
            tlsa_at(h, h->name, port, deadline);
        return;
    }
    if (canon[0] && strcasecmp(canon, h->name) != 0) {
        size_t len = strlen(canon);
        if (len && canon[len - 1] == '.')
            canon[len - 1] = '\0';
        if (tlsa_at(h, canon, port, deadline) != DANE_LOOKUP_NODATA)
            return;
    }
    tlsa_at(h, h->name, port, deadline);
}

void dane_lookup_domain(const char *domain, int port, long timeout_ms, dane_facts *out)
{
    struct timespec deadline;
    const resolver_answer *a;

    memset(out, 0, sizeof *out);
    snprintf(out->domain, sizeof out->domain, "%s", domain);
    deadline = resolver_deadline(timeout_ms);

    a = resolver_query(domain, RR_MX, &deadline);
    copy_lookup(&out->mx, a);
    if (a->lk.status == DANE_LOOKUP_DATA)
        take_mx(out, a);
    resolver_release(a);
    if (out->mx.status == DANE_LOOKUP_NODATA) {
        out->implicit_mx = 1;
        snprintf(out->hosts[0].name, sizeof out->hosts[0].name, "%s", domain);
        out->nhosts = 1;
    } else if (out->mx.status != DANE_LOOKUP_DATA || !out->mx.secure || out->null_mx) {
        return; /* error, insecure MX or no destination: no host matters */
    }
    for (size_t i = 0; i < out->nhosts; i++)
        gather_host(&out->hosts[i], port, &deadline);
}
