/* SPDX-License-Identifier: MIT */
/* Unit tests for dane: the RFC 7672 decision table at both levels with exact reasons and
 * summaries, the usable-record rules, and the MX/TLSA rdata parsers. */
#include "policy/dane.h"
#include "unit.h"

/* libc */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the decision table ------------------------------------------------------------- */

#define HOSTS_MAX 4

typedef struct hrow {
    const char *name; /* NULL ends the list */
    int preference;
    dane_lookup addr;
    const char *tlsa_base; /* NULL: same as name; "": no TLSA lookup */
    dane_lookup tlsa;
    const char *rrs; /* "U S M LEN;..." */
} hrow;

typedef struct want {
    dane_result result;
    const char *host;
    const char *reason;
} want;

typedef struct drow {
    const char *name;
    const char *domain; /* NULL: "x.example" */
    dane_lookup mx;
    int null_mx, implicit_mx;
    hrow hosts[HOSTS_MAX];
    const char *summary; /* the same at both levels */
    want dane, only;     /* level dane, level dane-only */
} drow;

#define SECURE {DANE_LOOKUP_DATA, 1, ""}
#define INSECURE {DANE_LOOKUP_DATA, 0, ""}
#define NODATA {DANE_LOOKUP_NODATA, 1, ""}
#define NODATA_INSECURE {DANE_LOOKUP_NODATA, 0, ""}
#define BOGUS(why) {DANE_LOOKUP_BOGUS, 0, why}
#define FAIL(why) {DANE_LOOKUP_FAIL, 0, why}
#define TIMEOUT {DANE_LOOKUP_TIMEOUT, 0, "no answer within 10 s"}

/* A host with a secure address; tlsa is the TLSA lookup of _25._tcp.<name>. */
#define HOST(name, pref, tlsa, rrs) {name, pref, SECURE, NULL, tlsa, rrs}

#define PASS_NONE {DANE_RESULT_NONE, "", ""}
#define PASS_DANE {DANE_RESULT_DANE, "", ""}
#define TEMPFAIL(host, reason) {DANE_RESULT_TEMPFAIL, host, reason}
#define NO_DEST {DANE_RESULT_NO_DEST, "", "null MX"}
#define NO_HOSTS {{0}} /* no host rows; {0} keeps clang's -Wmissing-field-initializers quiet */

#define WHY_MX "validation failure <x.example. MX IN>: signature expired from 192.0.2.53"
#define WHY_TLSA "validation failure <_25._tcp.mx.x.example. TLSA IN>: no signatures from 192.0.2.53"
#define SHA256 "3 1 1 32"

static const drow rows[] = {
    /* MX lookup */
    {"MX bogus", NULL, BOGUS(WHY_MX), 0, 0, NO_HOSTS, "mx=bogus",
     TEMPFAIL("", "MX lookup for x.example: DNSSEC bogus (" WHY_MX ")"),
     TEMPFAIL("", "MX lookup for x.example: DNSSEC bogus (" WHY_MX ")")},
    {"MX bogus without a reason", NULL, BOGUS(""), 0, 0, NO_HOSTS, "mx=bogus",
     TEMPFAIL("", "MX lookup for x.example: DNSSEC bogus"), TEMPFAIL("", "MX lookup for x.example: DNSSEC bogus")},
    {"MX bogus with data is still bogus", NULL, {DANE_LOOKUP_BOGUS, 1, "x"}, 0, 0,
     {HOST("mx.x.example", 10, SECURE, SHA256)}, "mx=bogus", TEMPFAIL("", "MX lookup for x.example: DNSSEC bogus (x)"),
     TEMPFAIL("", "MX lookup for x.example: DNSSEC bogus (x)")},
    {"MX SERVFAIL", NULL, FAIL("SERVFAIL"), 0, 0, NO_HOSTS, "mx=fail",
     TEMPFAIL("", "MX lookup for x.example: SERVFAIL"), TEMPFAIL("", "MX lookup for x.example: SERVFAIL")},
    {"MX failure without a reason", NULL, FAIL(""), 0, 0, NO_HOSTS, "mx=fail",
     TEMPFAIL("", "MX lookup for x.example: lookup failed"), TEMPFAIL("", "MX lookup for x.example: lookup failed")},
    {"MX timeout", NULL, TIMEOUT, 0, 0, NO_HOSTS, "mx=timeout", TEMPFAIL("", "MX lookup for x.example: timed out"),
     TEMPFAIL("", "MX lookup for x.example: timed out")},
    {"MX status out of range counts as failure", NULL, {(dane_status)42, 1, ""}, 0, 0, NO_HOSTS, "mx=unknown",
     TEMPFAIL("", "MX lookup for x.example: lookup failed"), TEMPFAIL("", "MX lookup for x.example: lookup failed")},

    /* null MX */
    {"null MX", NULL, SECURE, 1, 0, {{".", 0, SECURE, "", NODATA, NULL}}, "mx=null", NO_DEST, NO_DEST},
    {"null MX found without the flag", NULL, SECURE, 0, 0, {{".", 0, SECURE, "", NODATA, NULL}}, "mx=null", NO_DEST,
     NO_DEST},
    {"insecure null MX", NULL, INSECURE, 1, 0, NO_HOSTS, "mx=null", NO_DEST, NO_DEST},

    /* insecure MX */
    {"insecure MX", NULL, INSECURE, 0, 0, {HOST("mx.x.example", 10, SECURE, SHA256)}, "mx=insecure", PASS_NONE,
     TEMPFAIL("", "MX RRset of x.example is not DNSSEC-signed")},
    {"insecure denial of MX", NULL, NODATA_INSECURE, 0, 1, {HOST("x.example", 0, SECURE, SHA256)}, "mx=insecure",
     PASS_NONE, TEMPFAIL("", "no MX for x.example, and the denial is not DNSSEC-signed")},

    /* implicit MX */
    {"implicit MX, 3 1 1", NULL, NODATA, 0, 1, {HOST("x.example", 0, SECURE, SHA256)},
     "mx=implicit hosts=x.example:dane", PASS_DANE, PASS_DANE},
    {"implicit MX from NODATA without the flag", NULL, NODATA, 0, 0, {HOST("x.example", 0, SECURE, SHA256)},
     "mx=implicit hosts=x.example:dane", PASS_DANE, PASS_DANE},
    {"implicit MX, no TLSA", NULL, NODATA, 0, 1, {HOST("x.example", 0, NODATA, NULL)},
     "mx=implicit hosts=x.example:no-tlsa", PASS_NONE,
     TEMPFAIL("", "x.example has no MX and no usable TLSA records (x.example: no TLSA records)")},

    /* secure MX, one host */
    {"secure, 3 1 1", NULL, SECURE, 0, 0, {HOST("mx.x.example", 10, SECURE, SHA256)},
     "mx=secure hosts=mx.x.example:dane", PASS_DANE, PASS_DANE},
    {"secure, 2 0 1 at a CNAME'd TLSA base", NULL, SECURE, 0, 0,
     {{"mx.x.example", 10, SECURE, "mx.provider.example", SECURE, "2 0 1 32"}}, "mx=secure hosts=mx.x.example:dane",
     PASS_DANE, PASS_DANE},
    {"secure, 3 0 2 and 2 1 0", NULL, SECURE, 0, 0, {HOST("mx.x.example", 10, SECURE, "3 0 2 64;2 1 0 64")},
     "mx=secure hosts=mx.x.example:dane", PASS_DANE, PASS_DANE},
    {"PKIX-only: usages 0 and 1", NULL, SECURE, 0, 0, {HOST("mx.x.example", 10, SECURE, "0 0 1 32;1 1 1 32")},
     "mx=secure hosts=mx.x.example:no-usable-tlsa", PASS_NONE,
     TEMPFAIL("", "no MX host of x.example has usable TLSA records (mx.x.example: PKIX-only TLSA)")},
    {"PKIX next to a malformed DANE-EE", NULL, SECURE, 0, 0,
     {HOST("mx.x.example", 10, SECURE, "1 1 1 32;3 2 1 32;3 1 1 20;3 1 3 32")},
     "mx=secure hosts=mx.x.example:no-usable-tlsa", PASS_NONE,
     TEMPFAIL("", "no MX host of x.example has usable TLSA records (mx.x.example: no usable TLSA records)")},
    {"secure TLSA answer with no records kept", NULL, SECURE, 0, 0, {HOST("mx.x.example", 10, SECURE, NULL)},
     "mx=secure hosts=mx.x.example:no-usable-tlsa", PASS_NONE,
     TEMPFAIL("", "no MX host of x.example has usable TLSA records (mx.x.example: no usable TLSA records)")},
    {"secure, no TLSA", NULL, SECURE, 0, 0, {HOST("mx.x.example", 10, NODATA, NULL)},
     "mx=secure hosts=mx.x.example:no-tlsa", PASS_NONE,
     TEMPFAIL("", "no MX host of x.example has usable TLSA records (mx.x.example: no TLSA records)")},
    {"insecure TLSA answer", NULL, SECURE, 0, 0, {HOST("mx.x.example", 10, INSECURE, SHA256)},
     "mx=secure hosts=mx.x.example:insecure", PASS_NONE,
     TEMPFAIL("", "no MX host of x.example has usable TLSA records (mx.x.example: TLSA records not DNSSEC-signed)")},
    {"insecure address, no TLSA lookup", NULL, SECURE, 0, 0, {{"mx.x.example", 10, INSECURE, "", NODATA, NULL}},
     "mx=secure hosts=mx.x.example:insecure", PASS_NONE,
     TEMPFAIL("", "no MX host of x.example has usable TLSA records (mx.x.example: address records not "
                  "DNSSEC-signed)")},
    {"insecure address through a secure CNAME: TLSA applies", NULL, SECURE, 0, 0,
     {{"mx.x.example", 10, INSECURE, "mx.x.example", SECURE, SHA256}}, "mx=secure hosts=mx.x.example:dane", PASS_DANE,
     PASS_DANE},
    {"secure address, no TLSA lookup made", NULL, SECURE, 0, 0, {{"mx.x.example", 10, SECURE, "", NODATA, NULL}},
     "mx=secure hosts=mx.x.example:no-tlsa", PASS_NONE,
     TEMPFAIL("", "no MX host of x.example has usable TLSA records (mx.x.example: no TLSA records)")},
    /* a secure answer whose hosts could not be read is not "nothing to check" */
    {"secure MX RRset without hosts", NULL, SECURE, 0, 0, NO_HOSTS, "mx=secure",
     TEMPFAIL("", "MX RRset of x.example lists no host"), TEMPFAIL("", "MX RRset of x.example lists no host")},
    {"implicit MX without the host", NULL, NODATA, 0, 1, NO_HOSTS, "mx=implicit",
     TEMPFAIL("", "MX RRset of x.example lists no host"), TEMPFAIL("", "MX RRset of x.example lists no host")},

    /* lookup errors */
    {"TLSA bogus", NULL, SECURE, 0, 0, {HOST("mx.x.example", 10, BOGUS(WHY_TLSA), SHA256)},
     "mx=secure hosts=mx.x.example:tlsa-bogus",
     TEMPFAIL("mx.x.example", "TLSA lookup _25._tcp.mx.x.example: DNSSEC bogus (" WHY_TLSA ")"),
     TEMPFAIL("mx.x.example", "TLSA lookup _25._tcp.mx.x.example: DNSSEC bogus (" WHY_TLSA ")")},
    {"TLSA bogus at a CNAME'd base", NULL, SECURE, 0, 0,
     {{"mx.x.example", 10, SECURE, "mx.provider.example", BOGUS("expired"), NULL}},
     "mx=secure hosts=mx.x.example:tlsa-bogus",
     TEMPFAIL("mx.x.example", "TLSA lookup _25._tcp.mx.provider.example for mx.x.example: DNSSEC bogus (expired)"),
     TEMPFAIL("mx.x.example", "TLSA lookup _25._tcp.mx.provider.example for mx.x.example: DNSSEC bogus (expired)")},
    {"one host error among others", NULL, SECURE, 0, 0,
     {HOST("mx1.x.example", 10, SECURE, SHA256), HOST("mx2.x.example", 20, FAIL("SERVFAIL"), NULL),
      HOST("mx3.x.example", 30, NODATA, NULL)},
     "mx=secure hosts=mx1.x.example:dane,mx2.x.example:tlsa-error,mx3.x.example:no-tlsa",
     TEMPFAIL("mx2.x.example", "TLSA lookup _25._tcp.mx2.x.example: SERVFAIL"),
     TEMPFAIL("mx2.x.example", "TLSA lookup _25._tcp.mx2.x.example: SERVFAIL")},
    {"one address error among others", NULL, SECURE, 0, 0,
     {{"mx1.x.example", 10, BOGUS("bad sig"), "", NODATA, NULL}, HOST("mx2.x.example", 20, SECURE, SHA256)},
     "mx=secure hosts=mx1.x.example:addr-error,mx2.x.example:dane",
     TEMPFAIL("mx1.x.example", "address lookup for mx1.x.example: DNSSEC bogus (bad sig)"),
     TEMPFAIL("mx1.x.example", "address lookup for mx1.x.example: DNSSEC bogus (bad sig)")},
    {"all hosts error: the first in preference order is named", NULL, SECURE, 0, 0,
     {{"mx2.x.example", 20, FAIL("REFUSED"), "", NODATA, NULL}, HOST("mx1.x.example", 10, TIMEOUT, NULL)},
     "mx=secure hosts=mx1.x.example:tlsa-error,mx2.x.example:addr-error",
     TEMPFAIL("mx1.x.example", "TLSA lookup _25._tcp.mx1.x.example: timed out"),
     TEMPFAIL("mx1.x.example", "TLSA lookup _25._tcp.mx1.x.example: timed out")},
    {"address timeout", NULL, SECURE, 0, 0, {{"mx.x.example", 10, TIMEOUT, "", NODATA, NULL}},
     "mx=secure hosts=mx.x.example:addr-error", TEMPFAIL("mx.x.example", "address lookup for mx.x.example: timed out"),
     TEMPFAIL("mx.x.example", "address lookup for mx.x.example: timed out")},

    /* several hosts without errors */
    {"preference order, ties in published order", NULL, SECURE, 0, 0,
     {HOST("c.x.example", 20, NODATA, NULL), HOST("a.x.example", 10, SECURE, "0 0 1 32"),
      HOST("d.x.example", 20, SECURE, SHA256), HOST("b.x.example", 10, NODATA, NULL)},
     "mx=secure hosts=a.x.example:no-usable-tlsa,b.x.example:no-tlsa,c.x.example:no-tlsa,d.x.example:dane", PASS_DANE,
     PASS_DANE},
    {"no host has DANE: each named", NULL, SECURE, 0, 0,
     {HOST("mx1.x.example", 10, SECURE, "1 0 1 32"), HOST("mx2.x.example", 20, NODATA, NULL),
      {"mx3.x.example", 30, INSECURE, "", NODATA, NULL}},
     "mx=secure hosts=mx1.x.example:no-usable-tlsa,mx2.x.example:no-tlsa,mx3.x.example:insecure", PASS_NONE,
     TEMPFAIL("", "no MX host of x.example has usable TLSA records (mx1.x.example: PKIX-only TLSA, mx2.x.example: "
                  "no TLSA records, mx3.x.example: address records not DNSSEC-signed)")},

    /* hostile text */
    {"control bytes and spaces sanitised", "x exa\rmple", FAIL("bad\r\nthing\x01"), 0, 0, NO_HOSTS, "mx=fail",
     TEMPFAIL("", "MX lookup for x?exa?mple: bad??thing?"), TEMPFAIL("", "MX lookup for x?exa?mple: bad??thing?")},
    {"host name with a space", NULL, SECURE, 0, 0, {{"mx x.example", 10, BOGUS("a b"), "", NODATA, NULL}},
     "mx=secure hosts=mx?x.example:addr-error",
     TEMPFAIL("mx?x.example", "address lookup for mx?x.example: DNSSEC bogus (a b)"),
     TEMPFAIL("mx?x.example", "address lookup for mx?x.example: DNSSEC bogus (a b)")},
};

/* "U S M LEN;..." into TLSA records; data bytes are a pattern, lengths are what count. */
static size_t parse_rrs(const char *spec, dane_tlsa *rr, size_t max)
{
    size_t n = 0;

    while (spec && *spec && n < max) {
        unsigned u, s, m, len;
        if (sscanf(spec, "%u %u %u %u", &u, &s, &m, &len) != 4)
            abort();
        memset(&rr[n], 0, sizeof(rr[n]));
        rr[n].usage = (uint8_t)u;
        rr[n].selector = (uint8_t)s;
        rr[n].mtype = (uint8_t)m;
        rr[n].len = (uint8_t)len;
        memset(rr[n].data, 0xa5, len);
        n++;
        spec = strchr(spec, ';');
        if (spec)
            spec++;
    }
    return n;
}

static void build(const drow *r, dane_facts *f)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->domain, sizeof(f->domain), "%s", r->domain ? r->domain : "x.example");
    f->mx = r->mx;
    f->null_mx = r->null_mx;
    f->implicit_mx = r->implicit_mx;
    for (size_t i = 0; i < HOSTS_MAX && r->hosts[i].name; i++) {
        const hrow *h = &r->hosts[i];
        dane_host *d = &f->hosts[f->nhosts++];

        snprintf(d->name, sizeof(d->name), "%s", h->name);
        d->preference = h->preference;
        d->addr = h->addr;
        snprintf(d->tlsa_base, sizeof(d->tlsa_base), "%s", h->tlsa_base ? h->tlsa_base : h->name);
        d->tlsa = h->tlsa;
        d->ntlsa = parse_rrs(h->rrs, d->tlsa_rr, DANE_TLSA_MAX);
    }
}

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

static void check(const char *row, const char *level, const dane_decision *d, const want *w, const char *summary)
{
    char what[64];
    int pass = w->result == DANE_RESULT_NONE || w->result == DANE_RESULT_DANE;

#define WHAT(field) (snprintf(what, sizeof(what), "%s %s", level, field), what)
    unit_str(row, WHAT("result"), dane_result_name(d->result), dane_result_name(w->result));
    unit_int(row, WHAT("pass"), d->pass, pass);
    unit_str(row, WHAT("host"), d->host, w->host);
    unit_str(row, WHAT("reason"), d->reason, w->reason);
    unit_str(row, WHAT("summary"), d->summary, summary);
    unit_int(row, WHAT("printable"), printable(d->reason) && printable(d->summary) && printable(d->host), 1);
#undef WHAT
}

static void run_rows(void)
{
    dane_facts *f = malloc(sizeof(*f));
    dane_decision d;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        build(&rows[i], f);
        memset(&d, 0x5a, sizeof(d)); /* every field must be written */
        dane_decide(f, 0, &d);
        check(rows[i].name, "dane", &d, &rows[i].dane, rows[i].summary);
        memset(&d, 0x5a, sizeof(d));
        dane_decide(f, 1, &d);
        check(rows[i].name, "dane-only", &d, &rows[i].only, rows[i].summary);
    }
    free(f);
}

/* Fields filled to the brim without NUL, more hosts and records than fit: bounded output. */
static void test_bounds(void)
{
    dane_facts *f = calloc(1, sizeof(*f));
    dane_decision d;
    static const char want_start[] = "mx=secure hosts=";

    dane_decide(NULL, 1, &d);
    unit_str("NULL facts", "result", dane_result_name(d.result), "tempfail");
    unit_str("NULL facts", "reason", d.reason, "no DNS facts");
    unit_str("NULL facts", "summary", d.summary, "");
    dane_decide(f, 0, NULL); /* no crash */

    memset(f->domain, 'd', sizeof(f->domain));
    f->mx.status = DANE_LOOKUP_DATA;
    f->mx.secure = 1;
    f->nhosts = 1000; /* only DANE_HOSTS_MAX are read */
    for (size_t i = 0; i < DANE_HOSTS_MAX; i++) {
        dane_host *h = &f->hosts[i];
        memset(h->name, 'a' + (int)i, sizeof(h->name));
        h->addr.status = DANE_LOOKUP_DATA;
        h->addr.secure = 1;
        memset(h->tlsa_base, 'b', sizeof(h->tlsa_base));
        h->tlsa.status = DANE_LOOKUP_DATA;
        h->tlsa.secure = 1;
        h->ntlsa = 1000; /* only DANE_TLSA_MAX are read */
        for (size_t j = 0; j < DANE_TLSA_MAX; j++)
            h->tlsa_rr[j].usage = 1;
        memset(h->addr.why, 'w', sizeof(h->addr.why));
        memset(h->tlsa.why, 'w', sizeof(h->tlsa.why));
    }
    dane_decide(f, 1, &d);
    unit_str("long names", "result", dane_result_name(d.result), "tempfail");
    unit_int("long names", "summary bounded", strlen(d.summary) < sizeof(d.summary), 1);
    unit_int("long names", "summary starts", strncmp(d.summary, want_start, sizeof(want_start) - 1), 0);
    unit_int("long names", "summary cut with ,...",
             strlen(d.summary) > 4 && strcmp(d.summary + strlen(d.summary) - 4, ",...") == 0, 1);
    unit_int("long names", "reason bounded", strlen(d.reason) < sizeof(d.reason), 1);
    unit_int("long names", "host bounded", strlen(d.host) < sizeof(d.host), 1);
    unit_int("long names", "printable", printable(d.summary) && printable(d.reason), 1);

    /* The first host's TLSA lookup fails, with a why that fills its array. */
    f->hosts[0].tlsa.status = DANE_LOOKUP_BOGUS;
    dane_decide(f, 0, &d);
    unit_int("long why", "host is the first", d.host[0] == 'a' && strlen(d.host) == DANE_NAME_MAX - 1, 1);
    unit_int("long why", "reason bounded", strlen(d.reason) == sizeof(d.reason) - 1, 1);
    unit_int("long why", "printable", printable(d.reason), 1);

    /* One short host and a last one that no longer fits. */
    memset(f, 0, sizeof(*f));
    snprintf(f->domain, sizeof(f->domain), "x.example");
    f->mx.status = DANE_LOOKUP_DATA;
    f->mx.secure = 1;
    f->nhosts = 3;
    for (size_t i = 0; i < 3; i++) {
        f->hosts[i].addr.status = DANE_LOOKUP_DATA;
        f->hosts[i].addr.secure = 1;
        f->hosts[i].preference = (int)i;
    }
    snprintf(f->hosts[0].name, sizeof(f->hosts[0].name), "mx.x.example");
    memset(f->hosts[1].name, 'n', 250);
    memset(f->hosts[2].name, 'm', 250);
    dane_decide(f, 0, &d);
    {
        char expect[DANE_SUMMARY_MAX];
        snprintf(expect, sizeof(expect), "mx=secure hosts=mx.x.example:no-tlsa,%.250s:no-tlsa,...",
                 f->hosts[1].name);
        unit_str("summary cut", "summary", d.summary, expect);
    }
    free(f);
}

/* ---- CNAME lookups and the host limit ---------------------------------------------------- */

/* One host mx.x.example whose address answer is insecure and came through a CNAME: the CNAME
 * lookup decides whether TLSA applies. Its failure is the host's error at both levels. */
static void test_cname(void)
{
    static const struct {
        const char *name;
        dane_lookup cname;
        const char *reason;
    } crows[] = {
        {"CNAME lookup SERVFAIL", FAIL("SERVFAIL (rcode 2)"), "CNAME lookup for mx.x.example: SERVFAIL (rcode 2)"},
        {"CNAME lookup timed out", TIMEOUT, "CNAME lookup for mx.x.example: timed out"},
        {"CNAME lookup bogus", BOGUS("no signatures"), "CNAME lookup for mx.x.example: DNSSEC bogus (no signatures)"},
        {"CNAME status out of range", {(dane_status)7, 1, ""}, "CNAME lookup for mx.x.example: lookup failed"},
    };
    dane_facts *f = calloc(1, sizeof(*f));
    dane_decision d;

    for (size_t i = 0; i < sizeof(crows) / sizeof(crows[0]); i++) {
        memset(f, 0, sizeof(*f));
        snprintf(f->domain, sizeof(f->domain), "x.example");
        f->mx = (dane_lookup)SECURE;
        f->nhosts = 2;
        snprintf(f->hosts[0].name, sizeof(f->hosts[0].name), "mx.x.example");
        f->hosts[0].preference = 10;
        f->hosts[0].addr = (dane_lookup)INSECURE;
        f->hosts[0].cname = crows[i].cname; /* no TLSA lookup made: tlsa_base "" */
        snprintf(f->hosts[1].name, sizeof(f->hosts[1].name), "mx2.x.example");
        f->hosts[1].preference = 20;
        f->hosts[1].addr = (dane_lookup)INSECURE;
        for (int only = 0; only < 2; only++) {
            want w = TEMPFAIL("mx.x.example", crows[i].reason);
            memset(&d, 0x5a, sizeof(d));
            dane_decide(f, only, &d);
            check(crows[i].name, only ? "dane-only" : "dane", &d, &w,
                  "mx=secure hosts=mx.x.example:cname-error,mx2.x.example:insecure");
        }
    }
    /* A secure first hop, TLSA at the original name (the row above in the table), and an
     * insecure one: no TLSA, no error. */
    f->hosts[0].cname = (dane_lookup)INSECURE;
    dane_decide(f, 0, &d);
    unit_str("insecure CNAME", "result", dane_result_name(d.result), "none");
    unit_str("insecure CNAME", "summary", d.summary, "mx=secure hosts=mx.x.example:insecure,mx2.x.example:insecure");
    free(f);
}

/* Hosts beyond DANE_HOSTS_MAX are counted in the summary; the kept hosts' errors count. */
static void test_dropped(void)
{
    dane_facts *f = calloc(1, sizeof(*f));
    dane_decision d;
    size_t len;

    snprintf(f->domain, sizeof(f->domain), "x.example");
    f->mx = (dane_lookup)SECURE;
    f->nhosts = DANE_HOSTS_MAX;
    f->dropped = 4;
    for (size_t i = 0; i < DANE_HOSTS_MAX; i++) {
        snprintf(f->hosts[i].name, sizeof(f->hosts[i].name), "m%zu", i);
        f->hosts[i].preference = (int)i;
        f->hosts[i].addr = (dane_lookup)SECURE;
        snprintf(f->hosts[i].tlsa_base, sizeof(f->hosts[i].tlsa_base), "m%zu", i);
        f->hosts[i].tlsa = (dane_lookup)NODATA;
    }
    dane_decide(f, 0, &d);
    unit_str("dropped", "result", dane_result_name(d.result), "none");
    len = strlen(d.summary);
    unit_int("dropped", "summary ends with dropped=4",
             len > 10 && strcmp(d.summary + len - 10, " dropped=4") == 0, 1);
    unit_int("dropped", "summary lists the last kept host", strstr(d.summary, ",m15:no-tlsa dropped=4") != NULL, 1);

    /* Long names: the list is cut, the count still fits. */
    for (size_t i = 0; i < DANE_HOSTS_MAX; i++)
        memset(f->hosts[i].name, 'a' + (int)i, 200);
    dane_decide(f, 0, &d);
    len = strlen(d.summary);
    unit_int("dropped, long names", "summary ends with ,... dropped=4",
             len > 14 && strcmp(d.summary + len - 14, ",... dropped=4") == 0, 1);
    unit_int("dropped, long names", "summary bounded", len < sizeof(d.summary), 1);
    snprintf(f->hosts[0].name, sizeof(f->hosts[0].name), "m0");

    f->hosts[0].addr = (dane_lookup)FAIL("SERVFAIL (rcode 2)");
    dane_decide(f, 0, &d);
    unit_str("dropped, first host fails", "result", dane_result_name(d.result), "tempfail");
    unit_str("dropped, first host fails", "reason", d.reason, "address lookup for m0: SERVFAIL (rcode 2)");
    free(f);
}

/* ---- usable records ------------------------------------------------------------------ */

static const struct {
    const char *name;
    dane_tlsa rr;
    int usable;
} usable_rows[] = {
    {"3 1 1 sha256", {3, 1, 1, 32, {0}, 0}, 1},
    {"2 0 1 sha256", {2, 0, 1, 32, {0}, 0}, 1},
    {"3 0 2 sha512", {3, 0, 2, 64, {0}, 0}, 1},
    {"2 1 2 sha512", {2, 1, 2, 64, {0}, 0}, 1},
    {"3 1 0 full data kept whole", {3, 1, 0, 40, {0}, 40}, 1},
    {"3 1 0 full data longer than kept", {3, 1, 0, 64, {0}, 294}, 1},
    {"2 0 0 built by hand (assoc_len 0)", {2, 0, 0, 10, {0}, 0}, 1},
    {"3 1 0 empty", {3, 1, 0, 0, {0}, 0}, 0},
    {"usage 0 PKIX-TA", {0, 0, 1, 32, {0}, 0}, 0},
    {"usage 1 PKIX-EE", {1, 1, 1, 32, {0}, 0}, 0},
    {"usage 4", {4, 1, 1, 32, {0}, 0}, 0},
    {"usage 255", {255, 1, 1, 32, {0}, 0}, 0},
    {"selector 2", {3, 2, 1, 32, {0}, 0}, 0},
    {"selector 255", {3, 255, 1, 32, {0}, 0}, 0},
    {"mtype 3", {3, 1, 3, 32, {0}, 0}, 0},
    {"mtype 255", {3, 1, 255, 32, {0}, 0}, 0},
    {"sha256 of 31 bytes", {3, 1, 1, 31, {0}, 0}, 0},
    {"sha256 of 33 bytes", {3, 1, 1, 33, {0}, 0}, 0},
    {"sha256 of 64 bytes", {3, 1, 1, 64, {0}, 0}, 0},
    {"sha512 of 32 bytes", {3, 1, 2, 32, {0}, 0}, 0},
    {"sha512 of 65 bytes published", {3, 1, 2, 64, {0}, 65}, 0},
    {"sha256 empty", {3, 1, 1, 0, {0}, 0}, 0},
};

static void test_usable(void)
{
    for (size_t i = 0; i < sizeof(usable_rows) / sizeof(usable_rows[0]); i++)
        unit_int(usable_rows[i].name, "usable", dane_tlsa_usable(&usable_rows[i].rr), usable_rows[i].usable);
    unit_int("NULL record", "usable", dane_tlsa_usable(NULL), 0);
}

static void test_names(void)
{
    static const char *const statuses[] = {"data", "nodata", "bogus", "fail", "timeout"};
    static const char *const results[] = {"none", "dane", "tempfail", "no-dest"};

    for (size_t i = 0; i < 5; i++)
        unit_str(statuses[i], "status name", dane_status_name((dane_status)i), statuses[i]);
    for (size_t i = 0; i < 4; i++)
        unit_str(results[i], "result name", dane_result_name((dane_result)i), results[i]);
    unit_str("status 5", "status name", dane_status_name((dane_status)5), "unknown");
    unit_str("result -1", "result name", dane_result_name((dane_result)-1), "unknown");
}

/* ---- rdata parsers ------------------------------------------------------------------- */

#define RD(s) (const unsigned char *)(s), sizeof(s) - 1

static const struct {
    const char *name;
    const unsigned char *rdata;
    size_t len;
    int rc, preference;
    const char *want;
} mx_rows[] = {
    {"mx.x.example, uppercase", RD("\x00\x0a\x02MX\x01X\x07" "EXAMPLE\x00"), 0, 10, "mx.x.example"},
    {"preference 65535", RD("\xff\xff\x01" "a\x00"), 0, 65535, "a"},
    {"null MX", RD("\x00\x00\x00"), 0, 0, "."},
    {"escapes", RD("\x00\x01\x05" "a.b c\x03" "d\\\xff\x00"), 0, 1, "a\\046b\\032c.d\\092\\255"},
    {"underscore and hyphen", RD("\x00\x01\x06_a-b09\x00"), 0, 1, "_a-b09"},
    {"empty", RD(""), -1, 0, ""},
    {"preference only", RD("\x00\x0a"), -1, 0, ""},
    {"no root label", RD("\x00\x0a\x02mx"), -1, 0, ""},
    {"label runs past the end", RD("\x00\x0a\x05mx\x00"), -1, 0, ""},
    {"compression pointer", RD("\x00\x0a\xc0\x0c"), -1, 0, ""},
    {"compression pointer after a label", RD("\x00\x0a\x02mx\xc0\x0c"), -1, 0, ""},
    {"label type 0x40", RD("\x00\x0a\x41" "a\x00"), -1, 0, ""},
    {"label type 0x80", RD("\x00\x0a\x81" "a\x00"), -1, 0, ""},
    {"bytes after the name", RD("\x00\x0a\x01" "a\x00\x00"), -1, 0, ""},
};

static void test_parse_mx(void)
{
    unsigned char rd[300];
    char name[DANE_NAME_MAX], small[4];
    int pref;

    for (size_t i = 0; i < sizeof(mx_rows) / sizeof(mx_rows[0]); i++) {
        memset(name, 'Z', sizeof(name));
        pref = -1;
        unit_int(mx_rows[i].name, "rc", dane_parse_mx(mx_rows[i].rdata, mx_rows[i].len, &pref, name, sizeof(name)),
                 mx_rows[i].rc);
        unit_str(mx_rows[i].name, "name", name, mx_rows[i].want);
        unit_int(mx_rows[i].name, "preference", pref, mx_rows[i].rc == 0 ? mx_rows[i].preference : -1);
    }

    /* label of 63 accepted; 64 is type 0x40 and refused (the length byte itself says so) */
    rd[0] = 0, rd[1] = 5, rd[2] = 63;
    memset(rd + 3, 'a', 63);
    rd[66] = 0;
    unit_int("label of 63", "rc", dane_parse_mx(rd, 67, &pref, name, sizeof(name)), 0);
    unit_int("label of 63", "length", (long)strlen(name), 63);
    rd[2] = 64;
    memset(rd + 3, 'a', 64);
    rd[67] = 0;
    unit_int("label of 64", "rc", dane_parse_mx(rd, 68, &pref, name, sizeof(name)), -1);

    /* names of 255 and 256 octets: 3 labels of 63, then one of 61 or 62, then the root */
    for (int last = 61; last <= 62; last++) {
        size_t pos = 2;
        for (int l = 0; l < 4; l++) {
            int n = l < 3 ? 63 : last;
            rd[pos++] = (unsigned char)n;
            memset(rd + pos, 'a' + l, (size_t)n);
            pos += (size_t)n;
        }
        rd[pos++] = 0;
        if (last == 61) {
            unit_int("name of 255 octets", "rc", dane_parse_mx(rd, pos, &pref, name, sizeof(name)), 0);
            unit_int("name of 255 octets", "length", (long)strlen(name), 253);
            unit_int("name of 255 octets", "output too small", dane_parse_mx(rd, pos, &pref, name, 253), -1);
            unit_str("name of 255 octets", "output too small", name, "");
        } else {
            unit_int("name of 256 octets", "rc", dane_parse_mx(rd, pos, &pref, name, sizeof(name)), -1);
            unit_str("name of 256 octets", "name", name, "");
        }
    }

    unit_int("escape does not fit", "rc", dane_parse_mx(RD("\x00\x01\x01 \x00"), &pref, small, 4), -1);
    {
        char five[5];
        unit_int("escape fits exactly", "rc", dane_parse_mx(RD("\x00\x01\x01 \x00"), &pref, five, 5), 0);
        unit_str("escape fits exactly", "name", five, "\\032");
    }
    unit_int("root into 2 bytes", "rc", dane_parse_mx(RD("\x00\x00\x00"), NULL, small, 2), 0);
    unit_str("root into 2 bytes", "name", small, ".");
    unit_int("NULL rdata", "rc", dane_parse_mx(NULL, 3, &pref, name, sizeof(name)), -1);
    unit_int("NULL name", "rc", dane_parse_mx(RD("\x00\x00\x00"), &pref, NULL, 10), -1);
    unit_int("size 1", "rc", dane_parse_mx(RD("\x00\x00\x00"), &pref, small, 1), -1);
}

static void test_parse_tlsa(void)
{
    unsigned char rd[3 + 300];
    dane_tlsa rr;

    rd[0] = 3, rd[1] = 1, rd[2] = 1;
    for (size_t i = 0; i < 300; i++)
        rd[3 + i] = (unsigned char)i;
    unit_int("3 1 1", "rc", dane_parse_tlsa(rd, 3 + 32, &rr), 0);
    unit_int("3 1 1", "usage", rr.usage, 3);
    unit_int("3 1 1", "selector", rr.selector, 1);
    unit_int("3 1 1", "mtype", rr.mtype, 1);
    unit_int("3 1 1", "len", rr.len, 32);
    unit_int("3 1 1", "assoc_len", rr.assoc_len, 32);
    unit_int("3 1 1", "data", memcmp(rr.data, rd + 3, 32), 0);
    unit_int("3 1 1", "usable", dane_tlsa_usable(&rr), 1);

    rd[0] = 2, rd[1] = 0, rd[2] = 2;
    unit_int("2 0 2", "rc", dane_parse_tlsa(rd, 3 + 64, &rr), 0);
    unit_int("2 0 2", "len", rr.len, 64);
    unit_int("2 0 2", "usable", dane_tlsa_usable(&rr), 1);

    rd[0] = 3, rd[1] = 1, rd[2] = 0;
    unit_int("3 1 0 of 294 bytes", "rc", dane_parse_tlsa(rd, 3 + 294, &rr), 0);
    unit_int("3 1 0 of 294 bytes", "len kept", rr.len, DANE_TLSA_DATA_MAX);
    unit_int("3 1 0 of 294 bytes", "assoc_len", rr.assoc_len, 294);
    unit_int("3 1 0 of 294 bytes", "data", memcmp(rr.data, rd + 3, DANE_TLSA_DATA_MAX), 0);
    unit_int("3 1 0 of 294 bytes", "usable", dane_tlsa_usable(&rr), 1);

    rd[0] = 1, rd[1] = 1, rd[2] = 1;
    unit_int("1 1 1 PKIX-EE", "rc", dane_parse_tlsa(rd, 3 + 32, &rr), 0);
    unit_int("1 1 1 PKIX-EE", "usable", dane_tlsa_usable(&rr), 0);

    rd[0] = 3, rd[1] = 1, rd[2] = 1;
    unit_int("3 1 1 of 31 bytes", "rc", dane_parse_tlsa(rd, 3 + 31, &rr), 0);
    unit_int("3 1 1 of 31 bytes", "usable", dane_tlsa_usable(&rr), 0);
    unit_int("no data", "rc", dane_parse_tlsa(rd, 3, &rr), 0);
    unit_int("no data", "len", rr.len, 0);
    unit_int("no data", "usable", dane_tlsa_usable(&rr), 0);
    unit_int("truncated: 2 bytes", "rc", dane_parse_tlsa(rd, 2, &rr), -1);
    unit_int("truncated: empty", "rc", dane_parse_tlsa(rd, 0, &rr), -1);
    unit_int("over 65535 data bytes", "rc", dane_parse_tlsa(rd, 3 + 65536, &rr), -1);
    unit_int("NULL rdata", "rc", dane_parse_tlsa(NULL, 35, &rr), -1);
    unit_int("NULL out", "rc", dane_parse_tlsa(rd, 35, NULL), -1);
}

int main(void)
{
    run_rows();
    test_bounds();
    test_cname();
    test_dropped();
    test_usable();
    test_names();
    test_parse_mx();
    test_parse_tlsa();
    return unit_report("test_dane");
}
