/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_RECORDER_H
#define TLSGUARD_RECORDER_H

/*
 * recorder - the single SQLite writer.
 *
 * Callbacks hand records over with recorder_put(), which only links the record into an
 * in-memory queue (a mutex, no disk). One writer thread commits the queue in batched
 * transactions (group commit: it waits until the oldest queued record is 100 ms old or
 * 1,000 are queued), so a record is on disk within about 100 ms, and always within a
 * second, while the database works; recorder_stop() writes what is queued without waiting.
 * When a write fails (read-only, locked past the 2 s busy timeout, disk full, I/O error)
 * the batch is kept and retried with back-off; after an I/O or read-only error the
 * connection is closed and the file opened again (never created) before each retry. The
 * queue is bounded by db_queue_max, and records dropped on overflow are counted in the log;
 * failures and the recovery are logged with the counts queued and written.
 * recorder_healthy() tells the milter whether the last write succeeded (on_db_error =
 * tempfail).
 *
 * Ownership: recorder_put() takes the record and its strings (all malloc'd or NULL);
 * the writer frees them with rec_free(). Thread-safe: any thread may call recorder_put()
 * and recorder_healthy(); recorder_open(), recorder_start() and recorder_stop() are the
 * owner's, called once each.
 */

#include <stddef.h>
#include <stdint.h>

typedef enum rec_kind { REC_SESSION, REC_MESSAGE, REC_RCPT } rec_kind;

typedef struct rec {
    struct rec *next;
    rec_kind kind;
    int64_t id;        /* session, message id; recipient: message id */
    int64_t parent;    /* message: session id */
    char *at;          /* session: started_at; message, recipient: decision time */
    char *ended_at;    /* session */
    char *client_addr; /* session */
    int client_port;   /* session; -1 unknown */
    char *client_name, *helo;
    char *tls_version, *cipher; /* NULL without TLS */
    int cipher_bits;            /* -1 unknown */
    char *cert_subject, *cert_issuer;
    int cert_verified;          /* -1 without TLS */
    char *cert_fp;              /* session: client certificate fingerprint, NULL if none passed */
    int messages;               /* session */
    char *peer;                 /* session: peers_identity(), or NULL */
    char *queue_id, *addr;      /* message: mail_from; recipient: rcpt */
    char *rule, *level, *verdict, *reason, *action; /* decision */
    char *outcome;              /* message */
    char *dane;                 /* recipient: DANE summary of its domain, or NULL */
} rec;

rec *rec_new(rec_kind kind);
rec *rec_free(rec *r);

/* Opens (creating if needed) the database, applies migrations, turns on WAL. Returns 0,
 * or -1 with a message in err. Call before recorder_start(). */
int recorder_open(const char *path, char *err, size_t errsize);
/* Starts the writer thread. */
int recorder_start(long queue_max);
void recorder_put(rec *r);
/* Records of sessions older than `days` are pruned by the writer, in small batches, at
 * start and hourly; 0 keeps everything. Can be changed at any time (reload). */
void recorder_set_retention(long days);
/* 1 while the last write succeeded. */
int recorder_healthy(void);
int64_t recorder_next_session_id(void);
int64_t recorder_next_message_id(void);
/* Writes everything queued (retrying for up to `patience` seconds), stops the writer and
 * closes the database. */
void recorder_stop(int patience);

/* "YYYY-MM-DD HH:MM:SS.mmm" in UTC; buf needs 24 bytes. */
void recorder_now(char *buf, unsigned size);

#endif
