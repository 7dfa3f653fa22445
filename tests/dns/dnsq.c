/* SPDX-License-Identifier: MIT */
/*
 * dnsq - test helper for the DNSSEC test zone (tests/dns/dnslib.sh). Not part of tlsguard.
 *
 *   dnsq [-c UNBOUND.CONF] [-a TRUST-ANCHOR-FILE] [-t SECONDS] [-s SECONDS] NAME TYPE [NAME TYPE...]
 *       Resolves each NAME/TYPE in turn with one fresh validating libunbound context (shared by
 *       the pairs: its caches carry over), configured the way tlsguard configures its own
 *       (ub_ctx_config, ub_ctx_add_ta_file, ub_ctx_async threads), and prints one line each:
 *         status=secure|insecure|bogus|timeout|error rcode=NOERROR havedata=1 nxdomain=0
 *         canonname=NAME|- data=RDATA[,RDATA...] why_bogus="..."
 *       RDATA is in presentation form for A, AAAA, MX, CNAME, TLSA, DS (hex otherwise).
 *       "timeout": no result within -t SECONDS (default 5), the way tlsguard's dns_timeout
 *       cuts a lookup short. -s SECONDS: pause between lookups.
 *       "error": ub_resolve itself failed (err=...). Exit status 0 unless
 *       the arguments or the context setup are wrong (2).
 *
 *   dnsq blackhole PORT
 *       Binds 127.0.0.1:PORT for UDP and TCP and never answers: a name server that times out.
 *   dnsq servfail PORT
 *       Answers every UDP query on 127.0.0.1:PORT with SERVFAIL (TCP connections are closed).
 *   dnsq cnamefail PORT UPSTREAM-PORT
 *       Answers UDP queries of type CNAME on 127.0.0.1:PORT with SERVFAIL and relays every
 *       other query to the server at 127.0.0.1:UPSTREAM-PORT: a name whose address lookup
 *       succeeds through a CNAME while the lookup of that CNAME itself fails (once the
 *       resolver's cache no longer holds the CNAME: rrset-cache-size: 0).
 *   All run until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unbound.h>
#include <unistd.h>

static const struct {
    const char *name;
    int type;
} types[] = {
    {"A", 1}, {"NS", 2}, {"CNAME", 5}, {"SOA", 6}, {"MX", 15}, {"TXT", 16},
    {"AAAA", 28}, {"DS", 43}, {"RRSIG", 46}, {"DNSKEY", 48}, {"TLSA", 52},
};

static const char *rcode_name(int rc)
{
    static const char *n[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
    static char buf[16];
    if (rc >= 0 && rc < 6)
        return n[rc];
    snprintf(buf, sizeof buf, "RCODE%d", rc);
    return buf;
}

/* Prints an uncompressed wire-format name starting at p (at most len bytes). */
static void print_name(const unsigned char *p, int len)
{
    int i = 0;
    if (len > 0 && p[0] == 0) {
        putchar('.');
        return;
    }
    while (i < len && p[i] != 0) {
        int l = p[i++];
        for (int j = 0; j < l && i < len; j++, i++) {
            unsigned char c = p[i];
            if (c == '.' || c == '\\')
                printf("\\%c", c);
            else if (c > 32 && c < 127)
                putchar(c);
            else
                printf("\\%03u", c);
        }
        putchar('.');
    }
}

static void print_hex(const unsigned char *p, int len)
{
    for (int i = 0; i < len; i++)
        printf("%02x", p[i]);
}

static void print_rdata(int type, const unsigned char *d, int len)
{
    char buf[INET6_ADDRSTRLEN];
    switch (type) {
    case 1:
        if (len == 4) {
            printf("%s", inet_ntop(AF_INET, d, buf, sizeof buf));
            return;
        }
        break;
    case 28:
        if (len == 16) {
            printf("%s", inet_ntop(AF_INET6, d, buf, sizeof buf));
            return;
        }
        break;
    case 2:
    case 5:
        print_name(d, len);
        return;
    case 15:
        if (len >= 3) {
            printf("%u:", (unsigned)(d[0] << 8 | d[1]));
            print_name(d + 2, len - 2);
            return;
        }
        break;
    case 52:
        if (len >= 3) {
            printf("%u:%u:%u:", d[0], d[1], d[2]);
            print_hex(d + 3, len - 3);
            return;
        }
        break;
    case 43:
        if (len >= 4) {
            printf("%u:%u:%u:", (unsigned)(d[0] << 8 | d[1]), d[2], d[3]);
            print_hex(d + 4, len - 4);
            return;
        }
        break;
    }
    print_hex(d, len);
}

struct outcome {
    int done;
    int err;
    struct ub_result *res;
};

static void callback(void *arg, int err, struct ub_result *res)
{
    struct outcome *o = arg;
    o->done = 1;
    o->err = err;
    o->res = res;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int type_number(const char *tname)
{
    int type = -1;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(tname, types[i].name) == 0)
            type = types[i].type;
    if (type < 0 && strncasecmp(tname, "TYPE", 4) == 0)
        type = atoi(tname + 4);
    if (type <= 0) {
        fprintf(stderr, "dnsq: unknown type %s\n", tname);
        exit(2);
    }
    return type;
}

/* The context as tlsguard sets it up: unbound.conf, trust anchor, threads for async. */
static struct ub_ctx *make_ctx(const char *conf, const char *ta)
{
    struct ub_ctx *ctx = ub_ctx_create();
    if (!ctx) {
        fprintf(stderr, "dnsq: ub_ctx_create failed\n");
        exit(2);
    }
    int rc;
    if (conf && (rc = ub_ctx_config(ctx, conf)) != 0) {
        fprintf(stderr, "dnsq: ub_ctx_config %s: %s\n", conf, ub_strerror(rc));
        exit(2);
    }
    if (ta && (rc = ub_ctx_add_ta_file(ctx, ta)) != 0) {
        fprintf(stderr, "dnsq: ub_ctx_add_ta_file %s: %s\n", ta, ub_strerror(rc));
        exit(2);
    }
    if ((rc = ub_ctx_async(ctx, 1)) != 0) {
        fprintf(stderr, "dnsq: ub_ctx_async: %s\n", ub_strerror(rc));
        exit(2);
    }
    return ctx;
}

/* Compares two domain names, ignoring case and a trailing dot. */
static int same_name(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.')
        la--;
    if (lb && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

/* One lookup on ctx, one line on stdout. A lookup cut short by the timeout stays in flight in
 * the context (its outcome is leaked on purpose: the callback may still run); returns 1 then. */
static int query(struct ub_ctx *ctx, double timeout, const char *name, int type)
{
    struct outcome *o = calloc(1, sizeof *o);
    int rc, id;
    double start = now();
    if (!o)
        exit(2);
    rc = ub_resolve_async(ctx, name, type, 1, o, callback, &id);
    if (rc != 0) {
        /* A broken trust anchor file shows up here (UB_INITFAIL), not at ub_ctx_add_ta_file. */
        printf("status=error err=\"%s\"\n", ub_strerror(rc));
        return 0;
    }
    while (!o->done) {
        double left = timeout - (now() - start);
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = ub_fd(ctx), .events = POLLIN};
        int n = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR) {
            perror("dnsq: poll");
            exit(2);
        }
        if (n > 0 && (rc = ub_process(ctx)) != 0) {
            printf("status=error err=\"%s\"\n", ub_strerror(rc));
            return 0;
        }
    }
    double took = now() - start;
    if (!o->done) {
        printf("status=timeout elapsed=%.1f\n", took);
        return 1;
    }
    if (o->err != 0) {
        printf("status=error err=\"%s\"\n", ub_strerror(o->err));
        return 0;
    }
    struct ub_result *r = o->res;
    /* bogus first: libunbound can set havedata on an answer that failed validation. */
    printf("status=%s rcode=%s havedata=%d nxdomain=%d canonname=%s data=",
           r->bogus ? "bogus" : r->secure ? "secure" : "insecure", rcode_name(r->rcode), r->havedata,
           r->nxdomain, r->canonname && !same_name(r->canonname, name) ? r->canonname : "-");
    if (!r->havedata)
        putchar('-');
    for (int i = 0; r->havedata && r->data[i]; i++) {
        if (i)
            putchar(',');
        print_rdata(type, (unsigned char *)r->data[i], r->len[i]);
    }
    printf(" elapsed=%.1f why_bogus=\"%s\"\n", took, r->why_bogus ? r->why_bogus : "");
    ub_resolve_free(r);
    free(o);
    return 0;
}

/* The SERVFAIL reply to the query in buf (n bytes): header and question only. */
static size_t servfail_reply(unsigned char *buf, size_t n)
{
    size_t q = 12;

    buf[2] = (buf[2] & 0x79) | 0x80; /* QR=1, keep opcode and RD, AA=0, TC=0 */
    buf[3] = 0x02;                   /* RA=0, rcode SERVFAIL */
    memset(buf + 6, 0, 6);           /* ANCOUNT, NSCOUNT, ARCOUNT = 0 */
    while (q < n && buf[q] != 0 && buf[q] < 64)
        q += buf[q] + 1;
    q += 5;
    if (q > n)
        q = 12, buf[4] = buf[5] = 0;
    return q;
}

/* Binds 127.0.0.1:PORT for UDP (*u) and TCP (*t, listening). */
static int listen_both(int port, int *u, int *t)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int one = 1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *u = socket(AF_INET, SOCK_DGRAM, 0);
    *t = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(*t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (*u < 0 || *t < 0 || bind(*u, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        bind(*t, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(*t, 64) != 0) {
        perror("dnsq: bind");
        return -1;
    }
    return 0;
}

/* A name server that never answers (blackhole) or always answers SERVFAIL. */
static int serve(const char *mode, int port)
{
    int servfail = strcmp(mode, "servfail") == 0, u, t;

    if (listen_both(port, &u, &t) != 0)
        return 2;
    for (;;) {
        struct pollfd p[2] = {{.fd = u, .events = POLLIN}, {.fd = t, .events = POLLIN}};
        if (!servfail) {
            /* Never read: queries pile up in the socket buffers, TCP connections in the
             * backlog, and the resolver waits for its own timeouts. */
            pause();
            continue;
        }
        if (poll(p, 2, -1) < 0)
            continue;
        if (p[1].revents & POLLIN) {
            int c = accept(t, NULL, NULL);
            if (c >= 0)
                close(c);
        }
        if (p[0].revents & POLLIN) {
            unsigned char buf[4096];
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
            if (n < 12)
                continue;
            sendto(u, buf, servfail_reply(buf, (size_t)n), 0, (struct sockaddr *)&from, fl);
        }
    }
}

/* cnamefail: SERVFAIL for qtype CNAME, everything else relayed upstream (UDP, one at a time). */
static int relay(int port, int upstream)
{
    struct sockaddr_in up = {.sin_family = AF_INET, .sin_port = htons(upstream)};
    int u, t;

    up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listen_both(port, &u, &t) != 0)
        return 2;
    for (;;) {
        unsigned char buf[4096];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        size_t q = 12;
        int fwd;

        if (n < 12)
            continue;
        while (q < (size_t)n && buf[q] != 0 && buf[q] < 64)
            q += buf[q] + 1;
        if (q + 3 > (size_t)n)
            continue;
        if ((buf[q + 1] << 8 | buf[q + 2]) == 5 /* CNAME */) {
            sendto(u, buf, servfail_reply(buf, (size_t)n), 0, (struct sockaddr *)&from, fl);
            continue;
        }
        fwd = socket(AF_INET, SOCK_DGRAM, 0);
        if (fwd < 0 || connect(fwd, (struct sockaddr *)&up, sizeof up) != 0 || send(fwd, buf, (size_t)n, 0) != n) {
            if (fwd >= 0)
                close(fwd);
            continue;
        }
        struct pollfd p = {.fd = fwd, .events = POLLIN};
        if (poll(&p, 1, 2000) == 1 && (n = recv(fwd, buf, sizeof buf, 0)) > 0)
            sendto(u, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
        close(fwd);
    }
}

int main(int argc, char **argv)
{
    const char *conf = NULL, *ta = NULL;
    double timeout = 5, pause_s = 0;
    int c;
    if (argc == 3 && (strcmp(argv[1], "blackhole") == 0 || strcmp(argv[1], "servfail") == 0))
        return serve(argv[1], atoi(argv[2]));
    if (argc == 4 && strcmp(argv[1], "cnamefail") == 0)
        return relay(atoi(argv[2]), atoi(argv[3]));
    while ((c = getopt(argc, argv, "c:a:t:s:")) != -1) {
        switch (c) {
        case 'c':
            conf = optarg;
            break;
        case 'a':
            ta = optarg;
            break;
        case 't':
            timeout = atof(optarg);
            break;
        case 's':
            pause_s = atof(optarg);
            break;
        default:
            goto usage;
        }
    }
    if (argc - optind < 2 || (argc - optind) % 2 != 0)
        goto usage;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = optind; i < argc; i += 2)
        type_number(argv[i + 1]); /* all types valid before the first lookup */
    struct ub_ctx *ctx = make_ctx(conf, ta);
    int in_flight = 0;
    for (int i = optind; i < argc; i += 2) {
        if (i > optind && pause_s > 0)
            usleep((useconds_t)(pause_s * 1e6));
        in_flight |= query(ctx, timeout, argv[i], type_number(argv[i + 1]));
    }
    if (in_flight) {
        /* Threads of the context are still working on it: leave without running exit
         * handlers under their feet (ub_ctx_delete would wait for libunbound's timeouts). */
        fflush(stdout);
        _exit(0);
    }
    ub_ctx_delete(ctx);
    return 0;
usage:
    fprintf(stderr, "usage: dnsq [-c UNBOUND.CONF] [-a TA-FILE] [-t SECONDS] [-s SECONDS] NAME TYPE [NAME TYPE...]\n"
                    "       dnsq blackhole|servfail PORT\n"
                    "       dnsq cnamefail PORT UPSTREAM-PORT\n");
    return 2;
}
