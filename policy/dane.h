/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_DANE_H
#define TLSGUARD_DANE_H

/*
 * dane - DNS facts about a recipient domain's DANE status (RFC 7672), and the pure decision
 * the policy levels `dane` and `dane-only` take from them.
 *
 * The resolver adapter (dns/dane_lookup.c, with libunbound) performs the lookups and
 * grades each one into a dane_lookup; it applies the CNAME rules of RFC 7672 section 2.2.3
 * when it chooses the TLSA base name of a host. This module only reads those facts: it does
 * no I/O. A dane_facts value is plain data, copied freely, owned by whoever holds it.
 * Nothing here fails or keeps state: every function is pure and thread-safe.
 *
 * Decision (dane_decide), first explicit answer wins:
 *   MX lookup bogus or failed (SERVFAIL, timeout)   -> tempfail, never a downgrade
 *   null MX (RFC 7505)                               -> no destination: permanent failure
 *   MX answer insecure (records or denial)           -> no DANE (dane-only: tempfail)
 *   no MX (secure NODATA/NXDOMAIN for MX)            -> the domain itself is the only host
 *   secure MX answer (or implicit MX) with no host   -> tempfail (a malformed answer is
 *                                                       never "nothing to check")
 *   per host, in preference order (stable: ties keep their order in hosts[]):
 *     address lookup bogus or failed                 -> host unusable (addr-error)
 *     CNAME lookup (see cname) bogus or failed       -> host unusable (cname-error)
 *     TLSA lookup bogus                              -> host unusable (tlsa-bogus)
 *     TLSA lookup failed or timed out                -> host unusable (tlsa-error)
 *     no TLSA lookup (tlsa_base ""), address insecure -> no DANE for this host (insecure)
 *     no TLSA lookup, address secure                 -> no DANE for this host (no-tlsa)
 *     TLSA answer insecure                           -> no DANE for this host (insecure)
 *     TLSA secure NXDOMAIN or NODATA                 -> no DANE for this host (no-tlsa)
 *     TLSA secure with >= 1 usable record            -> DANE host: authentication mandatory (dane)
 *     TLSA secure, no usable record                  -> TLS mandatory, unauthenticated
 *                                                       (no-usable-tlsa)
 *   both levels: any host error -> tempfail, naming the first such host; a lookup error may
 *                hide a DANE host, and DNS errors never downgrade
 *   Only the DANE_HOSTS_MAX most preferred hosts are facts (dane_lookup sorts the whole MX
 *   RRset by preference, then name, before it keeps them); `dropped` counts the others.
 *   level dane:      else pass (result dane if >= 1 DANE host, else none)
 *   level dane-only: else pass only if >= 1 DANE host; otherwise tempfail
 * A lookup status outside the enum counts as a failure.
 * Usable TLSA records: usage 2 (DANE-TA) or 3 (DANE-EE), selector 0 or 1, matching type 0
 * (full data, not empty), 1 (SHA2-256, 32 bytes) or 2 (SHA2-512, 64 bytes).
 *
 * Texts: reason and summary are printable ASCII, bounded, and built only from sanitised
 * fields (a field is read no further than its array, NUL or not).
 *   reason   "MX lookup for x.example: DNSSEC bogus (<why>)" / ": SERVFAIL" (the why text of
 *            a failure) / ": timed out"; "null MX"; "MX RRset of x.example is not
 *            DNSSEC-signed"; "MX RRset of x.example lists no host"; "address lookup for
 *            mx.x.example: <problem>"; "CNAME lookup for mx.x.example: <problem>";
 *            "TLSA lookup _25._tcp.<base>[ for <host>]: <problem>" (host named when the base
 *            is a CNAME target); "no MX host of x.example has usable TLSA records
 *            (mx.x.example: PKIX-only TLSA, ...)".
 *   summary  "mx=STATE[ hosts=NAME:HOST_STATE,...][ dropped=N]", STATE one of secure,
 *            implicit, insecure, null, bogus, fail, timeout; hosts listed for secure and
 *            implicit only, in preference order; host states dane, no-usable-tlsa, no-tlsa,
 *            insecure, addr-error, cname-error, tlsa-bogus, tlsa-error; ",..." ends a list cut
 *            to fit; dropped=N when the MX RRset had N hosts beyond DANE_HOSTS_MAX.
 */

#include <stddef.h>
#include <stdint.h>

#define DANE_NAME_MAX 256   /* a domain name in presentation form, NUL-terminated */
#define DANE_WHY_MAX 256    /* resolver's reason (why_bogus, rcode, "timed out") */
#define DANE_HOSTS_MAX 16   /* MX hosts considered: the most preferred (tlsguard-policy(5)) */
#define DANE_TLSA_MAX 8     /* TLSA records kept per host */
#define DANE_TLSA_DATA_MAX 64
#define DANE_SUMMARY_MAX 512 /* dane_decision.summary, policy_decision.dane */

/* The graded outcome of one DNS lookup. */
typedef enum dane_status {
    DANE_LOOKUP_DATA = 0, /* an answer with records */
    DANE_LOOKUP_NODATA,   /* NXDOMAIN or NODATA */
    DANE_LOOKUP_BOGUS,    /* DNSSEC validation failed */
    DANE_LOOKUP_FAIL,     /* SERVFAIL, refused, local error */
    DANE_LOOKUP_TIMEOUT   /* no answer within dns_timeout */
} dane_status;

typedef struct dane_lookup {
    dane_status status;
    int secure;             /* 1 if DNSSEC-validated (meaningful for DATA and NODATA) */
    char why[DANE_WHY_MAX]; /* reason for BOGUS / FAIL / TIMEOUT, printable ASCII */
} dane_lookup;

/* A full-certificate record (matching type 0) is usually longer than data[]: only its first
 * bytes are kept, and assoc_len says how long it was. The decision needs only the lengths;
 * a verifier (probe) reads the whole rdata itself. */
typedef struct dane_tlsa {
    uint8_t usage, selector, mtype;
    uint8_t len;                      /* bytes kept in data (at most DANE_TLSA_DATA_MAX) */
    uint8_t data[DANE_TLSA_DATA_MAX];
    uint16_t assoc_len;               /* length of the data as published; 0 = same as len */
} dane_tlsa;

typedef struct dane_host {
    char name[DANE_NAME_MAX];      /* MX exchange as published (or the domain: implicit MX) */
    int preference;                /* MX preference; 0 for an implicit MX */
    dane_lookup addr;              /* A/AAAA lookup of name */
    dane_lookup cname;             /* CNAME lookup of name, made when the address answer is
                                      insecure and came through a CNAME (a secure first hop
                                      still calls for TLSA at name); all zero (DATA) when not
                                      made */
    char tlsa_base[DANE_NAME_MAX]; /* base of the TLSA name (_25._tcp.<base>) chosen by the
                                      CNAME rules; "" if no TLSA lookup applies (address
                                      insecure or missing) */
    dane_lookup tlsa;              /* TLSA lookup; meaningful only if tlsa_base[0] */
    size_t ntlsa;                  /* records kept, at most DANE_TLSA_MAX */
    dane_tlsa tlsa_rr[DANE_TLSA_MAX];
} dane_host;

typedef struct dane_facts {
    char domain[DANE_NAME_MAX]; /* the recipient domain, normalised */
    dane_lookup mx;             /* MX lookup of domain */
    int null_mx;                /* the MX RRset is a single "0 ." */
    int implicit_mx;            /* no MX RRset: the domain itself is the host */
    size_t nhosts;              /* in preference order (ties by name) */
    dane_host hosts[DANE_HOSTS_MAX];
    size_t dropped;             /* MX hosts beyond DANE_HOSTS_MAX, least preferred: not facts */
} dane_facts;

typedef enum dane_result {
    DANE_RESULT_NONE = 0,   /* no DANE: insecure or no TLSA (dane: pass) */
    DANE_RESULT_DANE,       /* >= 1 host with usable TLSA: delivery must use DANE */
    DANE_RESULT_TEMPFAIL,   /* DNS error or bogus, or dane-only not met: defer */
    DANE_RESULT_NO_DEST     /* null MX: the domain accepts no mail */
} dane_result;

typedef struct dane_decision {
    dane_result result;
    int pass;                     /* 1 if the recipient may be accepted */
    char host[DANE_NAME_MAX];     /* the MX host the reason is about, "" if the domain */
    char reason[512];             /* "" on a pass; e.g. "MX lookup for x.example: timed out" */
    char summary[DANE_SUMMARY_MAX]; /* for records: "mx=secure hosts=mx.x.example:dane" */
} dane_decision;

/* What one MX host contributes to the decision, per the host rows of the table above. The
 * states from DANE_HOST_ADDR_ERROR on make the host unusable. */
typedef enum dane_host_state {
    DANE_HOST_DANE = 0,    /* secure TLSA RRset with a usable record */
    DANE_HOST_NO_USABLE,   /* secure TLSA RRset without a usable record */
    DANE_HOST_NO_TLSA,     /* secure denial, or no TLSA lookup for a secure address */
    DANE_HOST_INSECURE,    /* address or TLSA answer not DNSSEC-signed */
    DANE_HOST_ADDR_ERROR,
    DANE_HOST_TLSA_BOGUS,
    DANE_HOST_TLSA_ERROR,
    DANE_HOST_CNAME_ERROR
} dane_host_state;

/* Grades one host's lookups (the MX answer is not looked at). Never fails. */
dane_host_state dane_host_grade(const dane_host *h);

/* The state's word in summaries: "dane", "no-usable-tlsa", ..., "cname-error". */
const char *dane_host_state_name(dane_host_state st);

/* 1 if the record is usable for SMTP per RFC 7672 (usage 2/3, selector 0/1, mtype 0/1/2
 * with the right length: > 0, 32, 64). NULL gives 0. */
int dane_tlsa_usable(const dane_tlsa *rr);

/* Decides for level dane (mandatory = 0) or dane-only (mandatory = 1). Never fails: NULL
 * facts give a tempfail. The whole of *out is written. */
void dane_decide(const dane_facts *f, int mandatory, dane_decision *out);

const char *dane_status_name(dane_status s);
const char *dane_result_name(dane_result r);

/*
 * Rdata parsers for the resolver adapter (untrusted input from the network; fuzzed).
 * Return 0, or -1 if the rdata is malformed.
 */
/* MX: 16-bit preference, then an uncompressed wire-format name (nothing after it), converted
 * to presentation form: lowercased, without the trailing dot ("." for the root: null MX),
 * bytes other than [a-z0-9-_] written as \DDD. Malformed: truncated, a compression pointer
 * or other label type, a name over 255 octets, or an output that does not fit `size`
 * (name is then ""). */
int dane_parse_mx(const unsigned char *rdata, size_t len, int *preference, char *name,
                  size_t size);
/* TLSA: usage, selector, mtype, then the data; malformed only if shorter than 3 bytes or
 * longer than 65535. Data beyond DANE_TLSA_DATA_MAX is not kept (see dane_tlsa). */
int dane_parse_tlsa(const unsigned char *rdata, size_t len, dane_tlsa *out);

#endif
