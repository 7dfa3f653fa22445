/* SPDX-License-Identifier: MIT */
#include "dane_lookup.h"

/* System. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Core. */
#include "policy/dane.h"

/* Daemon. */
#include "resolver.h"

static void copy_lookup(dane_lookup *dst, const resolver_answer *a)
{
    *dst = a->lk;
}

/* Marks a lookup failed: an answer we cannot read is never "no data". */
static void malformed(dane_lookup *lk, const char *what)
{
    lk->status = DANE_LOOKUP_FAIL;
    lk->secure = 0;
    snprintf(lk->why, sizeof lk->why, "malformed %s record in the answer", what);
}

/* 1 if MX host a comes before b: lower preference, then name (a deterministic tie-break:
 * answers may come in any order). */
static int mx_before(int pa, const char *a, int pb, const char *b)
{
    return pa != pb ? pa < pb : strcmp(a, b) < 0;
}

/* The whole MX RRset is read and sorted; only then are the DANE_HOSTS_MAX most preferred
 * kept, so a limit never drops a preferred host (nor hides its errors). A record that does not
 * parse fails the MX lookup. */
static void take_mx(dane_facts *f, const resolver_answer *a)
{
    struct {
        int pref;
        char name[DANE_NAME_MAX];
    } best[DANE_HOSTS_MAX], cur; /* small: a hostile RRset costs shifts of these, not of hosts */
    size_t n = 0;

    for (size_t i = 0; i < a->n; i++) {
        size_t j;

        if (dane_parse_mx(a->data[i], a->len[i], &cur.pref, cur.name, sizeof cur.name) != 0) {
            malformed(&f->mx, "MX");
            return;
        }
        if (n == DANE_HOSTS_MAX) {
            f->dropped++;
            if (!mx_before(cur.pref, cur.name, best[n - 1].pref, best[n - 1].name))
                continue;
            n--; /* the least preferred kept host gives way */
        }
        for (j = n; j > 0 && mx_before(cur.pref, cur.name, best[j - 1].pref, best[j - 1].name); j--)
            best[j] = best[j - 1];
        best[j] = cur;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        memset(&f->hosts[i], 0, sizeof f->hosts[i]);
        memcpy(f->hosts[i].name, best[i].name, sizeof best[i].name);
        f->hosts[i].preference = best[i].pref;
    }
    f->nhosts = n;
    f->null_mx = n == 1 && strcmp(f->hosts[0].name, ".") == 0;
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
    for (size_t i = 0; a->lk.status == DANE_LOOKUP_DATA && i < a->n; i++) {
        dane_tlsa rr;

        if (dane_parse_tlsa(a->data[i], a->len[i], &rr) != 0) {
            malformed(&h->tlsa, "TLSA");
            h->ntlsa = 0;
            break;
        }
        if (h->ntlsa < DANE_TLSA_MAX)
            h->tlsa_rr[h->ntlsa++] = rr;
    }
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
        /* Whether the first hop is secure decides whether TLSA applies: a lookup that fails
         * here is the host's error, never "insecure" (which would skip TLSA). */
        c = resolver_query(h->name, RR_CNAME, deadline);
        copy_lookup(&h->cname, c);
        if (c->lk.status == DANE_LOOKUP_NODATA) { /* the address answer said otherwise */
            h->cname.status = DANE_LOOKUP_FAIL;
            snprintf(h->cname.why, sizeof h->cname.why, "no CNAME, but the address answer came through one");
        }
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
        return; /* error (malformed too), insecure MX or no destination: no host matters */
    }
    for (size_t i = 0; i < out->nhosts; i++)
        gather_host(&out->hosts[i], port, &deadline);
}
