/* SPDX-License-Identifier: MIT */
#include "peers.h"

/* System. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Libraries. */
#include <libpsl.h>
#include <sqlite3.h>

/* Core. */
#include "xalloc.h"

#define SWEEP_EVERY 3600 /* seconds between two sweeps of peers out of the window */

typedef struct peer_entry {
    struct peer_entry *next;
    downgrade_history *h;
    char key[];
} peer_entry;

static struct {
    pthread_mutex_t lock;
    peer_entry **buckets; /* guarded by lock, as all below */
    size_t nbuckets, n;
    int64_t last_sweep;
} P = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- identity ------------------------------------------------------------------------ */

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl; /* for the process lifetime */

/* The newest list the system has (Debian's publicsuffix package), else the built-in one. */
static void psl_open(void)
{
    psl_ctx_t *latest = psl_latest(NULL);

    if (!(psl = latest))
        psl = psl_builtin();
}

/*
 * A verified client name, or NULL. Only the MTA's word counts: {client_resolve} = OK, which
 * both Postfix and Sendmail send when asked (tlsguard asks at connect). A missing macro
 * (an MTA that ignores the request, or a fake MTA on the milter socket) and FORGED, FAIL,
 * TEMP give the address block: a name the client's DNS controls must not pick the history.
 */
static int name_usable(const char *hostname, const char *resolve, char *norm, size_t size)
{
    if (!hostname || !*hostname || hostname[0] == '[' || strcmp(hostname, "unknown") == 0)
        return 0;
    if (!resolve || strcmp(resolve, "OK") != 0)
        return 0;
    return policy_domain_normalize(hostname, norm, size) == 0;
}

static int address_block(const char *addr, char *out, size_t size)
{
    struct in_addr a4;
    struct in6_addr a6;
    char text[INET6_ADDRSTRLEN];
    const unsigned char *b;

    if (addr && inet_pton(AF_INET, addr, &a4) == 1) {
        b = (const unsigned char *)&a4.s_addr;
        snprintf(out, size, "net:%u.%u.%u.0/24", b[0], b[1], b[2]);
        return 0;
    }
    if (!addr || inet_pton(AF_INET6, addr, &a6) != 1)
        return -1;
    b = a6.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        snprintf(out, size, "net:%u.%u.%u.0/24", b[12], b[13], b[14]);
        return 0;
    }
    memset(a6.s6_addr + 8, 0, 8);
    inet_ntop(AF_INET6, &a6, text, sizeof text);
    snprintf(out, size, "net:%s/64", text);
    return 0;
}

int peers_identity(const char *hostname, const char *resolve, const char *addr, char *out,
                   size_t size)
{
    char name[POLICY_DOMAIN_MAX];
    const char *reg;

    if (name_usable(hostname, resolve, name, sizeof name)) {
        pthread_once(&psl_once, psl_open);
        reg = psl ? psl_registrable_domain(psl, name) : NULL;
        snprintf(out, size, "name:%s", reg ? reg : name);
        return 0;
    }
    if (address_block(addr, out, size) == 0)
        return 0;
    if (size)
        out[0] = '\0';
    return -1;
}

/* ---- the map ------------------------------------------------------------------------- */

static size_t hash(const char *s)
{
    size_t h = 14695981039346656037ULL; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static peer_entry **slot_of(const char *peer)
{
    peer_entry **e = &P.buckets[hash(peer) & (P.nbuckets - 1)];

    while (*e && strcmp((*e)->key, peer) != 0)
        e = &(*e)->next;
    return e;
}

static void grow(void)
{
    size_t n = P.nbuckets ? P.nbuckets * 2 : 1024;
    peer_entry **b = xcalloc(n, sizeof *b);

    for (size_t i = 0; i < P.nbuckets; i++) {
        for (peer_entry *e = P.buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[hash(e->key) & (n - 1)];
            b[hash(e->key) & (n - 1)] = e;
        }
    }
    free(P.buckets);
    P.buckets = b;
    P.nbuckets = n;
}

/* Drops the peers whose newest TLS delivery is older than the window. */
static void sweep(int64_t now, int64_t window)
{
    for (size_t i = 0; i < P.nbuckets; i++) {
        for (peer_entry **e = &P.buckets[i]; *e;) {
            peer_entry *x = *e;
            if (downgrade_last(x->h) < now - window) {
                *e = x->next;
                downgrade_history_free(x->h);
                free(x);
                P.n--;
            } else {
                e = &x->next;
            }
        }
    }
    P.last_sweep = now;
}

/* Caller holds the lock. */
static void learn_locked(const char *peer, int64_t now, const char *tls_version, unsigned cap)
{
    peer_entry **slot, *e;

    if (P.n >= 2 * P.nbuckets)
        grow();
    slot = slot_of(peer);
    if (!(e = *slot)) {
        size_t len = strlen(peer);
        e = xcalloc(1, sizeof *e + len + 1);
        memcpy(e->key, peer, len + 1);
        e->h = downgrade_history_new(cap);
        *slot = e;
        P.n++;
    } else if (e->h->cap != cap) { /* downgrade_min_sessions changed at reload */
        e->h = downgrade_history_resize(e->h, cap);
    }
    downgrade_learn(e->h, now, tls_version);
}

void peers_learn(const char *peer, int64_t now, const char *tls_version, unsigned cap,
                 int64_t window)
{
    if (!peer || !*peer)
        return;
    pthread_mutex_lock(&P.lock);
    if (!P.last_sweep)
        P.last_sweep = now;
    else if (now - P.last_sweep >= SWEEP_EVERY)
        sweep(now, window);
    learn_locked(peer, now, tls_version, cap);
    pthread_mutex_unlock(&P.lock);
}

void peers_decide(const char *peer, const downgrade_params *prm, const char *tls_version,
                  const policy_decision *sender, policy_decision *out)
{
    peer_entry *e = NULL;

    pthread_mutex_lock(&P.lock);
    if (peer && *peer && P.nbuckets)
        e = *slot_of(peer);
    downgrade_decide(e ? e->h : NULL, prm, peer, tls_version, sender, out);
    pthread_mutex_unlock(&P.lock);
}

size_t peers_count(void)
{
    size_t n;

    pthread_mutex_lock(&P.lock);
    n = P.n;
    pthread_mutex_unlock(&P.lock);
    return n;
}

void peers_clear(void)
{
    pthread_mutex_lock(&P.lock);
    for (size_t i = 0; i < P.nbuckets; i++) {
        for (peer_entry *e = P.buckets[i], *next; e; e = next) {
            next = e->next;
            downgrade_history_free(e->h);
            free(e);
        }
    }
    free(P.buckets);
    P.buckets = NULL;
    P.nbuckets = P.n = 0;
    P.last_sweep = 0;
    pthread_mutex_unlock(&P.lock);
}

/* ---- persistence --------------------------------------------------------------------- */

/* What the daemon learned while running, as the database kept it: a session's start time
 * stands for the time of its first delivery. */
#define LOAD_SQL                                                                             \
    "SELECT s.peer, s.tls_version, CAST(strftime('%s', s.started_at) AS INTEGER)"           \
    "  FROM sessions s"                                                                      \
    " WHERE s.started_at >= datetime(?1, 'unixepoch') AND s.peer IS NOT NULL"                \
    "   AND s.tls_version IS NOT NULL"                                                       \
    "   AND EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id"                      \
    "               AND m.outcome IN ('accepted', 'tagged', 'quarantined'))"                 \
    " ORDER BY s.started_at, s.id"

long peers_load(const char *path, int64_t now, int64_t window, unsigned cap, char *err,
                size_t errsize)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long n = 0;
    int rc;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, LOAD_SQL, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errsize, "cannot read the TLS history from %s: %s", path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 2000);
    sqlite3_bind_int64(st, 1, now - window);
    pthread_mutex_lock(&P.lock);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *peer = (const char *)sqlite3_column_text(st, 0);
        if (peer && *peer) {
            learn_locked(peer, sqlite3_column_int64(st, 2),
                         (const char *)sqlite3_column_text(st, 1), cap);
            n++;
        }
    }
    pthread_mutex_unlock(&P.lock);
    if (rc != SQLITE_DONE) {
        snprintf(err, errsize, "reading the TLS history from %s: %s", path, sqlite3_errmsg(db));
        n = -1;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}
