/* SPDX-License-Identifier: MIT */
/*
 * query - the read-only questions of `tlsguard stats` and `tlsguard peers` (contract in
 * query.h).
 */
#include "query.h"

/* System. */
#include <stdio.h>
#include <stdlib.h>

/* Libraries. */
#include <sqlite3.h>

/* Core. */
#include "policy/xalloc.h"

/* Store. */
#include "window_sql.h"

struct query_db {
    sqlite3 *db;
};

query_db *query_open(const char *path, char *err, size_t errsize)
{
    query_db *q = xcalloc(1, sizeof *q);

    if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errsize, "%s", q->db ? sqlite3_errmsg(q->db) : "out of memory");
        return query_close(q);
    }
    sqlite3_busy_timeout(q->db, 5000);
    return q;
}

query_db *query_close(query_db *q)
{
    if (q) {
        sqlite3_close(q->db);
        free(q);
    }
    return NULL;
}

const char *query_sqlite_version(void)
{
    return sqlite3_libversion();
}

/* ---- statistics ---------------------------------------------------------------------- */

/* ?1 is the start of the window: a modifier for datetime('now', ?1), e.g. "-7 days". */
#define SINCE_S "started_at >= datetime('now', ?1)"
#define SINCE_AT "at >= datetime('now', ?1)"

/* Rows (KEY, count) of one side: messages (sender) or recipients (rcpt), KEY = verdict or
 * action. */
#define Q_COUNT(table, col) "SELECT coalesce(" col ", '-'), count(*) FROM " table \
                            " WHERE " SINCE_AT " GROUP BY 1 ORDER BY 1"

/* Indexed by query_stats_id. */
static const char *const stats_sql[] = {
    [QUERY_TEXT_SESSIONS] =
        "SELECT count(*), count(tls_version),"
        " printf('%.1f%%', 100.0 * count(tls_version) / max(count(*), 1)),"
        " coalesce(sum(messages), 0) FROM sessions WHERE " SINCE_S,
    [QUERY_TEXT_VERSIONS] =
        "SELECT coalesce(tls_version, 'none'), count(*),"
        " printf('%.1f%%', 100.0 * count(*) / (SELECT max(count(*), 1)"
        " FROM sessions WHERE " SINCE_S "))"
        " FROM sessions WHERE " SINCE_S " GROUP BY 1 ORDER BY 2 DESC, 1",
    [QUERY_TEXT_CIPHERS] =
        "SELECT cipher, coalesce(cipher_bits, '?'), count(*) FROM sessions"
        " WHERE tls_version IS NOT NULL AND " SINCE_S
        " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10",
    [QUERY_TEXT_HITS] =
        "SELECT coalesce(rule, '-'), action, count(*) FROM policy_hits"
        " WHERE " SINCE_AT " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10",
    [QUERY_TEXT_PLAINTEXT] =
        "SELECT coalesce(client_addr, '?'), coalesce(client_name, '?'),"
        " count(*) FROM sessions WHERE tls_version IS NULL AND " SINCE_S
        " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10",
    [QUERY_TOTALS] =
        "SELECT count(*), count(tls_version), coalesce(sum(messages), 0),"
        " (SELECT count(DISTINCT client_addr) FROM sessions"
        "   WHERE tls_version IS NULL AND " SINCE_S ")"
        " FROM sessions WHERE " SINCE_S,
    [QUERY_VERSIONS] =
        "SELECT coalesce(tls_version, 'none'), count(*) FROM sessions"
        " WHERE " SINCE_S " GROUP BY 1 ORDER BY 2 DESC, 1",
    [QUERY_CIPHERS] =
        "SELECT cipher, cipher_bits, count(*) FROM sessions"
        " WHERE tls_version IS NOT NULL AND " SINCE_S
        " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
    [QUERY_HITS] =
        "SELECT coalesce(rule, '-'), action, count(*) FROM policy_hits"
        " WHERE " SINCE_AT " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
    [QUERY_PLAINTEXT] =
        "SELECT client_addr, client_name, count(*) FROM sessions"
        " WHERE tls_version IS NULL AND " SINCE_S
        " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10",
    [QUERY_DECISIONS] =
        "SELECT 'sender', verdict, action, count(*) FROM messages"
        " WHERE " SINCE_AT " GROUP BY 2, 3"
        " UNION ALL SELECT 'rcpt', verdict, action, count(*) FROM recipients"
        " WHERE " SINCE_AT " GROUP BY 2, 3 ORDER BY 1 DESC, 2, 3",
    [QUERY_SENDER_VERDICTS] = Q_COUNT("messages", "verdict"),
    [QUERY_RCPT_VERDICTS] = Q_COUNT("recipients", "verdict"),
    [QUERY_SENDER_ACTIONS] = Q_COUNT("messages", "action"),
    [QUERY_RCPT_ACTIONS] = Q_COUNT("recipients", "action"),
};

/* Prepares sql or writes the error; NULL on failure. */
static sqlite3_stmt *prepare(query_db *q, const char *sql, char *err, size_t errsize)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errsize, "%s", sqlite3_errmsg(q->db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Ends a statement whose last step returned rc; returns n, or -1 with err set. */
static long finish(query_db *q, sqlite3_stmt *st, int rc, long n, char *err, size_t errsize)
{
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        snprintf(err, errsize, "%s", sqlite3_errmsg(q->db));
        n = -1;
    }
    sqlite3_finalize(st);
    return n;
}

long query_stats(query_db *q, query_stats_id which, const char *since, query_row_fn fn,
                 void *arg, char *err, size_t errsize)
{
    sqlite3_stmt *st;
    query_row row = {0};
    int rc, stop;

    if ((unsigned)which >= sizeof stats_sql / sizeof stats_sql[0]) {
        snprintf(err, errsize, "no such statistic");
        return -1;
    }
    if (!(st = prepare(q, stats_sql[which], err, errsize)))
        return -1;
    sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC);
    fn(arg, NULL);
    row.ncol = sqlite3_column_count(st);
    if (row.ncol > QUERY_COLS_MAX)
        row.ncol = QUERY_COLS_MAX;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        /* The type first: it is meaningful only before a conversion. */
        for (int i = 0; i < row.ncol; i++) {
            int null = sqlite3_column_type(st, i) == SQLITE_NULL;

            row.num[i] = sqlite3_column_int64(st, i);
            row.text[i] = null ? NULL : (const char *)sqlite3_column_text(st, i);
        }
        stop = fn(arg, &row);
        row.index++;
        if (stop)
            break;
    }
    return finish(q, st, rc, row.index, err, errsize);
}

/* ---- peers --------------------------------------------------------------------------- */

/* The peers view, and per peer the sessions the daemon learns from at start. */
#define PEERS_SQL                                                                            \
    "SELECT p.peer, coalesce(w.n, 0), w.best, p.tls_sessions, p.plaintext_sessions,"        \
    "       p.last_tls_at, p.last_plaintext_at"                                              \
    "  FROM peers p LEFT JOIN"                                                               \
    "       (SELECT s.peer, count(*) AS n, max(s.tls_version) AS best FROM sessions s"      \
    "         WHERE" WINDOW_SESSIONS_WHERE                                                   \
    "         GROUP BY s.peer) w ON w.peer = p.peer"                                         \
    " ORDER BY p.peer"

static const char *text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

long query_peers(query_db *q, int64_t window_start, query_peer_fn fn, void *arg, char *err,
                 size_t errsize)
{
    sqlite3_stmt *st;
    long n = 0;
    int rc;

    if (!(st = prepare(q, PEERS_SQL, err, errsize)))
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)window_start);
    fn(arg, NULL);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        query_peer p = {
            .in_window = sqlite3_column_int64(st, 1),
            .tls_total = sqlite3_column_int64(st, 3),
            .plaintext_total = sqlite3_column_int64(st, 4),
        };

        p.peer = text(st, 0);
        p.best = text(st, 2);
        p.last_tls_at = text(st, 5);
        p.last_plaintext_at = text(st, 6);
        n++;
        if (fn(arg, &p) != 0)
            break;
    }
    return finish(q, st, rc, n, err, errsize);
}
