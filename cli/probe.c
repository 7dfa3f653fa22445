/* SPDX-License-Identifier: MIT */
/*
 * probe - `tlsguard probe [-c FILE] DOMAIN [--port N] [--json]` (see tlsguard(8)).
 *
 * One run: the DNS facts of RFC 7672 through dane_lookup (at _PORT._tcp), the addresses of
 * every MX host, then per address TCP, banner, EHLO, STARTTLS and a TLS handshake that
 * OpenSSL's DANE code verifies against the host's usable TLSA records. Results are
 * collected into a probe_run first and printed afterwards, as text or as one JSON object,
 * so both formats carry the same facts. Everything taken from the network (banner, reply
 * text, certificate names) is sanitised when it is stored.
 *
 * Verdicts, per host: verified (a TLSA record matched), fail (TLSA usable but no match,
 * STARTTLS missing or refused, handshake failure, no address), no-dane (no usable TLSA:
 * TLS facts only), tempfail (DNS error or bogus, refused connection, timeout, 4xx reply).
 * Overall, first rule wins: MX lookup error or bogus -> tempfail (exit 2); null MX -> exit 1;
 * any host fail -> fail (1); any host tempfail -> tempfail (2); every host verified ->
 * verified (0); no host with DANE -> no-dane (1); some hosts only -> partial (1).
 * Usage, configuration and resolver set-up errors exit 3.
 */
#include "probe_reply.h"

/* System. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* OpenSSL. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Core. */
#include "policy/dane.h"
#include "policy/policy.h"
#include "policy/xalloc.h"

/* Daemon. */
#include "cli.h"
#include "config/config.h"
#include "dns/dane_lookup.h"
#include "dns/resolver.h"
#include "util/diag.h"
#include "util/json.h"

#define PROBE_STEP_MS 10000L /* connect, each reply, the handshake: each gets this long */
#define PROBE_ADDRS_MAX 16   /* addresses probed per host (A and AAAA together) */
#define PROBE_BUF (PROBE_LINES_MAX * (PROBE_LINE_MAX + 2))
#define PROBE_EXIT_USAGE 3

/* ---- results ----------------------------------------------------------------------- */

typedef enum verdict {
    V_VERIFIED = 0,
    V_NO_DANE,
    V_TEMPFAIL,
    V_FAIL,
    V_PARTIAL, /* overall only: some hosts verified, others without DANE */
    V_NULL_MX, /* overall only */
    V_SKIPPED  /* an address that cannot be reached from here (no IPv6 route) */
} verdict;

static const char *verdict_name(verdict v)
{
    static const char *const names[] = {"verified", "no-dane", "tempfail", "fail",
                                        "partial",  "null-mx", "skipped"};
    return names[v];
}

typedef struct addr_result {
    int family;
    unsigned char bin[16];
    char text[INET6_ADDRSTRLEN];
    int secure;                       /* the A/AAAA RRset was DNSSEC-validated */
    int tried;                        /* a connection was attempted */
    char banner[PROBE_TEXT_MAX + 8];  /* "220 text", sanitised */
    int starttls;                     /* -1 not known (no EHLO reply), 0 no, 1 offered */
    char tls_version[32];             /* "" if no handshake */
    char cipher[80];
    char subject[256], issuer[256];   /* peer certificate, sanitised */
    long verify;                      /* SSL_get_verify_result */
    char verify_text[128];
    int matched, m_usage, m_selector, m_mtype, m_depth;
    verdict result;
    char error[400];                  /* why not verified, or a note; sanitised */
} addr_result;

typedef struct host_result {
    dane_lookup a, aaaa;      /* this probe's own A and AAAA lookups */
    size_t naddr;
    addr_result addr[PROBE_ADDRS_MAX];
    int dane;                 /* secure, usable TLSA: authentication mandatory */
    size_t usable;            /* usable records among the facts' */
    verdict result;
    char reason[600];
} host_result;

typedef struct probe_run {
    const char *domain;
    int port;
    long dns_ms;              /* dns_timeout: bounds the gathering, and each later lookup */
    long step_ms;
    char helo[DANE_NAME_MAX];
    dane_facts facts;
    host_result hosts[DANE_HOSTS_MAX];
    verdict result;
    char reason[700];
} probe_run;

/* What one host's connections need. */
typedef struct host_ctx {
    const char *domain;
    const dane_host *h;
    int dane;
    const resolver_answer *tlsa; /* the whole TLSA records (facts keep a prefix only) */
} host_ctx;

/* Sets a verdict and its reason (host_says, run_says). */
static verdict says(verdict *slot, char *reason, size_t size, verdict v, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static verdict says(verdict *slot, char *reason, size_t size, verdict v, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, size, fmt, ap);
    va_end(ap);
    return *slot = v;
}

#define host_says(hr, v, ...) \
    says(&(hr)->result, (hr)->reason, sizeof(hr)->reason, v, __VA_ARGS__)
#define run_says(run, v, ...) \
    says(&(run)->result, (run)->reason, sizeof(run)->reason, v, __VA_ARGS__)

/* ---- time and non-blocking I/O ----------------------------------------------------- */

static long ms_left(const struct timespec *d)
{
    struct timespec now;
    long ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (long)(d->tv_sec - now.tv_sec) * 1000 + (d->tv_nsec - now.tv_nsec) / 1000000L;
    return ms > 0 ? ms : 0;
}

/* 1 ready, 0 deadline passed, -1 error. */
static int wait_fd(int fd, short events, const struct timespec *deadline)
{
    struct pollfd p = {.fd = fd, .events = events};

    for (;;) {
        long ms = ms_left(deadline);
        int rc;

        if (ms <= 0)
            return 0;
        rc = poll(&p, 1, ms > INT_MAX ? INT_MAX : (int)ms);
        if (rc > 0)
            return 1;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

enum { IO_CLOSED = 0, IO_ERROR = -1, IO_TIMEOUT = -2 };

typedef struct conn {
    int fd;
    SSL *ssl;
    size_t len;           /* bytes received and not yet parsed */
    char buf[PROBE_BUF];
} conn;

/* After an SSL call returned rc <= 0: waits as OpenSSL asks. 1 retry, else an IO_ code. */
static int ssl_retry(conn *c, int rc, const struct timespec *deadline)
{
    int w;

    switch (SSL_get_error(c->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        w = wait_fd(c->fd, POLLIN, deadline);
        break;
    case SSL_ERROR_WANT_WRITE:
        w = wait_fd(c->fd, POLLOUT, deadline);
        break;
    case SSL_ERROR_ZERO_RETURN:
        return IO_CLOSED;
    default:
        return IO_ERROR;
    }
    return w > 0 ? 1 : w == 0 ? IO_TIMEOUT : IO_ERROR;
}

/* Appends received bytes to c->buf. Returns their count, or an IO_ code. */
static int conn_read(conn *c, const struct timespec *deadline)
{
    size_t room = sizeof c->buf - c->len;
    int rc;

    for (;;) {
        if (c->ssl) {
            ERR_clear_error();
            rc = SSL_read(c->ssl, c->buf + c->len, room > INT_MAX ? INT_MAX : (int)room);
            if (rc > 0)
                break;
            if ((rc = ssl_retry(c, rc, deadline)) != 1)
                return rc;
        } else {
            ssize_t n = recv(c->fd, c->buf + c->len, room, 0);
            if (n > 0) {
                rc = (int)n;
                break;
            }
            if (n == 0)
                return IO_CLOSED;
            if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
                return IO_ERROR;
            if (errno != EINTR && (rc = wait_fd(c->fd, POLLIN, deadline)) != 1)
                return rc == 0 ? IO_TIMEOUT : IO_ERROR;
        }
    }
    c->len += (size_t)rc;
    return rc;
}

/* Returns 1, or an IO_ code. */
static int conn_write(conn *c, const char *data, size_t len, const struct timespec *deadline)
{
    while (len > 0) {
        int rc;

        if (c->ssl) {
            ERR_clear_error();
            rc = SSL_write(c->ssl, data, len > INT_MAX ? INT_MAX : (int)len);
            if (rc <= 0) {
                if ((rc = ssl_retry(c, rc, deadline)) != 1)
                    return rc;
                continue;
            }
        } else {
            ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
            if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
                return IO_ERROR;
            if (n < 0) {
                if (errno != EINTR && (rc = wait_fd(c->fd, POLLOUT, deadline)) != 1)
                    return rc == 0 ? IO_TIMEOUT : IO_ERROR;
                continue;
            }
            rc = (int)n;
        }
        data += rc;
        len -= (size_t)rc;
    }
    return 1;
}

static void conn_close(conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

/* ---- SMTP steps -------------------------------------------------------------------- */

typedef enum step { STEP_OK = 0, STEP_TEMPFAIL, STEP_FAIL, STEP_SKIP } step;

static step io_problem(int io, const char *what, char *err, size_t errsize)
{
    snprintf(err, errsize, "%s: %s", what,
             io == IO_TIMEOUT  ? "timed out"
             : io == IO_CLOSED ? "connection closed by the server"
                               : "connection error");
    return STEP_TEMPFAIL;
}

/* Reads one reply within step_ms; its bytes are taken from c->buf, any after it stay. */
static step read_reply(conn *c, probe_reply *r, long step_ms, char *err, size_t errsize)
{
    struct timespec d = resolver_deadline(step_ms);
    size_t used;

    for (;;) {
        probe_parse p = probe_reply_parse(c->buf, c->len, r, &used);
        int io;

        if (p == PROBE_REPLY_COMPLETE) {
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            return STEP_OK;
        }
        if (p == PROBE_REPLY_MALFORMED) {
            snprintf(err, errsize, "malformed SMTP reply: %s", r->why);
            return STEP_FAIL;
        }
        if (c->len == sizeof c->buf) {
            snprintf(err, errsize, "malformed SMTP reply: longer than %d bytes", PROBE_BUF);
            return STEP_FAIL;
        }
        if ((io = conn_read(c, &d)) <= 0)
            return io_problem(io, "waiting for a reply", err, errsize);
    }
}

static step command(conn *c, const char *line, probe_reply *r, long step_ms, char *err,
                    size_t errsize)
{
    char out[DANE_NAME_MAX + 16];
    struct timespec d = resolver_deadline(step_ms);
    int n = snprintf(out, sizeof out, "%s\r\n", line), io;

    if ((io = conn_write(c, out, (size_t)n, &d)) != 1)
        return io_problem(io, "sending a command", err, errsize);
    return read_reply(c, r, step_ms, err, errsize);
}

/* A reply other than the one expected: 4xx is temporary, anything else a failure. */
static step refused(const char *what, const probe_reply *r, char *err, size_t errsize)
{
    snprintf(err, errsize, "%s: %d %s", what, r->code, r->text);
    return r->code >= 400 && r->code < 500 ? STEP_TEMPFAIL : STEP_FAIL;
}

static step tcp_connect(conn *c, const addr_result *ar, int port, long step_ms, char *err,
                        size_t errsize)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    struct timespec d = resolver_deadline(step_ms);
    int e = 0, w;
    socklen_t elen = sizeof e;

    if (ar->family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        memcpy(&s6->sin6_addr, ar->bin, 16);
        sl = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        memcpy(&s4->sin_addr, ar->bin, 4);
        sl = sizeof *s4;
    }
    if ((c->fd = socket(ar->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        e = errno;
    else if (connect(c->fd, (struct sockaddr *)&ss, sl) != 0 && (e = errno) == EINPROGRESS) {
        if ((w = wait_fd(c->fd, POLLOUT, &d)) == 0)
            return io_problem(IO_TIMEOUT, "connect", err, errsize);
        e = w < 0 ? errno : getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0 ? errno : e;
    }
    if (e == 0)
        return STEP_OK;
    snprintf(err, errsize, "connect: %s", strerror(e));
    if (ar->family == AF_INET6 && (e == ENETUNREACH || e == EAFNOSUPPORT || e == EADDRNOTAVAIL))
        return STEP_SKIP; /* no IPv6 here: says nothing about the server */
    return STEP_TEMPFAIL;
}

/* TCP, banner, EHLO, STARTTLS: the plaintext part, up to where TLS starts. */
static step smtp_until_tls(conn *c, const probe_run *run, addr_result *ar)
{
    char cmd[DANE_NAME_MAX + 8], *err = ar->error;
    size_t errsize = sizeof ar->error;
    probe_reply r;
    step st;

    if ((st = tcp_connect(c, ar, run->port, run->step_ms, err, errsize)) != STEP_OK ||
        (st = read_reply(c, &r, run->step_ms, err, errsize)) != STEP_OK)
        return st;
    snprintf(ar->banner, sizeof ar->banner, "%d %s", r.code, r.text);
    if (r.code != 220)
        return refused("banner", &r, err, errsize);
    snprintf(cmd, sizeof cmd, "EHLO %s", run->helo);
    if ((st = command(c, cmd, &r, run->step_ms, err, errsize)) != STEP_OK)
        return st;
    if (r.code != 250)
        return refused("EHLO", &r, err, errsize);
    ar->starttls = r.starttls;
    if (!r.starttls) {
        snprintf(err, errsize, "STARTTLS not offered");
        return STEP_FAIL;
    }
    if ((st = command(c, "STARTTLS", &r, run->step_ms, err, errsize)) != STEP_OK)
        return st;
    if (r.code != 220)
        return refused("STARTTLS", &r, err, errsize);
    if (c->len) { /* RFC 3207 5: would be taken as TLS data; a command injection bug */
        snprintf(err, errsize, "server sent data after its STARTTLS reply");
        return STEP_FAIL;
    }
    return STEP_OK;
}

/* QUIT, its reply if it comes soon, and a TLS close; errors do not matter any more. */
static void smtp_quit(conn *c)
{
    struct timespec d = resolver_deadline(2000);
    probe_reply r;
    char err[64];

    if (conn_write(c, "QUIT\r\n", 6, &d) == 1)
        read_reply(c, &r, 2000, err, sizeof err);
    if (c->ssl) {
        ERR_clear_error();
        SSL_shutdown(c->ssl);
    }
}

/* ---- TLS and DANE ------------------------------------------------------------------ */

/* The first OpenSSL error, sanitised, after `what`. */
static void ssl_error_text(const char *what, char *err, size_t errsize)
{
    char buf[256] = "", clean[256];
    unsigned long e = ERR_peek_error();

    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    policy_sanitize(buf, clean, sizeof clean);
    snprintf(err, errsize, "%s%s%s", what, clean[0] ? ": " : "", clean);
    ERR_clear_error();
}

/*
 * Arms ssl for DANE, in the order OpenSSL requires: SSL_dane_enable() first, then the flags
 * and the names, then SSL_dane_tlsa_add(), all before the handshake. Reference names for DANE-TA
 * (RFC 7672 3.2.2): the TLSA base (SSL_dane_enable), the MX host as published, and the
 * next-hop domain; DANE-EE checks no name. PKIX-TA/EE records are never handed over:
 * SSL_dane_tlsa_add accepts them and would verify against the system's CAs instead.
 * Returns the number of records OpenSSL took, or -1.
 */
static int dane_arm(SSL *ssl, const host_ctx *hx)
{
    const dane_host *h = hx->h;
    int added = 0;

    if (SSL_dane_enable(ssl, h->tlsa_base) <= 0)
        return -1;
    SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (strcasecmp(h->name, h->tlsa_base) != 0 && !SSL_add1_host(ssl, h->name))
        return -1;
    if (strcasecmp(hx->domain, h->tlsa_base) != 0 && strcasecmp(hx->domain, h->name) != 0 &&
        !SSL_add1_host(ssl, hx->domain))
        return -1;
    for (size_t i = 0; i < hx->tlsa->n; i++) {
        const unsigned char *d = hx->tlsa->data[i];
        dane_tlsa rr;

        if (dane_parse_tlsa(d, hx->tlsa->len[i], &rr) != 0 || !dane_tlsa_usable(&rr))
            continue;
        if (SSL_dane_tlsa_add(ssl, d[0], d[1], d[2], d + 3, hx->tlsa->len[i] - 3) > 0)
            added++;
    }
    return added;
}

static step tls_handshake(conn *c, SSL_CTX *ctx, const host_ctx *hx, long step_ms, char *err,
                          size_t errsize)
{
    struct timespec d = resolver_deadline(step_ms);
    int rc;

    if (!(c->ssl = SSL_new(ctx)) || !SSL_set_fd(c->ssl, c->fd)) {
        ssl_error_text("cannot set up TLS", err, errsize);
        return STEP_FAIL;
    }
    if (hx->dane && (rc = dane_arm(c->ssl, hx)) <= 0) {
        if (rc < 0)
            ssl_error_text("cannot enable DANE", err, errsize);
        else
            snprintf(err, errsize, "OpenSSL took none of the usable TLSA records");
        return STEP_FAIL;
    }
    if (!hx->dane) { /* SNI and a name to report PKIX results against */
        SSL_set_tlsext_host_name(c->ssl, hx->h->name);
        SSL_set1_host(c->ssl, hx->h->name);
    }
    for (;;) {
        ERR_clear_error();
        if ((rc = SSL_connect(c->ssl)) == 1)
            return STEP_OK;
        if ((rc = ssl_retry(c, rc, &d)) == 1)
            continue;
        if (rc == IO_TIMEOUT)
            return io_problem(rc, "TLS handshake", err, errsize);
        ssl_error_text("TLS handshake failed", err, errsize);
        return STEP_FAIL;
    }
}

static void name_text(X509_NAME *name, char *out, size_t size)
{
    char buf[512] = "";

    if (name)
        X509_NAME_oneline(name, buf, sizeof buf);
    policy_sanitize(buf, out, size);
}

/* The facts of an established TLS session, and the DANE outcome. */
static void tls_facts(conn *c, const host_ctx *hx, addr_result *ar)
{
    X509 *peer = SSL_get0_peer_certificate(c->ssl);
    uint8_t u = 0, s = 0, m = 0;
    int depth;

    snprintf(ar->tls_version, sizeof ar->tls_version, "%s", SSL_get_version(c->ssl));
    snprintf(ar->cipher, sizeof ar->cipher, "%s", SSL_get_cipher_name(c->ssl));
    if (peer) {
        name_text(X509_get_subject_name(peer), ar->subject, sizeof ar->subject);
        name_text(X509_get_issuer_name(peer), ar->issuer, sizeof ar->issuer);
    }
    ar->verify = SSL_get_verify_result(c->ssl);
    snprintf(ar->verify_text, sizeof ar->verify_text, "%s",
             X509_verify_cert_error_string(ar->verify));
    if (!hx->dane) {
        ar->result = V_NO_DANE;
        return;
    }
    depth = SSL_get0_dane_authority(c->ssl, NULL, NULL);
    if (ar->verify == X509_V_OK && depth >= 0 &&
        SSL_get0_dane_tlsa(c->ssl, &u, &s, &m, NULL, NULL) >= 0) {
        ar->matched = 1;
        ar->m_usage = u, ar->m_selector = s, ar->m_mtype = m, ar->m_depth = depth;
        ar->result = V_VERIFIED;
        return;
    }
    ar->result = V_FAIL;
    snprintf(ar->error, sizeof ar->error, "no TLSA record matched: verify error %ld (%s)",
             ar->verify, ar->verify_text);
}

static void probe_addr(const probe_run *run, SSL_CTX *ctx, const host_ctx *hx, addr_result *ar)
{
    conn *c = xmalloc(sizeof *c);
    step st;

    c->fd = -1, c->ssl = NULL, c->len = 0;
    ar->tried = 1;
    ar->starttls = -1;
    st = smtp_until_tls(c, run, ar);
    if (st == STEP_OK)
        st = tls_handshake(c, ctx, hx, run->step_ms, ar->error, sizeof ar->error);
    if (st == STEP_OK) {
        tls_facts(c, hx, ar);
        smtp_quit(c);
    } else {
        ar->result = st == STEP_SKIP       ? V_SKIPPED
                     : st == STEP_TEMPFAIL ? V_TEMPFAIL
                     : hx->dane            ? V_FAIL
                                           : V_NO_DANE;
        if (st == STEP_FAIL && !c->ssl && ar->banner[0]) /* a plaintext session still open */
            smtp_quit(c);
    }
    conn_close(c);
}

/* ---- DNS facts per host -------------------------------------------------------------- */

static void resolve_addrs(long dns_ms, const char *name, host_result *hr)
{
    static const int types[2] = {RR_A, RR_AAAA};
    struct timespec d = resolver_deadline(dns_ms);

    for (int t = 0; t < 2; t++) {
        const resolver_answer *a = resolver_query(name, types[t], &d);
        size_t want = t ? 16 : 4;

        *(t ? &hr->aaaa : &hr->a) = a->lk;
        for (size_t i = 0; a->lk.status == DANE_LOOKUP_DATA && i < a->n; i++) {
            addr_result *ar = &hr->addr[hr->naddr];

            if (hr->naddr == PROBE_ADDRS_MAX || a->len[i] != want)
                continue;
            hr->naddr++;
            ar->family = t ? AF_INET6 : AF_INET;
            memcpy(ar->bin, a->data[i], want);
            inet_ntop(ar->family, ar->bin, ar->text, sizeof ar->text);
            ar->secure = a->lk.secure;
        }
        resolver_release(a);
    }
}

static const dane_lookup *addr_problem(const host_result *hr, dane_status s)
{
    return hr->a.status == s ? &hr->a : hr->aaaa.status == s ? &hr->aaaa : NULL;
}

/* The DNS half of a host's verdict: this probe's own address lookups and the MX answer, then
 * the core's grading of the host (dane_host_grade). Sets hr->dane when DANE applies. */
static void dns_verdict(const probe_run *run, const dane_host *h, host_result *hr)
{
    const dane_facts *f = &run->facts;
    const dane_lookup *bad, *tl = &h->tlsa;

    if ((bad = addr_problem(hr, DANE_LOOKUP_BOGUS))) {
        host_says(hr, V_TEMPFAIL, "address lookup of %s: DNSSEC bogus (%s)", h->name, bad->why);
        return;
    }
    if (!hr->naddr && ((bad = addr_problem(hr, DANE_LOOKUP_FAIL)) ||
                       (bad = addr_problem(hr, DANE_LOOKUP_TIMEOUT)))) {
        host_says(hr, V_TEMPFAIL, "address lookup of %s: %s", h->name, bad->why);
        return;
    }
    if (!hr->naddr) {
        host_says(hr, V_FAIL, "%s has no address records", h->name);
        return;
    }
    if (!f->mx.secure) {
        host_says(hr, V_NO_DANE, f->implicit_mx ? "no MX RRset, and its denial is not DNSSEC-signed"
                                                : "MX RRset not DNSSEC-signed");
        return;
    }
    switch (dane_host_grade(h)) {
    case DANE_HOST_ADDR_ERROR: /* the walk's own lookup: it decided that no TLSA lookup was made */
        host_says(hr, V_TEMPFAIL, "address lookup of %s: %s", h->name, h->addr.why);
        return;
    case DANE_HOST_CNAME_ERROR:
        host_says(hr, V_TEMPFAIL, "CNAME lookup of %s: %s", h->name, h->cname.why);
        return;
    case DANE_HOST_TLSA_BOGUS:
        host_says(hr, V_TEMPFAIL, "TLSA lookup _%d._tcp.%s: DNSSEC bogus (%s)", run->port,
                  h->tlsa_base, tl->why);
        return;
    case DANE_HOST_TLSA_ERROR:
        host_says(hr, V_TEMPFAIL, "TLSA lookup _%d._tcp.%s: %s", run->port, h->tlsa_base, tl->why);
        return;
    case DANE_HOST_INSECURE:
    case DANE_HOST_NO_TLSA:
        if (!h->tlsa_base[0])
            host_says(hr, V_NO_DANE, "address records not DNSSEC-signed: no TLSA lookup");
        else if (!tl->secure)
            host_says(hr, V_NO_DANE, "TLSA answer at _%d._tcp.%s not DNSSEC-signed", run->port,
                      h->tlsa_base);
        else
            host_says(hr, V_NO_DANE, "no TLSA records at _%d._tcp.%s (%s)", run->port,
                      h->tlsa_base, tl->why);
        return;
    case DANE_HOST_NO_USABLE:
    case DANE_HOST_DANE:
        break;
    }
    for (size_t i = 0; i < h->ntlsa; i++)
        hr->usable += dane_tlsa_usable(&h->tlsa_rr[i]) != 0;
    if (!hr->usable)
        host_says(hr, V_NO_DANE, "no usable TLSA record (PKIX-TA/PKIX-EE or unsupported "
                                 "parameters): TLS mandatory but unauthenticated");
    hr->dane = hr->usable > 0;
}

/* A DANE host: the worst of its addresses (fail, then tempfail), else verified. */
static void dane_host_verdict(host_result *hr)
{
    const addr_result *worst = NULL;

    for (size_t i = 0; i < hr->naddr; i++) {
        const addr_result *ar = &hr->addr[i];
        if (ar->result == V_SKIPPED)
            continue;
        if (!worst || (ar->result == V_FAIL && worst->result != V_FAIL) ||
            (ar->result == V_TEMPFAIL && worst->result == V_VERIFIED))
            worst = ar;
    }
    if (!worst)
        host_says(hr, V_TEMPFAIL, "no address reachable from here");
    else if (worst->result == V_VERIFIED)
        host_says(hr, V_VERIFIED, "TLSA %d %d %d matched at depth %d", worst->m_usage,
                  worst->m_selector, worst->m_mtype, worst->m_depth);
    else
        host_says(hr, worst->result, "%s: %s", worst->text, worst->error);
}

static void probe_host(probe_run *run, SSL_CTX *ctx, size_t i)
{
    const dane_host *h = &run->facts.hosts[i];
    host_result *hr = &run->hosts[i];
    host_ctx hx = {.domain = run->domain, .h = h};
    const resolver_answer *full = NULL;

    host_says(hr, V_TEMPFAIL, "not probed");
    resolve_addrs(run->dns_ms, h->name, hr);
    dns_verdict(run, h, hr);
    if (hr->dane) {
        char qname[DANE_NAME_MAX + 16];
        struct timespec d = resolver_deadline(run->dns_ms);

        snprintf(qname, sizeof qname, "_%d._tcp.%s", run->port, h->tlsa_base);
        full = resolver_query(qname, RR_TLSA, &d);
        if (full->lk.status != DANE_LOOKUP_DATA || !full->lk.secure) {
            host_says(hr, V_TEMPFAIL, "TLSA lookup %s again: %s", qname,
                      full->lk.why[0] ? full->lk.why : "answer changed");
            hr->dane = 0;
        }
        hx.dane = hr->dane;
        hx.tlsa = full;
    }
    if (hr->result == V_FAIL || addr_problem(hr, DANE_LOOKUP_BOGUS))
        hr->naddr = 0; /* nothing trustworthy to connect to */
    for (size_t j = 0; j < hr->naddr; j++)
        probe_addr(run, ctx, &hx, &hr->addr[j]);
    if (hx.dane)
        dane_host_verdict(hr);
    resolver_release(full);
}

/* ---- the run ------------------------------------------------------------------------ */

static const char *lookup_text(const dane_lookup *lk, char *buf, size_t size)
{
    switch (lk->status) {
    case DANE_LOOKUP_DATA:
        return lk->secure ? "secure" : "insecure";
    case DANE_LOOKUP_NODATA:
        snprintf(buf, size, "%s %s", lk->secure ? "secure" : "insecure", lk->why);
        return buf;
    case DANE_LOOKUP_BOGUS:
        snprintf(buf, size, "bogus (%s)", lk->why);
        return buf;
    default:
        snprintf(buf, size, "error (%s)", lk->why);
        return buf;
    }
}

/* Overall verdict; first rule wins (see the top of this file). */
static void run_verdict(probe_run *run)
{
    const dane_facts *f = &run->facts;
    size_t n[V_SKIPPED + 1] = {0}, first[V_SKIPPED + 1] = {0};
    char buf[DANE_WHY_MAX + 32];

    for (size_t i = f->nhosts; i-- > 0;) {
        n[run->hosts[i].result]++;
        first[run->hosts[i].result] = i;
    }
#define HOST_REASON(v) f->hosts[first[v]].name, run->hosts[first[v]].reason
    if (f->mx.status != DANE_LOOKUP_DATA && f->mx.status != DANE_LOOKUP_NODATA)
        run_says(run, V_TEMPFAIL, "MX lookup for %s: %s", f->domain,
                 lookup_text(&f->mx, buf, sizeof buf));
    else if (f->null_mx)
        run_says(run, V_NULL_MX, "null MX (RFC 7505): %s accepts no mail", f->domain);
    else if (!f->nhosts)
        run_says(run, V_FAIL, "no usable MX host");
    else if (n[V_FAIL])
        run_says(run, V_FAIL, "%s: %s", HOST_REASON(V_FAIL));
    else if (n[V_TEMPFAIL])
        run_says(run, V_TEMPFAIL, "%s: %s", HOST_REASON(V_TEMPFAIL));
    else if (n[V_VERIFIED] == f->nhosts)
        run_says(run, V_VERIFIED, "all %zu MX host(s) verified", f->nhosts);
    else if (!n[V_VERIFIED])
        run_says(run, V_NO_DANE, "no DANE: no MX host has usable TLSA records (%s: %s)",
                 HOST_REASON(V_NO_DANE));
    else
        run_says(run, V_PARTIAL, "%zu of %zu MX hosts verified; %s: %s", n[V_VERIFIED],
                 f->nhosts, HOST_REASON(V_NO_DANE));
#undef HOST_REASON
}

static SSL_CTX *make_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (!ctx || SSL_CTX_dane_enable(ctx) <= 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* Verification is judged after the handshake (SSL_get_verify_result), never by
     * aborting it: a mismatch still shows the TLS facts. The CA store only serves the PKIX
     * note for hosts without DANE. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_default_verify_paths(ctx);
    return ctx;
}

static int probe_domain(probe_run *run)
{
    const dane_facts *f = &run->facts;
    SSL_CTX *ctx;

    dane_lookup_domain(run->domain, run->port, run->dns_ms, &run->facts);
    if ((f->mx.status == DANE_LOOKUP_DATA || f->mx.status == DANE_LOOKUP_NODATA) && !f->null_mx) {
        if (!(ctx = make_ctx())) {
            fprintf(stderr, "tlsguard probe: cannot set up OpenSSL with DANE\n");
            return -1;
        }
        for (size_t i = 0; i < f->nhosts; i++)
            probe_host(run, ctx, i);
        SSL_CTX_free(ctx);
    }
    run_verdict(run);
    return 0;
}

/* ---- text output --------------------------------------------------------------------- */

static void hex_text(const dane_tlsa *rr, char *out, size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < rr->len && used + 3 < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%02x", rr->data[i]);
    if (rr->assoc_len > rr->len && used + 24 < size)
        snprintf(out + used, size - used, "... (%u bytes)", (unsigned)rr->assoc_len);
}

static void print_conn(const probe_run *run, const addr_result *ar)
{
    printf("  connection %s port %d\n", ar->text, run->port);
    if (ar->banner[0])
        printf("    banner: %s\n", ar->banner);
    if (ar->starttls >= 0)
        printf("    starttls: %s\n", ar->starttls ? "offered" : "not offered");
    if (ar->tls_version[0]) {
        printf("    tls: %s %s\n", ar->tls_version, ar->cipher);
        printf("    certificate: subject \"%s\" issuer \"%s\"\n", ar->subject, ar->issuer);
        printf("    %s: %ld (%s)\n", ar->result == V_NO_DANE ? "pkix" : "verify", ar->verify,
               ar->verify_text);
    }
    if (ar->matched)
        printf("    matched: TLSA %d %d %d at depth %d\n", ar->m_usage, ar->m_selector,
               ar->m_mtype, ar->m_depth);
    if (ar->error[0])
        printf("    %s: %s\n", ar->result == V_NO_DANE ? "note" : "error", ar->error);
    printf("    result: %s\n", verdict_name(ar->result));
}

static void print_host(const probe_run *run, size_t i)
{
    const dane_host *h = &run->facts.hosts[i];
    const host_result *hr = &run->hosts[i];
    char a[DANE_WHY_MAX + 32], aaaa[DANE_WHY_MAX + 32], hex[2 * DANE_TLSA_DATA_MAX + 32];

    printf("host %s preference %d\n", h->name, h->preference);
    printf("  address lookup: A %s, AAAA %s\n", lookup_text(&hr->a, a, sizeof a),
           lookup_text(&hr->aaaa, aaaa, sizeof aaaa));
    for (size_t j = 0; j < hr->naddr; j++)
        printf("  address %s %s\n", hr->addr[j].text, hr->addr[j].secure ? "secure" : "insecure");
    if (h->tlsa_base[0]) {
        printf("  tlsa _%d._tcp.%s: %s, %zu record(s), %zu usable\n", run->port, h->tlsa_base,
               lookup_text(&h->tlsa, a, sizeof a), h->ntlsa, hr->usable);
        for (size_t j = 0; j < h->ntlsa; j++) {
            hex_text(&h->tlsa_rr[j], hex, sizeof hex);
            const dane_tlsa *rr = &h->tlsa_rr[j];
            printf("    tlsa %u %u %u %s %s\n", rr->usage, rr->selector, rr->mtype, hex,
                   dane_tlsa_usable(rr) ? "usable" : "unusable");
        }
    } else {
        printf("  tlsa: not looked up\n");
    }
    printf("  dane: %s\n", hr->dane ? "required" : "no");
    for (size_t j = 0; j < hr->naddr; j++)
        if (hr->addr[j].tried)
            print_conn(run, &hr->addr[j]);
    printf("  verdict: %s: %s\n", verdict_name(hr->result), hr->reason);
}

static void print_text(const probe_run *run)
{
    const dane_facts *f = &run->facts;
    char buf[DANE_WHY_MAX + 32];

    printf("probe %s port %d\n", run->domain, run->port);
    if (f->mx.status != DANE_LOOKUP_DATA && f->mx.status != DANE_LOOKUP_NODATA)
        printf("mx: %s\n", lookup_text(&f->mx, buf, sizeof buf));
    else if (f->null_mx)
        printf("mx: %s, null MX\n", lookup_text(&f->mx, buf, sizeof buf));
    else if (f->implicit_mx)
        printf("mx: %s, no MX records: the domain itself is the host\n",
               lookup_text(&f->mx, buf, sizeof buf));
    else
        printf("mx: %s, %zu host(s)\n", lookup_text(&f->mx, buf, sizeof buf), f->nhosts);
    if (f->dropped)
        printf("mx: %zu less preferred host(s) beyond the limit of %d not considered\n", f->dropped,
               DANE_HOSTS_MAX);
    for (size_t i = 0; i < f->nhosts && !f->null_mx; i++)
        print_host(run, i);
    printf("verdict: %s: %s\n", verdict_name(run->result), run->reason);
}

/* ---- JSON output ------------------------------------------------------------------- */

static void json_kv(const char *key, const char *value, int comma)
{
    printf("%s\"%s\":", comma ? "," : "", key);
    json_string(stdout, value);
}

static void json_lookup(const char *key, const dane_lookup *lk)
{
    printf(",\"%s\":{\"status\":\"%s\",\"secure\":%s", key, dane_status_name(lk->status),
           lk->secure ? "true" : "false");
    json_kv("why", lk->why, 1);
    printf("}");
}

static void json_conn(const addr_result *ar)
{
    printf("{");
    json_kv("address", ar->text, 0);
    printf(",\"family\":\"%s\",\"dnssec\":\"%s\",\"tried\":%s",
           ar->family == AF_INET6 ? "ipv6" : "ipv4", ar->secure ? "secure" : "insecure",
           ar->tried ? "true" : "false");
    if (ar->tried) {
        json_kv("banner", ar->banner, 1);
        printf(",\"starttls\":%s", ar->starttls < 0 ? "null" : ar->starttls ? "true" : "false");
        json_kv("tls_version", ar->tls_version, 1);
        json_kv("cipher", ar->cipher, 1);
        json_kv("cert_subject", ar->subject, 1);
        json_kv("cert_issuer", ar->issuer, 1);
        if (ar->tls_version[0]) {
            printf(",\"verify\":%ld,\"verify_mode\":\"%s\"", ar->verify,
                   ar->result == V_NO_DANE ? "pkix" : "dane");
            json_kv("verify_text", ar->verify_text, 1);
        }
        if (ar->matched)
            printf(",\"matched\":{\"usage\":%d,\"selector\":%d,\"mtype\":%d,\"depth\":%d}",
                   ar->m_usage, ar->m_selector, ar->m_mtype, ar->m_depth);
        else
            printf(",\"matched\":null");
        json_kv("error", ar->error, 1);
        json_kv("result", verdict_name(ar->result), 1);
    }
    printf("}");
}

static void json_host(const probe_run *run, size_t i)
{
    const dane_host *h = &run->facts.hosts[i];
    const host_result *hr = &run->hosts[i];

    printf("{");
    json_kv("name", h->name, 0);
    printf(",\"preference\":%d", h->preference);
    json_lookup("a", &hr->a);
    json_lookup("aaaa", &hr->aaaa);
    json_kv("tlsa_base", h->tlsa_base, 1);
    if (h->tlsa_base[0])
        json_lookup("tlsa_lookup", &h->tlsa);
    printf(",\"tlsa\":[");
    for (size_t j = 0; j < h->ntlsa; j++) {
        const dane_tlsa *rr = &h->tlsa_rr[j];
        printf("%s{\"usage\":%u,\"selector\":%u,\"mtype\":%u,\"length\":%u,\"data\":\"",
               j ? "," : "", rr->usage, rr->selector, rr->mtype,
               (unsigned)(rr->assoc_len ? rr->assoc_len : rr->len));
        for (size_t k = 0; k < rr->len; k++)
            printf("%02x", rr->data[k]);
        printf("\",\"usable\":%s}", dane_tlsa_usable(rr) ? "true" : "false");
    }
    printf("],\"dane\":%s,\"connections\":[", hr->dane ? "true" : "false");
    for (size_t j = 0; j < hr->naddr; j++) {
        printf("%s", j ? "," : "");
        json_conn(&hr->addr[j]);
    }
    printf("]");
    json_kv("verdict", verdict_name(hr->result), 1);
    json_kv("reason", hr->reason, 1);
    printf("}");
}

static void print_json(const probe_run *run, int status)
{
    const dane_facts *f = &run->facts;

    printf("{");
    json_kv("domain", run->domain, 0);
    printf(",\"port\":%d", run->port);
    json_lookup("mx", &f->mx);
    printf(",\"null_mx\":%s,\"implicit_mx\":%s,\"hosts\":[", f->null_mx ? "true" : "false",
           f->implicit_mx ? "true" : "false");
    for (size_t i = 0; i < f->nhosts && !f->null_mx; i++) {
        printf("%s", i ? "," : "");
        json_host(run, i);
    }
    printf("],\"dropped_hosts\":%zu", f->dropped);
    json_kv("verdict", verdict_name(run->result), 1);
    json_kv("reason", run->reason, 1);
    printf(",\"exit\":%d}\n", status);
}

/* ---- the command --------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: tlsguard probe [-c FILE] DOMAIN [--port N] [--json]\n");
    return PROBE_EXIT_USAGE;
}

/* The EHLO name: this host's name if it looks like a domain, else a fixed word. */
static void helo_name(char *out, size_t size)
{
    char host[256] = "";

    if (gethostname(host, sizeof host - 1) != 0 || !strchr(host, '.') ||
        policy_domain_normalize(host, out, size) != 0)
        snprintf(out, size, "tlsguard-probe");
}

static int load_config(const char *path, tlsg_config *cfg)
{
    policy_diag diag = {0};
    int rc = config_load(path, cfg, &diag);

    diag_report(&diag, stderr, NULL);
    policy_diag_free(&diag);
    return rc;
}

static int start_resolver(const tlsg_config *cfg)
{
    char err[600];

    if (config_resolver_init(cfg, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "tlsguard probe: %s\n", err);
    return -1;
}

static int run_probe(const tlsg_config *cfg, const char *domain, int port, int json)
{
    probe_run *run = xcalloc(1, sizeof *run);
    int status;

    run->domain = domain;
    run->port = port;
    run->dns_ms = cfg->dns_timeout * 1000;
    run->step_ms = PROBE_STEP_MS;
    helo_name(run->helo, sizeof run->helo);
    if (probe_domain(run) != 0) {
        free(run);
        return PROBE_EXIT_USAGE;
    }
    status = run->result == V_VERIFIED ? 0 : run->result == V_TEMPFAIL ? 2 : 1;
    if (json)
        print_json(run, status);
    else
        print_text(run);
    free(run);
    return status;
}

int cli_probe(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    char domain[DANE_NAME_MAX], *end;
    long port = 25;
    int opt, json = 0, status;
    tlsg_config cfg;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
        if (opt == 'c')
            path = optarg;
        else if (opt == 'j')
            json = 1;
        else if (opt == 'p' && (port = strtol(optarg, &end, 10), *optarg && !*end) && port > 0 &&
                 port < 65536)
            continue;
        else
            return usage();
    }
    if (optind != argc - 1 || policy_domain_normalize(argv[optind], domain, sizeof domain) != 0)
        return usage();
    if (load_config(path, &cfg) != 0)
        return PROBE_EXIT_USAGE;
    /* A server closing early must not kill the probe with SIGPIPE inside SSL_write. */
    signal(SIGPIPE, SIG_IGN);
    status = start_resolver(&cfg) == 0 ? run_probe(&cfg, domain, (int)port, json)
                                       : PROBE_EXIT_USAGE;
    resolver_shutdown();
    config_clear(&cfg);
    return status;
}
