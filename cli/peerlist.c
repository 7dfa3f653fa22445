/* SPDX-License-Identifier: MIT */
/*
 * peerlist - `tlsguard peers`: every sending peer the database knows, its TLS history as
 * the configured downgrade_window sees it, and whether it is learned (a plaintext session
 * or an older protocol now would be a downgrade). Read-only, prepared statements.
 */
#include "cli.h"

/* System. */
#include <getopt.h>
#include <stdio.h>
#include <time.h>

/* SQLite. */
#include <sqlite3.h>

/* Core. */
#include "policy/downgrade.h"

/* Daemon. */
#include "config/config.h"
#include "store/peers.h"

/* ?1: the start of the window, seconds since the epoch. The windowed part counts what the
 * daemon learns at start (peers.c LOAD_SQL); the rest is the peers view. */
#define PEERS_SQL                                                                            \
    "SELECT p.peer, coalesce(w.n, 0), w.best, p.tls_sessions, p.plaintext_sessions,"        \
    "       p.last_tls_at, p.last_plaintext_at"                                              \
    "  FROM peers p LEFT JOIN"                                                               \
    "       (SELECT s.peer, count(*) AS n, max(s.tls_version) AS best FROM sessions s"      \
    "         WHERE s.started_at >= datetime(?1, 'unixepoch') AND s.peer IS NOT NULL"        \
    "           AND s.tls_version IS NOT NULL"                                               \
    "           AND EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id"              \
    "                       AND m.outcome IN ('accepted', 'tagged', 'quarantined'))"         \
    "         GROUP BY s.peer) w ON w.peer = p.peer"                                         \
    " ORDER BY p.peer"

static const char *text_or_dash(sqlite3_stmt *st, int col, char *buf, size_t size)
{
    policy_sanitize((const char *)sqlite3_column_text(st, col), buf, size);
    if (!buf[0])
        snprintf(buf, size, "-");
    return buf;
}

/* Truncates a timestamp to the second for the listing. */
static const char *when(sqlite3_stmt *st, int col, char *buf, size_t size)
{
    text_or_dash(st, col, buf, size);
    if (size > 19)
        buf[19] = '\0';
    return buf;
}

static int list(sqlite3 *db, const tlsg_config *cfg)
{
    sqlite3_stmt *st;
    char window[32], peer[PEER_MAX], best[32], tls_at[32], plain_at[32];
    long rows = 0, learned = 0;
    int rc;

    if (sqlite3_prepare_v2(db, PEERS_SQL, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "tlsguard peers: %s: %s\n", cfg->database, sqlite3_errmsg(db));
        return 2;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL) - cfg->downgrade_window);
    downgrade_window_format(cfg->downgrade_window, window, sizeof window);
    printf("peers in %s (downgrade_window = %s, downgrade_min_sessions = %ld)\n", cfg->database,
           window, cfg->downgrade_min_sessions);
    printf("%-40s %-7s %-13s %-8s %-10s %-10s %-19s %s\n", "peer", "learned", "tls_in_window",
           "best", "tls_total", "plain_total", "last_tls_at", "last_plaintext_at");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long n = sqlite3_column_int64(st, 1);
        int is_learned = n >= cfg->downgrade_min_sessions;

        printf("%-40s %-7s %-13ld %-8s %-10lld %-10lld %-19s %s\n",
               text_or_dash(st, 0, peer, sizeof peer), is_learned ? "yes" : "no", n,
               text_or_dash(st, 2, best, sizeof best), (long long)sqlite3_column_int64(st, 3),
               (long long)sqlite3_column_int64(st, 4), when(st, 5, tls_at, sizeof tls_at),
               when(st, 6, plain_at, sizeof plain_at));
        rows++;
        learned += is_learned;
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "tlsguard peers: %s: %s\n", cfg->database, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return 2;
    }
    sqlite3_finalize(st);
    printf("%ld peers, %ld learned\n", rows, learned);
    return 0;
}

int cli_peers(int argc, char **argv)
{
    const char *path = NULL;
    tlsg_config cfg;
    sqlite3 *db = NULL;
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
    sqlite3_close(db);
    config_clear(&cfg);
    return rc;

usage:
    fprintf(stderr, "usage: tlsguard peers [-c FILE]\n");
    return 1;
}
