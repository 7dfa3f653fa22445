/* SPDX-License-Identifier: MIT */
/*
 * dane - the RFC 7672 decision over graded DNS facts (see dane.h for the table), and the
 * MX/TLSA rdata parsers the resolver adapter feeds with answers from the network.
 *
 * The facts may come from a resolver, from `tlsguard explain` or from a test: every text
 * taken from them is read no further than its array and sanitised before it reaches a
 * reason or a summary, because those travel into SMTP replies, logs and the database.
 */
#include "dane.h"
#include "policy_int.h"

/* libc */
#include <stdio.h>
#include <string.h>

#define NO_HOST ((size_t)-1)

/* ---- names ------------------------------------------------------------------------- */

static const char *const status_names[] = {"data", "nodata", "bogus", "fail", "timeout"};
static const char *const result_names[] = {"none", "dane", "tempfail", "no-dest"};

const char *dane_status_name(dane_status s)
{
    return NAME_OF(status_names, s);
}

const char *dane_result_name(dane_result r)
{
    return NAME_OF(result_names, r);
}

static const char *const host_state_names[] = {"dane",       "no-usable-tlsa", "no-tlsa",    "insecure",
                                               "addr-error", "tlsa-bogus",     "tlsa-error", "cname-error"};

const char *dane_host_state_name(dane_host_state st)
{
    return NAME_OF(host_state_names, st);
}

static int host_unusable(dane_host_state st)
{
    return st >= DANE_HOST_ADDR_ERROR;
}

/* ---- texts from the facts ------------------------------------------------------------ */

/* Copies a field of the facts, reading at most in_size bytes even without a NUL; bytes
 * outside printable ASCII become '?', and with token also spaces (summaries are key=value
 * fields separated by spaces). */
static void fact_text(const char *in, size_t in_size, char *out, size_t size, int token)
{
    size_t n = strnlen(in, in_size), i;

    if (n >= size)
        n = size - 1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = c > (token ? 0x20 : 0x1f) && c < 0x7f ? (char)c : '?';
    }
    out[i] = '\0';
}

#define FACT(field, out) fact_text((field), sizeof(field), (out), sizeof(out), 1)

static int lookup_failed(const dane_lookup *l)
{
    return l->status != DANE_LOOKUP_DATA && l->status != DANE_LOOKUP_NODATA;
}

/* Why a failed lookup failed: "DNSSEC bogus (<why>)", the resolver's text for a failure
 * (e.g. "SERVFAIL"), or "timed out". */
static void lookup_problem(const dane_lookup *l, char *out, size_t size)
{
    char why[DANE_WHY_MAX];
    size_t used = 0;

    fact_text(l->why, sizeof(l->why), why, sizeof(why), 0);
    out[0] = '\0';
    if (l->status == DANE_LOOKUP_BOGUS)
        policy_append(out, size, &used, "DNSSEC bogus%s%s%s", why[0] ? " (" : "", why, why[0] ? ")" : "");
    else if (l->status == DANE_LOOKUP_TIMEOUT)
        policy_append(out, size, &used, "timed out");
    else
        policy_append(out, size, &used, "%s", why[0] ? why : "lookup failed");
}

/* ---- TLSA records ---------------------------------------------------------------------- */

int dane_tlsa_usable(const dane_tlsa *rr)
{
    size_t n;

    if (!rr || (rr->usage != 2 && rr->usage != 3) || rr->selector > 1)
        return 0;
    n = rr->assoc_len ? rr->assoc_len : rr->len;
    switch (rr->mtype) {
    case 0:
        return n > 0;
    case 1:
        return n == 32;
    case 2:
        return n == 64;
    default:
        return 0;
    }
}

static size_t host_ntlsa(const dane_host *h)
{
    return h->ntlsa < DANE_TLSA_MAX ? h->ntlsa : DANE_TLSA_MAX;
}

dane_host_state dane_host_grade(const dane_host *h)
{
    if (lookup_failed(&h->addr))
        return DANE_HOST_ADDR_ERROR;
    if (lookup_failed(&h->cname))
        return DANE_HOST_CNAME_ERROR;
    if (!h->tlsa_base[0])
        return h->addr.secure ? DANE_HOST_NO_TLSA : DANE_HOST_INSECURE;
    if (h->tlsa.status == DANE_LOOKUP_BOGUS)
        return DANE_HOST_TLSA_BOGUS;
    if (lookup_failed(&h->tlsa))
        return DANE_HOST_TLSA_ERROR;
    if (!h->tlsa.secure)
        return DANE_HOST_INSECURE;
    if (h->tlsa.status == DANE_LOOKUP_NODATA)
        return DANE_HOST_NO_TLSA;
    for (size_t i = 0; i < host_ntlsa(h); i++)
        if (dane_tlsa_usable(&h->tlsa_rr[i]))
            return DANE_HOST_DANE;
    return DANE_HOST_NO_USABLE;
}

/* Why a host without error is not a DANE host, for the dane-only refusal. */
static const char *no_dane_text(const dane_host *h, dane_host_state st)
{
    size_t i, n = host_ntlsa(h);

    switch (st) {
    case DANE_HOST_NO_USABLE:
        for (i = 0; i < n && h->tlsa_rr[i].usage <= 1; i++)
            ;
        return n > 0 && i == n ? "PKIX-only TLSA" : "no usable TLSA records";
    case DANE_HOST_INSECURE:
        return h->tlsa_base[0] ? "TLSA records not DNSSEC-signed" : "address records not DNSSEC-signed";
    default:
        return "no TLSA records";
    }
}

/* ---- the decision ---------------------------------------------------------------------- */

/* Adds "sep item" to a list in buf, or "sep..." once the items left no longer fit: room for
 * that mark is kept while more items follow. Returns 0 once the list is cut. */
static int list_add(char *buf, size_t size, size_t *used, const char *sep, const char *item, int more)
{
    size_t need = strlen(sep) + strlen(item) + (more ? strlen(sep) + 3 : 0);

    if (*used + need >= size) {
        policy_append(buf, size, used, "%s...", sep);
        return 0;
    }
    policy_append(buf, size, used, "%s%s", sep, item);
    return 1;
}

static void preference_order(const dane_facts *f, size_t *order, size_t n)
{
    /* Insertion sort: stable, so ties keep their published order. */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        for (; j > 0 && f->hosts[order[j - 1]].preference > f->hosts[i].preference; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
}

static int is_null_mx(const dane_facts *f)
{
    return f->null_mx || (f->mx.status == DANE_LOOKUP_DATA && f->nhosts == 1 &&
                          strcmp(f->hosts[0].name, ".") == 0);
}

/* Fills reason and host for the first host with a lookup error. */
static void host_error(const dane_host *h, dane_host_state st, dane_decision *out)
{
    char problem[DANE_WHY_MAX + 32], base[DANE_NAME_MAX];
    size_t used = 0;

    FACT(h->name, out->host);
    if (st == DANE_HOST_ADDR_ERROR || st == DANE_HOST_CNAME_ERROR) {
        lookup_problem(st == DANE_HOST_ADDR_ERROR ? &h->addr : &h->cname, problem, sizeof(problem));
        policy_append(out->reason, sizeof(out->reason), &used, "%s lookup for %s: %s",
                      st == DANE_HOST_ADDR_ERROR ? "address" : "CNAME", out->host, problem);
        return;
    }
    lookup_problem(&h->tlsa, problem, sizeof(problem));
    FACT(h->tlsa_base, base);
    policy_append(out->reason, sizeof(out->reason), &used, "TLSA lookup _25._tcp.%s", base);
    if (strcmp(base, out->host) != 0)
        policy_append(out->reason, sizeof(out->reason), &used, " for %s", out->host);
    policy_append(out->reason, sizeof(out->reason), &used, ": %s", problem);
}

/* The secure part of the table: grades every host, lists them in the summary, decides. */
static void decide_hosts(const dane_facts *f, int mandatory, int implicit, const char *dom,
                         dane_decision *out, size_t *sused)
{
    size_t n = f->nhosts < DANE_HOSTS_MAX ? f->nhosts : DANE_HOSTS_MAX;
    size_t order[DANE_HOSTS_MAX], first_error = NO_HOST, rused = 0;
    dane_host_state st[DANE_HOSTS_MAX];
    char items[sizeof(out->reason)], name[DANE_NAME_MAX], item[DANE_NAME_MAX + 40], tail[32] = "";
    int any_dane = 0, listing = 1;
    size_t iused = 0;

    if (f->dropped) /* kept room for: the summary says that hosts were left out */
        snprintf(tail, sizeof(tail), " dropped=%zu", f->dropped);
    preference_order(f, order, n);
    items[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const dane_host *h = &f->hosts[order[i]];

        st[i] = dane_host_grade(h);
        if (st[i] == DANE_HOST_DANE)
            any_dane = 1;
        else if (host_unusable(st[i]) && first_error == NO_HOST)
            first_error = i;
        FACT(h->name, name);
        if (listing) {
            snprintf(item, sizeof(item), "%s:%s", name, dane_host_state_name(st[i]));
            listing = list_add(out->summary, sizeof(out->summary) - strlen(tail), sused,
                               i ? "," : " hosts=", item, i + 1 < n);
        }
    }
    policy_append(out->summary, sizeof(out->summary), sused, "%s", tail);
    if (n == 0) { /* a secure answer of hosts that could not be read, or facts without host */
        out->result = DANE_RESULT_TEMPFAIL;
        policy_append(out->reason, sizeof(out->reason), &rused, "MX RRset of %s lists no host", dom);
        return;
    }
    if (first_error != NO_HOST) {
        out->result = DANE_RESULT_TEMPFAIL;
        host_error(&f->hosts[order[first_error]], st[first_error], out);
        return;
    }
    out->pass = any_dane || !mandatory;
    if (out->pass) {
        out->result = any_dane ? DANE_RESULT_DANE : DANE_RESULT_NONE;
        return;
    }
    out->result = DANE_RESULT_TEMPFAIL;
    listing = 1;
    for (size_t i = 0; i < n && listing; i++) {
        const dane_host *h = &f->hosts[order[i]];

        FACT(h->name, name);
        snprintf(item, sizeof(item), "%s: %s", name, no_dane_text(h, st[i]));
        listing = list_add(items, sizeof(items), &iused, i ? ", " : "", item, i + 1 < n);
    }
    if (implicit)
        policy_append(out->reason, sizeof(out->reason), &rused, "%s has no MX and no usable TLSA records",
                      dom);
    else
        policy_append(out->reason, sizeof(out->reason), &rused, "no MX host of %s has usable TLSA records",
                      dom);
    if (items[0])
        policy_append(out->reason, sizeof(out->reason), &rused, " (%s)", items);
}

void dane_decide(const dane_facts *f, int mandatory, dane_decision *out)
{
    char dom[DANE_NAME_MAX], problem[DANE_WHY_MAX + 32];
    size_t sused = 0, rused = 0;
    int implicit;

    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    out->result = DANE_RESULT_TEMPFAIL;
    if (!f) {
        policy_append(out->reason, sizeof(out->reason), &rused, "no DNS facts");
        return;
    }
    FACT(f->domain, dom);
    if (lookup_failed(&f->mx)) {
        lookup_problem(&f->mx, problem, sizeof(problem));
        policy_append(out->reason, sizeof(out->reason), &rused, "MX lookup for %s: %s", dom, problem);
        policy_append(out->summary, sizeof(out->summary), &sused, "mx=%s", dane_status_name(f->mx.status));
        return;
    }
    if (is_null_mx(f)) {
        out->result = DANE_RESULT_NO_DEST;
        policy_append(out->reason, sizeof(out->reason), &rused, "null MX");
        policy_append(out->summary, sizeof(out->summary), &sused, "mx=null");
        return;
    }
    implicit = f->implicit_mx || f->mx.status == DANE_LOOKUP_NODATA;
    if (!f->mx.secure) {
        policy_append(out->summary, sizeof(out->summary), &sused, "mx=insecure");
        if (!mandatory) {
            out->result = DANE_RESULT_NONE;
            out->pass = 1;
        } else if (implicit) {
            policy_append(out->reason, sizeof(out->reason), &rused,
                          "no MX for %s, and the denial is not DNSSEC-signed", dom);
        } else {
            policy_append(out->reason, sizeof(out->reason), &rused, "MX RRset of %s is not DNSSEC-signed", dom);
        }
        return;
    }
    policy_append(out->summary, sizeof(out->summary), &sused, "mx=%s", implicit ? "implicit" : "secure");
    decide_hosts(f, mandatory, implicit, dom, out, &sused);
}

/* ---- rdata parsers ----------------------------------------------------------------------- */

int dane_parse_mx(const unsigned char *rdata, size_t len, int *preference, char *name, size_t size)
{
    size_t pos = 2, used = 0;

    if (name && size > 0)
        name[0] = '\0';
    if (!rdata || !name || size < 2 || len < 3)
        return -1;
    for (;;) {
        unsigned lab;

        if (pos >= len)
            goto bad; /* truncated before the root label */
        lab = rdata[pos];
        if (lab == 0)
            break;
        /* 0xc0 is a compression pointer (forbidden in MX rdata by RFC 3597); 0x40 and 0x80
         * are extended label types: all malformed here. Labels are thus at most 63. */
        if (lab & 0xc0)
            goto bad;
        /* the name's octets so far, its root label included, at most 255 */
        if (pos - 2 + 1 + lab + 1 > 255 || pos + 1 + lab > len)
            goto bad;
        if (used > 0) {
            if (used + 1 >= size)
                goto bad;
            name[used++] = '.';
        }
        for (size_t i = pos + 1; i <= pos + lab; i++) {
            unsigned char c = rdata[i];

            if (c >= 'A' && c <= 'Z')
                c = (unsigned char)(c - 'A' + 'a');
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
                if (used + 1 >= size)
                    goto bad;
                name[used++] = (char)c;
            } else {
                if (used + 4 >= size)
                    goto bad;
                name[used++] = '\\';
                name[used++] = (char)('0' + c / 100);
                name[used++] = (char)('0' + c / 10 % 10);
                name[used++] = (char)('0' + c % 10);
            }
        }
        pos += 1 + lab;
    }
    if (pos + 1 != len)
        goto bad; /* bytes after the name */
    if (used == 0)
        name[used++] = '.';
    name[used] = '\0';
    if (preference)
        *preference = rdata[0] << 8 | rdata[1];
    return 0;
bad:
    name[0] = '\0';
    return -1;
}

int dane_parse_tlsa(const unsigned char *rdata, size_t len, dane_tlsa *out)
{
    size_t n;

    if (!rdata || !out || len < 3 || len - 3 > 0xffff)
        return -1;
    memset(out, 0, sizeof(*out));
    out->usage = rdata[0];
    out->selector = rdata[1];
    out->mtype = rdata[2];
    n = len - 3;
    out->assoc_len = (uint16_t)n;
    out->len = (uint8_t)(n < DANE_TLSA_DATA_MAX ? n : DANE_TLSA_DATA_MAX);
    memcpy(out->data, rdata + 3, out->len);
    return 0;
}
