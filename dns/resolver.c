/* SPDX-License-Identifier: MIT */
#include "resolver.h"

/* System. */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* libunbound. */
#include <unbound.h>

/* Core. */
#include "policy/lrumap.h"
#include "policy/policy.h"
#include "policy/xalloc.h"

/* Daemon. */
#include "util/hashkey.h"
#include "util/log.h"

#define TTL_MAX 86400
#define TTL_ERROR 5 /* bogus and failed answers are retried soon */

/* An answer with its reference count; callers see only the resolver_answer. */
typedef struct box {
    int refs; /* guarded by R.lock */
    resolver_answer a;
} box;

typedef struct entry {
    lrumap_node node; /* first: a node is its entry */
    char *name;
    int type;
    int pending;    /* a query is in flight; its callback owns a pointer to this entry */
    int waiters;    /* callers between lookup and taking the answer: not evictable */
    box *ans;       /* NULL until the first answer */
    time_t expires; /* CLOCK_MONOTONIC seconds */
} entry;

static struct {
    struct ub_ctx *ctx;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* broadcast whenever an answer arrives */
    lrumap cache; /* at most dns_cache_max answered entries, least recently asked go first */
    pthread_t thread;
    int wake[2];
    int running;
} R = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .wake = {-1, -1}};

static time_t mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* The hash of the lower-cased name (its first 255 bytes: a DNS name is no longer) and type. */
static uint64_t hash(const char *name, int type)
{
    unsigned char key[256 + sizeof type];
    size_t n = 0;

    for (; name[n] && n < 256; n++)
        key[n] = (unsigned char)tolower((unsigned char)name[n]);
    memcpy(key + n, &type, sizeof type);
    return lrumap_hash(&R.cache, key, n + sizeof type);
}

typedef struct query {
    const char *name;
    int type;
} query;

static int same_query(const lrumap_node *n, const void *arg)
{
    const entry *e = (const entry *)n;
    const query *q = arg;

    return e->type == q->type && strcasecmp(e->name, q->name) == 0;
}

/* An entry with a query in flight or a caller waiting for it stays. */
static int may_go(const lrumap_node *n)
{
    const entry *e = (const entry *)n;

    return !e->pending && !e->waiters;
}

static box *box_new(dane_status status, int secure, const char *why)
{
    box *b = xcalloc(1, sizeof *b);

    b->refs = 1;
    b->a.lk.status = status;
    b->a.lk.secure = secure;
    policy_sanitize(why, b->a.lk.why, sizeof b->a.lk.why);
    return b;
}

static void box_free(box *b)
{
    for (size_t i = 0; i < b->a.n; i++)
        free(b->a.data[i]);
    free(b->a.data);
    free(b->a.len);
    free(b);
}

/* Drops one reference; call with R.lock held. */
static void box_unref_locked(box *b)
{
    if (b && --b->refs == 0)
        box_free(b);
}

static void entry_free(entry *e)
{
    box_unref_locked(e->ans);
    free(e->name);
    free(e);
}

static const char *rcode_name(int rcode)
{
    switch (rcode) {
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: return "DNS error";
    }
}

/* Grades a libunbound result: bogus first (a bogus answer may still carry data). */
static box *grade(int err, struct ub_result *r, int *ttl)
{
    box *b;
    char why[DANE_WHY_MAX];
    size_t n = 0;

    *ttl = TTL_ERROR;
    if (err) {
        snprintf(why, sizeof why, "resolver error: %s", ub_strerror(err));
        return box_new(DANE_LOOKUP_FAIL, 0, why);
    }
    if (r->bogus)
        return box_new(DANE_LOOKUP_BOGUS, 0, r->why_bogus ? r->why_bogus : "validation failed");
    if (r->rcode != 0 && r->rcode != 3) {
        snprintf(why, sizeof why, "%s (rcode %d)", rcode_name(r->rcode), r->rcode);
        return box_new(DANE_LOOKUP_FAIL, 0, why);
    }
    *ttl = r->ttl < 1 ? 1 : r->ttl > TTL_MAX ? TTL_MAX : r->ttl;
    if (!r->havedata) {
        b = box_new(DANE_LOOKUP_NODATA, r->secure, r->nxdomain ? "NXDOMAIN" : "NODATA");
    } else {
        b = box_new(DANE_LOOKUP_DATA, r->secure, "");
        while (r->data[n])
            n++;
        b->a.n = n;
        b->a.data = xcalloc(n, sizeof *b->a.data);
        b->a.len = xcalloc(n, sizeof *b->a.len);
        for (size_t i = 0; i < n; i++) {
            size_t len = r->len[i] > 0 ? (size_t)r->len[i] : 0;
            b->a.data[i] = xmalloc(len ? len : 1);
            memcpy(b->a.data[i], r->data[i], len);
            b->a.len[i] = len;
        }
    }
    if (r->canonname && r->qname && strcasecmp(r->canonname, r->qname) != 0)
        policy_sanitize(r->canonname, b->a.canonname, sizeof b->a.canonname);
    return b;
}

static void on_result(void *arg, int err, struct ub_result *r)
{
    entry *e = arg;
    int ttl;
    box *b = grade(err, r, &ttl), *old;

    if (r)
        ub_resolve_free(r);
    pthread_mutex_lock(&R.lock);
    old = e->ans;
    e->ans = b;
    e->pending = 0;
    e->expires = mono_now() + ttl;
    box_unref_locked(old);
    pthread_cond_broadcast(&R.cond);
    pthread_mutex_unlock(&R.lock);
}

static void *resolver_thread(void *arg)
{
    struct pollfd fds[2] = {{.fd = ub_fd(R.ctx), .events = POLLIN}, {.fd = R.wake[0], .events = POLLIN}};

    for (;;) {
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        if (fds[1].revents)
            break;
        if (fds[0].revents && ub_process(R.ctx) != 0)
            log_msg(LOG_ERR, "resolver: ub_process failed");
    }
    return NULL;
}

/* Makes room for one entry: the least recently asked that no one waits for goes. Entries in
 * flight may hold the cache above the bound, by at most the lookups in progress. Call with
 * R.lock held. */
static void evict_locked(void)
{
    lrumap_node *v;

    while (R.cache.n >= R.cache.max && (v = lrumap_victim(&R.cache, may_go)) != NULL) {
        lrumap_remove(&R.cache, v);
        entry_free((entry *)v);
    }
}

const resolver_answer *resolver_query(const char *name, int rrtype, const struct timespec *deadline)
{
    query q = {name, rrtype};
    uint64_t h;
    entry *e;
    box *b = NULL;
    int submit = 0, rc;

    if (!R.ctx)
        return &box_new(DANE_LOOKUP_FAIL, 0, "no resolver: see the log at start")->a;
    pthread_mutex_lock(&R.lock);
    h = hash(name, rrtype);
    if ((e = (entry *)lrumap_find(&R.cache, h, same_query, &q)) != NULL) {
        lrumap_touch(&R.cache, &e->node, 0);
    } else {
        evict_locked();
        e = xcalloc(1, sizeof *e);
        e->name = xstrdup(name);
        e->type = rrtype;
        lrumap_insert(&R.cache, &e->node, h, 0);
    }
    if (!e->pending && (!e->ans || e->expires <= mono_now())) {
        e->pending = 1;
        submit = 1;
    }
    e->waiters++;
    pthread_mutex_unlock(&R.lock);

    if (submit && (rc = ub_resolve_async(R.ctx, name, rrtype, 1, e, on_result, NULL)) != 0)
        on_result(e, rc, NULL);

    pthread_mutex_lock(&R.lock);
    while (e->pending &&
           pthread_cond_timedwait(&R.cond, &R.lock, deadline) != ETIMEDOUT)
        ;
    if (!e->pending) {
        b = e->ans;
        b->refs++;
    }
    e->waiters--;
    pthread_mutex_unlock(&R.lock);
    if (!b) {
        char why[DANE_WHY_MAX];
        snprintf(why, sizeof why, "timed out");
        b = box_new(DANE_LOOKUP_TIMEOUT, 0, why);
    }
    return &b->a;
}

void resolver_release(const resolver_answer *a)
{
    box *b;

    if (!a)
        return;
    b = (box *)((char *)a - offsetof(box, a));
    pthread_mutex_lock(&R.lock);
    box_unref_locked(b);
    pthread_mutex_unlock(&R.lock);
}

static void ignore_result(void *arg, int err, struct ub_result *r)
{
    if (r)
        ub_resolve_free(r);
}

int resolver_init(const resolver_config *cfg, char *err, size_t errsize)
{
    sigset_t all, old;
    pthread_condattr_t attr;
    hash_key key;
    int rc, async_id;

    /* Callers give deadlines on the monotonic clock. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&R.cond, &attr);
    pthread_condattr_destroy(&attr);

    if (hashkey_random(&key) != 0)
        log_msg(LOG_WARNING, "resolver: getrandom() failed; the cache's hash key is derived "
                             "from clocks and addresses");
    lrumap_init(&R.cache, &key, cfg->cache_max > 0 ? (size_t)cfg->cache_max : 100000);
    if (!(R.ctx = ub_ctx_create())) {
        snprintf(err, errsize, "resolver: cannot create a libunbound context");
        return -1;
    }
    /* Threads, not a forked process, for asynchronous queries. Must come first. */
    if ((rc = ub_ctx_async(R.ctx, 1)) != 0 ||
        (cfg->unbound_conf && (rc = ub_ctx_config(R.ctx, cfg->unbound_conf)) != 0) ||
        (cfg->forwarder && (rc = ub_ctx_set_fwd(R.ctx, cfg->forwarder)) != 0) ||
        (cfg->forwarder && (strncmp(cfg->forwarder, "127.", 4) == 0 ||
                            strncmp(cfg->forwarder, "::1", 3) == 0) &&
         (rc = ub_ctx_set_option(R.ctx, "do-not-query-localhost:", "no")) != 0) ||
        (cfg->trust_anchor && (rc = ub_ctx_add_ta_file(R.ctx, cfg->trust_anchor)) != 0)) {
        snprintf(err, errsize, "resolver: %s", ub_strerror(rc));
        goto fail;
    }
    /* Anchor and config errors surface only when the context is finalised, by the first
     * query: ask one now that libunbound answers from its built-in local zones, so nothing
     * leaves the machine and nothing is waited for. */
    if ((rc = ub_resolve_async(R.ctx, "localhost.", 1 /* A */, 1, NULL, ignore_result,
                               &async_id)) != 0) {
        snprintf(err, errsize, "resolver: %s (trust anchor %s, unbound.conf %s)", ub_strerror(rc),
                 cfg->trust_anchor ? cfg->trust_anchor : "none",
                 cfg->unbound_conf ? cfg->unbound_conf : "none");
        goto fail;
    }
    if (pipe(R.wake) != 0) {
        snprintf(err, errsize, "resolver: pipe: %s", strerror(errno));
        goto fail;
    }
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&R.thread, NULL, resolver_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errsize, "resolver: cannot start thread: %s", strerror(rc));
        goto fail;
    }
    R.running = 1;
    return 0;
fail:
    ub_ctx_delete(R.ctx);
    R.ctx = NULL;
    return -1;
}

struct timespec resolver_deadline(long ms)
{
    struct timespec d;

    clock_gettime(CLOCK_MONOTONIC, &d);
    d.tv_sec += ms / 1000;
    d.tv_nsec += (ms % 1000) * 1000000L;
    if (d.tv_nsec >= 1000000000L) {
        d.tv_sec++;
        d.tv_nsec -= 1000000000L;
    }
    return d;
}

int resolver_ready(void)
{
    return R.ctx != NULL;
}

size_t resolver_cache_count(void)
{
    size_t n;

    pthread_mutex_lock(&R.lock);
    n = R.cache.n;
    pthread_mutex_unlock(&R.lock);
    return n;
}

void resolver_shutdown(void)
{
    if (R.running) {
        if (write(R.wake[1], "x", 1) < 0)
            log_msg(LOG_WARNING, "resolver: cannot wake its thread");
        pthread_join(R.thread, NULL);
        R.running = 0;
        close(R.wake[0]);
        close(R.wake[1]);
    }
    if (R.ctx) {
        ub_ctx_delete(R.ctx);
        R.ctx = NULL;
    }
    pthread_mutex_lock(&R.lock);
    while (R.cache.oldest[0]) {
        entry *e = (entry *)R.cache.oldest[0];
        lrumap_remove(&R.cache, &e->node);
        entry_free(e);
    }
    lrumap_free(&R.cache);
    pthread_mutex_unlock(&R.lock);
}
