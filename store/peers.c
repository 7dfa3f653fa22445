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
#include "policy/lrumap.h"
#include "policy/xalloc.h"

/* Daemon. */
#include "util/hashkey.h"
#include "util/log.h"

/* Store. */
#include "window_sql.h"

#define SWEEP_EVERY 3600 /* seconds between two sweeps of peers out of the window */

/* Tiers of the map (policy/lrumap.h): a flood of new peers pushes out only other new peers. */
enum { TIER_NEW, TIER_LEARNED };

typedef struct peer_entry {
    lrumap_node node; /* first: a node is its entry */
    downgrade_history *h;
    char key[];
} peer_entry;

static struct {
    pthread_mutex_t lock;
    int ready;
    lrumap map; /* guarded by lock, as all below */
    int64_t last_sweep;
    size_t evicted, evicted_learned; /* since start */
    size_t reported;                 /* evicted at the last hourly report */
    int warned;                      /* the first eviction was logged */
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

static int same_key(const lrumap_node *n, const void *peer)
{
    return strcmp(((const peer_entry *)n)->key, peer) == 0;
}

static peer_entry *find_locked(const char *peer)
{
    return (peer_entry *)lrumap_find(&P.map, lrumap_hash(&P.map, peer, strlen(peer)), same_key,
                                     peer);
}

static void entry_free(peer_entry *e)
{
    downgrade_history_free(e->h);
    free(e);
}

static void drop_locked(peer_entry *e)
{
    lrumap_remove(&P.map, &e->node);
    entry_free(e);
}

/* The key is drawn once per process: a reload keeps the map. */
static void ready_locked(size_t max)
{
    hash_key key;

    if (!P.ready) {
        if (hashkey_random(&key) != 0)
            log_msg(LOG_WARNING, "downgrade: getrandom() failed; the peer map's hash key is "
                                 "derived from clocks and addresses");
        lrumap_init(&P.map, &key, max);
        P.ready = 1;
    }
    lrumap_set_max(&P.map, max);
}

/* Drops the peers whose newest TLS delivery is older than the window. */
static void sweep(int64_t now, int64_t window)
{
    for (unsigned t = 0; t < LRUMAP_TIERS; t++) {
        for (lrumap_node *n = P.map.oldest[t], *next; n; n = next) {
            next = n->newer;
            if (downgrade_last(((peer_entry *)n)->h) < now - window)
                drop_locked((peer_entry *)n);
        }
    }
    P.last_sweep = now;
}

/* Makes room for one more peer: the least recently learned of those not learned goes first,
 * a learned one only when every peer in memory is learned. */
static void evict_one_locked(void)
{
    lrumap_node *v = lrumap_victim(&P.map, NULL);

    P.evicted++;
    P.evicted_learned += v->tier == TIER_LEARNED;
    drop_locked((peer_entry *)v);
}

/* Caller holds the lock. `cap` is downgrade_min_sessions: a peer with that many deliveries
 * within the window is learned. */
static void learn_locked(const char *peer, int64_t now, const char *tls_version, unsigned cap,
                         int64_t window)
{
    peer_entry *e = find_locked(peer);
    unsigned tier;

    if (!e) {
        size_t len = strlen(peer);
        while (P.map.n >= P.map.max)
            evict_one_locked();
        e = xcalloc(1, sizeof *e + len + 1);
        memcpy(e->key, peer, len + 1);
        e->h = downgrade_history_new(cap);
        lrumap_insert(&P.map, &e->node, lrumap_hash(&P.map, peer, len), TIER_NEW);
    } else if (e->h->cap != cap) { /* downgrade_min_sessions changed at reload */
        e->h = downgrade_history_resize(e->h, cap);
    }
    downgrade_learn(e->h, now, tls_version);
    tier = downgrade_sessions_within(e->h, now, window) >= cap ? TIER_LEARNED : TIER_NEW;
    lrumap_touch(&P.map, &e->node, tier);
}

void peers_learn(const char *peer, int64_t now, const char *tls_version, unsigned cap,
                 int64_t window, size_t max)
{
    size_t evicted = 0, learned = 0;
    int first = 0;

    if (!peer || !*peer)
        return;
    pthread_mutex_lock(&P.lock);
    ready_locked(max);
    if (!P.last_sweep) {
        P.last_sweep = now;
    } else if (now - P.last_sweep >= SWEEP_EVERY) {
        sweep(now, window);
        evicted = P.evicted - P.reported;
        learned = P.evicted_learned;
        P.reported = P.evicted;
    }
    learn_locked(peer, now, tls_version, cap, window);
    if (P.evicted && !P.warned)
        first = P.warned = 1;
    pthread_mutex_unlock(&P.lock);
    if (first)
        log_msg(LOG_WARNING, "downgrade: peers_max = %zu reached: forgetting the peers least "
                             "recently seen over TLS, those not yet learned first", max);
    if (evicted)
        log_msg(LOG_WARNING, "downgrade: peers_max = %zu reached: %zu peers forgotten in the "
                             "last hour (%zu learned ones since start)", max, evicted, learned);
}

void peers_decide(const char *peer, const downgrade_params *prm, const char *tls_version,
                  const policy_decision *sender, policy_decision *out)
{
    peer_entry *e = NULL;

    pthread_mutex_lock(&P.lock);
    if (peer && *peer && P.ready)
        e = find_locked(peer);
    downgrade_decide(e ? e->h : NULL, prm, peer, tls_version, sender, out);
    pthread_mutex_unlock(&P.lock);
}

void peers_set_max(size_t max)
{
    pthread_mutex_lock(&P.lock);
    ready_locked(max);
    while (P.map.n > P.map.max)
        evict_one_locked();
    pthread_mutex_unlock(&P.lock);
}

size_t peers_count(void)
{
    size_t n;

    pthread_mutex_lock(&P.lock);
    n = P.map.n;
    pthread_mutex_unlock(&P.lock);
    return n;
}

void peers_get_stats(peers_stats *st)
{
    pthread_mutex_lock(&P.lock);
    *st = (peers_stats){
        .n = P.map.n,
        .learned = P.map.tier_n[TIER_LEARNED],
        .max = P.map.max,
        .evicted = P.evicted,
        .evicted_learned = P.evicted_learned,
        .longest_chain = lrumap_longest_chain(&P.map),
    };
    pthread_mutex_unlock(&P.lock);
}

void peers_clear(void)
{
    pthread_mutex_lock(&P.lock);
    for (unsigned t = 0; t < LRUMAP_TIERS; t++)
        while (P.map.oldest[t])
            drop_locked((peer_entry *)P.map.oldest[t]);
    lrumap_free(&P.map);
    P.last_sweep = 0;
    P.evicted = P.evicted_learned = P.reported = 0;
    P.warned = 0;
    pthread_mutex_unlock(&P.lock);
}

/* ---- persistence --------------------------------------------------------------------- */

/* What the daemon learned while running, as the database kept it: a session's start time
 * stands for the time of its first delivery. */
#define LOAD_SQL                                                                             \
    "SELECT s.peer, s.tls_version, CAST(strftime('%s', s.started_at) AS INTEGER)"           \
    "  FROM sessions s WHERE" WINDOW_SESSIONS_WHERE " ORDER BY s.started_at, s.id"

long peers_load(const char *path, int64_t now, int64_t window, unsigned cap, size_t max,
                char *err, size_t errsize)
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
    ready_locked(max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *peer = (const char *)sqlite3_column_text(st, 0);
        if (peer && *peer) {
            learn_locked(peer, sqlite3_column_int64(st, 2),
                         (const char *)sqlite3_column_text(st, 1), cap, window);
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
