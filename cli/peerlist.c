/* SPDX-License-Identifier: MIT */
/*
 * peerlist - `tlsguard peers`: every sending peer the database knows, its TLS history as
 * the configured downgrade_window sees it, and whether it is learned (a plaintext session
 * or an older protocol now would be a downgrade). Read-only, through store/query.h.
 */
#include "cli.h"

/* System. */
#include <getopt.h>
#include <stdio.h>
#include <time.h>

/* Core. */
#include "policy/downgrade.h"

/* Daemon. */
#include "config/config.h"
#include "store/peers.h"
#include "store/query.h"

/* Sanitised text, "-" for none. */
static const char *text_or_dash(const char *s, char *buf, size_t size)
{
    policy_sanitize(s, buf, size);
    if (!buf[0])
        snprintf(buf, size, "-");
    return buf;
}

/* Truncates a timestamp to the second for the listing. */
static const char *when(const char *s, char *buf, size_t size)
{
    text_or_dash(s, buf, size);
    if (size > 19)
        buf[19] = '\0';
    return buf;
}

struct listing {
    const tlsg_config *cfg;
    long learned;
};

/* The header once the query runs, then a line per peer. */
static int print_peer(void *arg, const query_peer *p)
{
    struct listing *l = arg;
    const tlsg_config *cfg = l->cfg;
    char window[32], peer[PEER_MAX], best[32], tls_at[32], plain_at[32];
    int is_learned;

    if (!p) {
        downgrade_window_format(cfg->downgrade_window, window, sizeof window);
        printf("peers in %s (downgrade_window = %s, downgrade_min_sessions = %ld)\n",
               cfg->database, window, cfg->downgrade_min_sessions);
        printf("%-40s %-7s %-13s %-8s %-10s %-10s %-19s %s\n", "peer", "learned",
               "tls_in_window", "best", "tls_total", "plain_total", "last_tls_at",
               "last_plaintext_at");
        return 0;
    }
    is_learned = p->in_window >= cfg->downgrade_min_sessions;
    printf("%-40s %-7s %-13lld %-8s %-10lld %-10lld %-19s %s\n",
           text_or_dash(p->peer, peer, sizeof peer), is_learned ? "yes" : "no", p->in_window,
           text_or_dash(p->best, best, sizeof best), p->tls_total, p->plaintext_total,
           when(p->last_tls_at, tls_at, sizeof tls_at),
           when(p->last_plaintext_at, plain_at, sizeof plain_at));
    l->learned += is_learned;
    return 0;
}

static int list(query_db *db, const tlsg_config *cfg)
{
    struct listing l = {cfg, 0};
    char err[256];
    long rows = query_peers(db, (int64_t)time(NULL) - cfg->downgrade_window, print_peer, &l, err,
                            sizeof err);

    if (rows < 0) {
        fprintf(stderr, "tlsguard peers: %s: %s\n", cfg->database, err);
        return 2;
    }
    printf("%ld peers, %ld learned\n", rows, l.learned);
    return 0;
}

int cli_peers(int argc, char **argv)
{
    const char *path = NULL;
    tlsg_config cfg;
    query_db *db = NULL;
    int opt, rc;

    optind = 1;
    while ((opt = getopt(argc, argv, "c:")) != -1) {
        if (opt != 'c')
            goto usage;
        path = optarg;
    }
    if (optind < argc)
        goto usage;
    if ((rc = cli_open_database("peers", path, &cfg, &db)) != 0)
        return rc;
    rc = list(db, &cfg);
    query_close(db);
    config_clear(&cfg);
    return rc;

usage:
    fprintf(stderr, "usage: tlsguard peers [-c FILE]\n");
    return 1;
}
