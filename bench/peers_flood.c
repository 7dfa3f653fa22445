/* SPDX-License-Identifier: MIT */
/*
 * peers_flood - what a flood of distinct peers costs tlsguard's bounded tables (the peer
 * history and the DNS cache). Links the daemon's own store/peers.c and dns/resolver.c.
 *
 * Peer history: PEERS (default 1,000,000) distinct peers, alternately an IPv6 /64 and a
 * client name, each a TLS session (peers_learn) preceded by the downgrade check every message
 * makes (peers_decide), at peers_max (default 100,000). DNS cache: NAMES (default 200,000)
 * distinct names through libunbound answering from a local zone (nothing leaves the
 * machine), at dns_cache_max (default 100,000).
 *
 * Prints the RSS before and after, the peak RSS, the entries kept, the longest hash chain,
 * and the mean and 99th percentile of one operation over the first and the last 10 % of the
 * load: flat latency means the last 10 % cost what the first did.
 *
 *   peers_flood [PEERS [PEERS_MAX [NAMES [DNS_CACHE_MAX]]]]
 */
#include "store/peers.h"
#include "dns/resolver.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* "VmRSS" or "VmHWM" of this process, in KiB. */
static long status_kib(const char *field)
{
    char line[256];
    long kib = -1;
    FILE *fp = fopen("/proc/self/status", "r");

    while (fp && fgets(line, sizeof line, fp))
        if (strncmp(line, field, strlen(field)) == 0 && line[strlen(field)] == ':')
            kib = atol(line + strlen(field) + 1);
    if (fp)
        fclose(fp);
    return kib;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Mean and p99 of lat[0..n). Sorts. */
static void report(const char *what, double *lat, long n)
{
    double sum = 0;

    for (long i = 0; i < n; i++)
        sum += lat[i];
    qsort(lat, n, sizeof *lat, cmp_double);
    printf("  %-28s mean %7.0f ns   p99 %7.0f ns\n", what, sum / n, lat[n * 99 / 100]);
}

static void flood_peers(long peers, size_t max)
{
    long tenth = peers / 10, before = status_kib("VmRSS"), at_cap = -1;
    double *first = calloc(tenth, sizeof *first), *last = calloc(tenth, sizeof *last);
    downgrade_params prm = {2000000000, 3, 30 * 86400, POLICY_DOWNGRADE_DEFER};
    policy_decision *d = malloc(sizeof *d);
    char peer[PEER_MAX];
    peers_stats st;

    printf("peer history: %ld distinct peers (half /64s, half names), peers_max = %zu\n", peers,
           max);
    for (long i = 0; i < peers; i++) {
        double t;
        if (i % 2)
            snprintf(peer, sizeof peer, "net:2001:db8:%lx:%lx::/64", i >> 16, i & 0xffff);
        else
            snprintf(peer, sizeof peer, "name:host%ld.example", i);
        t = now_ns();
        peers_decide(peer, &prm, "TLSv1.3", NULL, d);
        peers_learn(peer, prm.now + i / 1000, "TLSv1.3", 3, 30 * 86400, max);
        t = now_ns() - t;
        if (i < tenth)
            first[i] = t;
        else if (i >= peers - tenth)
            last[i - (peers - tenth)] = t;
        if ((size_t)i + 1 == max)
            at_cap = status_kib("VmRSS");
    }
    peers_get_stats(&st);
    printf("  RSS before %ld KiB, at the cap %ld KiB, after %ld KiB, peak %ld KiB\n", before,
           at_cap, status_kib("VmRSS"), status_kib("VmHWM"));
    if (at_cap > 0)
        printf("  cost of a peer: %.0f bytes (RSS growth up to the cap / peers_max)\n",
               (at_cap - before) * 1024.0 / max);
    printf("  kept %zu peers, forgot %zu, longest hash chain %zu\n", st.n, st.evicted,
           st.longest_chain);
    report("first 10 %, decide+learn", first, tenth);
    report("last 10 %, decide+learn", last, tenth);
    peers_clear();
    free(first);
    free(last);
    free(d);
}

static void flood_dns(long names, long max)
{
    char conf[] = "/tmp/peers_flood.XXXXXX", name[64], err[600];
    resolver_config cfg = {.unbound_conf = conf, .forwarder = "127.0.0.1@1", .cache_max = max};
    long tenth = names / 10, before;
    double *first = calloc(tenth, sizeof *first), *last = calloc(tenth, sizeof *last);
    int fd = mkstemp(conf);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (!fp) {
        perror("mkstemp");
        exit(1);
    }
    fputs("server:\n  local-zone: \"test.\" redirect\n"
          "  local-data: \"test. 3600 IN A 192.0.2.1\"\n", fp);
    fclose(fp);
    if (resolver_init(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    before = status_kib("VmRSS");
    printf("DNS cache: %ld distinct names (local zone), dns_cache_max = %ld\n", names, max);
    for (long i = 0; i < names; i++) {
        struct timespec dl = resolver_deadline(5000);
        double t;
        snprintf(name, sizeof name, "n%ld.test", i);
        t = now_ns();
        resolver_release(resolver_query(name, 1, &dl));
        t = now_ns() - t;
        if (i < tenth)
            first[i] = t;
        else if (i >= names - tenth)
            last[i - (names - tenth)] = t;
    }
    printf("  RSS before %ld KiB, after %ld KiB, peak %ld KiB; %zu answers cached\n", before,
           status_kib("VmRSS"), status_kib("VmHWM"), resolver_cache_count());
    report("first 10 %, query (miss)", first, tenth);
    report("last 10 %, query (miss)", last, tenth);
    resolver_shutdown();
    unlink(conf);
    free(first);
    free(last);
}

int main(int argc, char **argv)
{
    long peers = argc > 1 ? atol(argv[1]) : 1000000;
    long max = argc > 2 ? atol(argv[2]) : 100000;
    long names = argc > 3 ? atol(argv[3]) : 200000;
    long dns_max = argc > 4 ? atol(argv[4]) : 100000;

    if (peers < 10 || max < 1 || names < 0 || dns_max < 1) {
        fprintf(stderr, "usage: peers_flood [PEERS [PEERS_MAX [NAMES [DNS_CACHE_MAX]]]]\n");
        return 1;
    }
    flood_peers(peers, (size_t)max);
    if (names >= 10)
        flood_dns(names, dns_max);
    return 0;
}
