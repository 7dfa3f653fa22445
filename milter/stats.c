/* SPDX-License-Identifier: MIT */
/*
 * stats - `tlsguard stats`: the numbers a postmaster wants before enforcing anything,
 * read from the database with prepared statements (read-only).
 */
#include "cli.h"

/* System. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SQLite. */
#include <sqlite3.h>

/* Core. */
#include "policy.h"

/* Daemon. */
#include "config.h"

/* ?1 is the start of the window: a modifier for datetime('now', ?1), e.g. "-7 days". */
#define SINCE_S "started_at >= datetime('now', ?1)"
#define SINCE_AT "at >= datetime('now', ?1)"

static const struct section {
    const char *title;
    const char *sql;
    const char *columns; /* column names, space-separated, one per result column */
} sections[] = {
    {"sessions", "SELECT count(*), count(tls_version),"
                 " printf('%.1f%%', 100.0 * count(tls_version) / max(count(*), 1)),"
                 " coalesce(sum(messages), 0) FROM sessions WHERE " SINCE_S,
     "sessions with_tls tls_share messages"},
    {"by protocol version", "SELECT coalesce(tls_version, 'none'), count(*),"
                            " printf('%.1f%%', 100.0 * count(*) / (SELECT max(count(*), 1)"
                            " FROM sessions WHERE " SINCE_S "))"
                            " FROM sessions WHERE " SINCE_S " GROUP BY 1 ORDER BY 2 DESC",
     "version sessions share"},
    {"by cipher (top 10)", "SELECT cipher, coalesce(cipher_bits, '?'), count(*) FROM sessions"
                           " WHERE tls_version IS NOT NULL AND " SINCE_S
                           " GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10",
     "cipher bits sessions"},
    {"policy hits (top 10)", "SELECT coalesce(rule, '-'), action, count(*) FROM policy_hits"
                             " WHERE " SINCE_AT " GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10",
     "rule action hits"},
    {"plaintext peers (top 10)", "SELECT coalesce(client_addr, '?'), coalesce(client_name, '?'),"
                                 " count(*) FROM sessions WHERE tls_version IS NULL AND " SINCE_S
                                 " GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10",
     "client_addr client_name sessions"},
};

#define STATS_COLS 4
#define STATS_ROWS 64
#define STATS_CELL 128

static void print_row(char cells[][STATS_CELL], const int *width, int ncol)
{
    printf(" ");
    for (int i = 0; i < ncol; i++)
        printf(" %-*s", i + 1 < ncol ? width[i] : 0, cells[i]);
    printf("\n");
}

/* Runs one section's query and prints it as an aligned table. */
static int print_section(sqlite3 *db, const struct section *sec, const char *since)
{
    static char cells[STATS_ROWS + 1][STATS_COLS][STATS_CELL];
    int width[STATS_COLS] = {0}, ncol = 0, nrow = 1, rc;
    sqlite3_stmt *st;
    char *save = NULL, header[256];

    if (sqlite3_prepare_v2(db, sec->sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "tlsguard stats: %s: %s\n", sec->title, sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC);
    snprintf(header, sizeof header, "%s", sec->columns);
    for (char *t = strtok_r(header, " ", &save); t && ncol < STATS_COLS; t = strtok_r(NULL, " ", &save))
        snprintf(cells[0][ncol++], STATS_CELL, "%s", t);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && nrow <= STATS_ROWS) {
        for (int i = 0; i < ncol; i++) {
            policy_sanitize((const char *)sqlite3_column_text(st, i), cells[nrow][i], STATS_CELL);
            if (!cells[nrow][i][0])
                snprintf(cells[nrow][i], STATS_CELL, "-");
        }
        nrow++;
    }
    for (int r = 0; r < nrow; r++)
        for (int i = 0; i < ncol; i++)
            if ((int)strlen(cells[r][i]) > width[i])
                width[i] = (int)strlen(cells[r][i]);
    printf("\n%s:\n", sec->title);
    for (int r = 0; r < nrow; r++)
        print_row(cells[r], width, ncol);
    if (nrow == 1)
        printf("  (none)\n");
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        fprintf(stderr, "tlsguard stats: %s: %s\n", sec->title, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int cli_stats(int argc, char **argv)
{
    const char *path = NULL;
    char since[64] = "-100 years";
    long days = 0;
    policy_diag diag = {0};
    tlsg_config cfg;
    sqlite3 *db = NULL;
    int opt, rc = 0;

    static const struct option longopts[] = {
        {"since", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };

    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:d:", longopts, NULL)) != -1) {
        if (opt == 'c')
            path = optarg;
        else if (opt == 'd' && (days = strtol(optarg, NULL, 10)) > 0)
            snprintf(since, sizeof since, "-%ld days", days);
        else {
            fprintf(stderr, "usage: tlsguard stats [-c FILE] [--since DAYS]\n");
            return 1;
        }
    }
    if (config_load(path, &cfg, &diag) != 0) {
        for (size_t i = 0; i < diag.n; i++)
            fprintf(stderr, "%s\n", diag.msgs[i]);
        policy_diag_free(&diag);
        return 1;
    }
    policy_diag_free(&diag);
    if (sqlite3_open_v2(cfg.database, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "tlsguard stats: cannot open database %s: %s\n", cfg.database,
                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        config_clear(&cfg);
        return 2;
    }
    sqlite3_busy_timeout(db, 5000);
    printf("tlsguard statistics from %s (%s)\n", cfg.database,
           days ? since + 1 : "all records");
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (print_section(db, &sections[i], since) != 0)
            rc = 2;
    sqlite3_close(db);
    config_clear(&cfg);
    return rc;
}
