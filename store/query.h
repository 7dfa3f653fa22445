/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_QUERY_H
#define TLSGUARD_QUERY_H

/*
 * query - the questions `tlsguard stats` and `tlsguard peers` ask of the database, on a
 * connection of their own that is read-only: nothing here can change a record. Each
 * question is one prepared statement with bound parameters; the caller gets the rows
 * through a callback and formats them itself, never seeing SQL.
 *
 * Rows: a callback is called once with NULL as soon as the statement is prepared (the
 * question can be answered; nothing is called when it cannot), then once per row in the
 * documented order. The strings in a row belong to the query and are valid only during the
 * call; a NULL string is SQL NULL. A callback returning non-zero stops the query early
 * without error.
 *
 * Errors: functions return -1 (or NULL) and write SQLite's message to err, which holds at
 * most errsize bytes.
 */

#include <stddef.h>
#include <stdint.h>

typedef struct query_db query_db;

/* Opens the database at `path` read-only (waiting up to 5 s for a writer's lock). Returns
 * the connection, closed with query_close(), or NULL with the reason in err. */
query_db *query_open(const char *path, char *err, size_t errsize);

/* Closes db (NULL is fine); returns NULL. */
query_db *query_close(query_db *db);

/* The SQLite library's version, e.g. "3.40.1". */
const char *query_sqlite_version(void);

/* The statistics, each over the window from datetime('now', since) on; `since` is an SQLite
 * date modifier, e.g. "-7 days" ("-100 years" for all records). Columns, in order: */
typedef enum query_stats_id {
    /* For the text tables, every column as text to show; top 10 by count where noted. */
    QUERY_TEXT_SESSIONS,  /* sessions, with_tls, "37.5%" share with TLS, messages */
    QUERY_TEXT_VERSIONS,  /* version ("none" for plaintext), sessions, "62.5%" share */
    QUERY_TEXT_CIPHERS,   /* cipher, bits ("?" if unknown), sessions; top 10 */
    QUERY_TEXT_HITS,      /* rule ("-" for none), action, hits; top 10 */
    QUERY_TEXT_PLAINTEXT, /* client_addr ("?"), client_name ("?"), sessions; top 10 */
    /* For --json and --prometheus: every row (NULL kept), ordered completely. */
    QUERY_TOTALS,          /* sessions, with_tls, messages, plaintext client addresses */
    QUERY_VERSIONS,        /* version ("none" for plaintext), sessions */
    QUERY_CIPHERS,         /* cipher, bits, sessions */
    QUERY_HITS,            /* rule ("-" for none), action, hits */
    QUERY_PLAINTEXT,       /* client_addr, client_name, sessions; top 10 */
    QUERY_DECISIONS,       /* side ("sender" first, then "rcpt"), verdict, action, count */
    QUERY_SENDER_VERDICTS, /* verdict ("-" for none), count: of the transactions */
    QUERY_RCPT_VERDICTS,   /* verdict ("-" for none), count: of the recipients */
    QUERY_SENDER_ACTIONS,  /* action ("-" for none), count: of the transactions */
    QUERY_RCPT_ACTIONS,    /* action ("-" for none), count: of the recipients */
} query_stats_id;

#define QUERY_COLS_MAX 4

typedef struct query_row {
    int index;                       /* 0 for the first row */
    int ncol;                        /* columns, at most QUERY_COLS_MAX */
    const char *text[QUERY_COLS_MAX]; /* each column as text, NULL for SQL NULL */
    long long num[QUERY_COLS_MAX];    /* each column as an integer (0 for NULL) */
} query_row;

typedef int (*query_row_fn)(void *arg, const query_row *row);

/* Runs statistic `which`. Returns the number of rows delivered, or -1 with err set. */
long query_stats(query_db *db, query_stats_id which, const char *since, query_row_fn fn,
                 void *arg, char *err, size_t errsize);

/* A peer as `tlsguard peers` lists it: the peers view, and what the downgrade check learns
 * of it at start (peers_load) from the window that begins at window_start. */
typedef struct query_peer {
    const char *peer;              /* NULL if none */
    long long in_window;           /* sessions the downgrade check learns from, in the window */
    const char *best;              /* the best protocol among them, NULL if none */
    long long tls_total, plaintext_total;        /* sessions ever recorded */
    const char *last_tls_at, *last_plaintext_at; /* "YYYY-MM-DD HH:MM:SS...", NULL if never */
} query_peer;

typedef int (*query_peer_fn)(void *arg, const query_peer *peer);

/* Lists every peer, ordered by name; window_start is in seconds since the epoch. Returns
 * the number of peers delivered, or -1 with err set. */
long query_peers(query_db *db, int64_t window_start, query_peer_fn fn, void *arg, char *err,
                 size_t errsize);

#endif
