/* SPDX-License-Identifier: MIT */
#include "gate.h"

/* System. */
#include <pthread.h>

/* Daemon. */
#include "util/log.h"
#include "milter.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;
static int in_flight; /* callbacks running; guarded by lock */
static int shut;      /* guarded by lock */
static struct smfiDesc inner;

/* Returns 1 if the callback may run (then gate_leave() after it), 0 if the gate is shut. */
static int gate_enter(void)
{
    int ok;

    pthread_mutex_lock(&lock);
    if ((ok = !shut))
        in_flight++;
    pthread_mutex_unlock(&lock);
    return ok;
}

static sfsistat gate_leave(sfsistat r)
{
    pthread_mutex_lock(&lock);
    if (--in_flight == 0 && shut)
        pthread_cond_broadcast(&idle);
    pthread_mutex_unlock(&lock);
    return r;
}

/* A step after the gate shut: 421, whatever the step. libmilter sends no reply where the
 * MTA negotiated none (connect, HELO); the next step that is answered ends the session. */
static sfsistat refused(SMFICTX *ctx)
{
    smfi_setreply(ctx, "421", "4.3.2", "tlsguard is shutting down, try again later");
    return SMFIS_TEMPFAIL;
}

static sfsistat g_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    return gate_enter() ? gate_leave(inner.xxfi_connect(ctx, host, sa)) : refused(ctx);
}

static sfsistat g_helo(SMFICTX *ctx, char *helo)
{
    return gate_enter() ? gate_leave(inner.xxfi_helo(ctx, helo)) : refused(ctx);
}

static sfsistat g_envfrom(SMFICTX *ctx, char **argv)
{
    return gate_enter() ? gate_leave(inner.xxfi_envfrom(ctx, argv)) : refused(ctx);
}

static sfsistat g_envrcpt(SMFICTX *ctx, char **argv)
{
    return gate_enter() ? gate_leave(inner.xxfi_envrcpt(ctx, argv)) : refused(ctx);
}

static sfsistat g_header(SMFICTX *ctx, char *name, char *value)
{
    return gate_enter() ? gate_leave(inner.xxfi_header(ctx, name, value)) : refused(ctx);
}

static sfsistat g_eoh(SMFICTX *ctx)
{
    return gate_enter() ? gate_leave(inner.xxfi_eoh(ctx)) : refused(ctx);
}

static sfsistat g_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    return gate_enter() ? gate_leave(inner.xxfi_body(ctx, chunk, len)) : refused(ctx);
}

static sfsistat g_eom(SMFICTX *ctx)
{
    return gate_enter() ? gate_leave(inner.xxfi_eom(ctx)) : refused(ctx);
}

static sfsistat g_data(SMFICTX *ctx)
{
    return gate_enter() ? gate_leave(inner.xxfi_data(ctx)) : refused(ctx);
}

static sfsistat g_unknown(SMFICTX *ctx, const char *cmd)
{
    return gate_enter() ? gate_leave(inner.xxfi_unknown(ctx, cmd)) : refused(ctx);
}

/* The MTA abandoned the message: nothing to answer. */
static sfsistat g_abort(SMFICTX *ctx)
{
    return gate_enter() ? gate_leave(inner.xxfi_abort(ctx)) : SMFIS_CONTINUE;
}

static sfsistat g_close(SMFICTX *ctx)
{
    if (gate_enter())
        return gate_leave(inner.xxfi_close(ctx));
    milter_close_quiet(ctx);
    return SMFIS_CONTINUE;
}

struct smfiDesc gate_wrap(const struct smfiDesc *d)
{
    struct smfiDesc g = *d;

    inner = *d;
#define GATE(field, fn) (g.field = d->field ? fn : NULL)
    GATE(xxfi_connect, g_connect);
    GATE(xxfi_helo, g_helo);
    GATE(xxfi_envfrom, g_envfrom);
    GATE(xxfi_envrcpt, g_envrcpt);
    GATE(xxfi_header, g_header);
    GATE(xxfi_eoh, g_eoh);
    GATE(xxfi_body, g_body);
    GATE(xxfi_eom, g_eom);
    GATE(xxfi_data, g_data);
    GATE(xxfi_unknown, g_unknown);
    GATE(xxfi_abort, g_abort);
    GATE(xxfi_close, g_close);
#undef GATE
    return g;
}

void gate_close(void)
{
    pthread_mutex_lock(&lock);
    shut = 1;
    if (in_flight > 0)
        log_msg(LOG_INFO, "waiting for %d milter callbacks to return", in_flight);
    while (in_flight > 0)
        pthread_cond_wait(&idle, &lock);
    pthread_mutex_unlock(&lock);
}
