/* SPDX-License-Identifier: MIT */
#include "milter.h"

/* System. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

/* Core. */
#include "policy/downgrade.h"
#include "policy/flow.h"
#include "policy/policy.h"
#include "policy/xalloc.h"

/* Daemon. */
#include "config/config.h"
#include "dns/dane_lookup.h"
#include "util/log.h"
#include "store/peers.h"
#include "store/recorder.h"

#define HEADER_NAME "X-TLS-Policy"
/*
 * Copies of X-TLS-Policy in a message that tlsguard deletes one by one at end of message;
 * a message with more is refused (each deletion makes the MTA scan the headers again).
 */
#define FORGED_LIMIT 100
#define TLS_MACROS \
    "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer} {verify} {cn_subject} " \
    "{cn_issuer} {cert_fp} {cert_md5}"

/*
 * Macros tlsguard asks the MTA for (smfi_setsymlist). Policy reads TLS facts at MAIL,
 * where they are final: the first EHLO always precedes STARTTLS. They are also read at each
 * HELO/EHLO so that a session that sent no mail is still recorded with its TLS.
 * {auth_type} and {auth_authen} are set at MAIL once AUTH succeeded (plaintext_auth).
 * {verify}, {cn_subject}, {cn_issuer}, {cert_fp} and {cert_md5} are Sendmail's; Postfix skips
 * macros it does not know.
 * Postfix knows the queue id only from the first accepted RCPT on.
 * {mail_addr} and {rcpt_addr} are the MTA's own reading of the envelope address, checked
 * against the command argument (policy_envelope_read).
 */
static const struct {
    int stage;
    const char *macros;
} macro_lists[] = {
    {SMFIM_CONNECT, "j {client_resolve}"},
    {SMFIM_HELO, TLS_MACROS},
    {SMFIM_ENVFROM, "i {auth_type} {auth_authen} {mail_addr} " TLS_MACROS},
    {SMFIM_ENVRCPT, "i {rcpt_addr}"},
    {SMFIM_EOM, "i"},
};

/* One transaction (MAIL FROM to end of message or abort). */
typedef struct msg_state {
    int active;
    snapshot *snap; /* pinned for the whole transaction: no mixed policy */
    int64_t id;
    char at[24];
    char queue_id[64];
    char mail_from[POLICY_ADDR_MAX];
    const char *addr; /* the address the decisions being made are about, for the log */
    flow fl;          /* the decisions (policy/flow.h) */
    int forged; /* X-TLS-Policy headers in the message as the MTA showed it (on_header) */
} msg_state;

/* One SMTP connection, owned by the libmilter context, freed in on_close. */
typedef struct conn {
    unsigned long noreply; /* SMFIP_NR_* steps negotiated */
    int connected;
    const char *late;      /* not NULL: refused at MAIL with 421 4.3.2 and this text
                              (connected while draining, or beyond max_sessions) */
    int64_t session_id;
    char started_at[24];
    char client_addr[INET6_ADDRSTRLEN];
    int client_port;
    char client_name[256];
    char peer[PEER_MAX]; /* peers_identity(); "" if unknown */
    int learned;         /* this session's TLS delivery is in the peer's history */
    char helo[512];
    int has_tls;
    char tls_version[32], cipher[128];
    int cipher_bits;
    char cert_subject[256], cert_issuer[256];
    int cert_verified;
    char cert_fp[POLICY_FP_MAX]; /* as the MTA passed it ({cert_fp} or {cert_md5}) */
    int cert_none;               /* the MTA said: no client certificate */
    int messages;
    msg_state msg;
} conn;

static atomic_int active_sessions; /* sessions served: connected before draining, within
                                      max_sessions */
static atomic_int draining;
static atomic_ulong over_cap; /* sessions refused for max_sessions, for the log */

#define LATE_DRAINING "tlsguard is shutting down, try again later"
#define LATE_OVER_CAP "tlsguard is busy, try again later"

int milter_active_sessions(void)
{
    return atomic_load(&active_sessions);
}

void milter_drain(void)
{
    atomic_store(&draining, 1);
}

/*
 * Takes a slot among the max_sessions served. libmilter cannot refuse a connection at
 * accept and the MTA negotiates connect without a reply, so a session beyond the cap is
 * refused at MAIL (as one that connects while draining). Logged: 1st, 2nd, 4th, ... and
 * every 1000th refusal, so that a flood of connections cannot flood the log.
 */
static void session_admit(conn *c)
{
    snapshot *s = snapshot_current();
    long max = s ? s->cfg.max_sessions : 1;
    unsigned long n;

    s = snapshot_release(s);
    if (atomic_load(&draining)) {
        c->late = LATE_DRAINING;
        return;
    }
    if (atomic_fetch_add(&active_sessions, 1) < max)
        return;
    atomic_fetch_sub(&active_sessions, 1);
    c->late = LATE_OVER_CAP;
    n = atomic_fetch_add(&over_cap, 1) + 1;
    if ((n & (n - 1)) == 0 || n % 1000 == 0)
        log_msg(LOG_WARNING, "NOQUEUE: session refused: max_sessions=%ld reached "
                             "(%lu sessions refused so far)", max, n);
}

void milter_close_quiet(SMFICTX *ctx)
{
    conn *c = smfi_getpriv(ctx);

    if (!c)
        return;
    snapshot_release(c->msg.snap);
    smfi_setpriv(ctx, NULL);
    free(c);
}

/* Copies a macro, sanitised and bounded; returns 1 if present and non-empty. */
static int macro(SMFICTX *ctx, const char *name, char *buf, size_t size)
{
    const char *v = smfi_getsymval(ctx, (char *)name);

    policy_sanitize(v, buf, size);
    return buf[0] != '\0';
}

/* An envelope address as recorded and logged: normalised where it parses, and printable
 * ASCII in any case (8-bit local parts included). Only "<>" itself is recorded as "". */
static void store_addr(const char *arg, char *out, size_t size)
{
    char norm[POLICY_ADDR_MAX];

    if (policy_addr_normalize(arg, norm, sizeof norm) != 0 ||
        (!norm[0] && arg && *arg && strcmp(arg, "<>") != 0))
        policy_sanitize(arg, out, size);
    else
        policy_sanitize(norm, out, size);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

static conn *conn_get(SMFICTX *ctx)
{
    conn *c = smfi_getpriv(ctx);

    if (!c) {
        c = xcalloc(1, sizeof *c);
        c->client_port = -1;
        c->cipher_bits = -1;
        c->cert_verified = -1;
        smfi_setpriv(ctx, c);
    }
    return c;
}

static sfsistat noreply(const conn *c, unsigned long step)
{
    return (c->noreply & step) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static void queue_session(const conn *c, int closing)
{
    rec *r = rec_new(REC_SESSION);
    char now[24];

    r->id = c->session_id;
    r->at = xstrdup(c->started_at);
    if (closing) {
        recorder_now(now, sizeof now);
        r->ended_at = xstrdup(now);
    }
    r->client_addr = dup_or_null(c->client_addr);
    r->client_port = c->client_port;
    r->client_name = dup_or_null(c->client_name);
    r->peer = dup_or_null(c->peer);
    r->helo = dup_or_null(c->helo);
    if (c->has_tls) {
        r->tls_version = xstrdup(c->tls_version);
        r->cipher = dup_or_null(c->cipher);
        r->cipher_bits = c->cipher_bits;
        r->cert_subject = dup_or_null(c->cert_subject);
        r->cert_issuer = dup_or_null(c->cert_issuer);
        r->cert_verified = c->cert_verified;
        r->cert_fp = dup_or_null(c->cert_fp);
    }
    r->messages = c->messages;
    recorder_put(r);
}

static void decision_fields(rec *r, const policy_decision *d)
{
    r->rule = dup_or_null(d->rule_text);
    r->level = d->rule ? xstrdup(policy_level_name(d->level)) : NULL;
    r->verdict = xstrdup(policy_verdict_name(d->verdict));
    r->reason = dup_or_null(d->reason);
    r->action = xstrdup(policy_action_name(d->action));
}

static void queue_message(const conn *c, const char *outcome)
{
    const msg_state *m = &c->msg;
    rec *r = rec_new(REC_MESSAGE);

    r->id = m->id;
    r->parent = c->session_id;
    r->at = xstrdup(m->at);
    r->queue_id = dup_or_null(m->queue_id);
    r->addr = xstrdup(m->mail_from);
    decision_fields(r, &m->fl.sender);
    r->outcome = outcome ? xstrdup(outcome) : NULL;
    recorder_put(r);
}

/* Ends the transaction in progress, if any, recording its outcome. */
static void message_end(conn *c, const char *outcome)
{
    msg_state *m = &c->msg;

    if (!m->active)
        return;
    queue_message(c, outcome);
    m->snap = snapshot_release(m->snap);
    m->active = 0;
}

static void facts_of(const conn *c, policy_facts *f)
{
    memset(f, 0, sizeof *f);
    f->client_addr = c->client_addr[0] ? c->client_addr : NULL;
    f->mail_from_domain = c->msg.fl.from_domain;
    f->tls_version = c->has_tls ? c->tls_version : NULL;
    f->cipher = c->has_tls ? c->cipher : NULL;
    f->cipher_bits = c->has_tls ? c->cipher_bits : -1;
    f->cert_subject = c->cert_subject[0] ? c->cert_subject : NULL;
    f->cert_issuer = c->cert_issuer[0] ? c->cert_issuer : NULL;
    f->cert_verified = c->cert_verified == 1;
    f->cert_fp = c->cert_fp[0] ? c->cert_fp : NULL;
    f->cert_none = c->cert_none;
}

/* A Sendmail certificate name: xtext-encoded ("+20" for a space), decoded and sanitised. */
static void xtext_macro(SMFICTX *ctx, const char *name, char *buf, size_t size)
{
    policy_xtext_decode(smfi_getsymval(ctx, (char *)name), buf, size);
}

/*
 * Reads the TLS facts as the MTA reports them at MAIL. Postfix sends {cert_subject} and
 * {cert_issuer} (the CNs) only for a trusted certificate, and no {verify}. Sendmail sends
 * {verify} (OK: trusted; FAIL: not; NO, NOT: no certificate), the CNs in {cn_subject} and
 * {cn_issuer} for any certificate ({cert_subject} is the full DN there), and the fingerprint
 * in {cert_md5}, or in {cert_fp} with CertFingerprintAlgorithm set.
 */
static void read_tls(SMFICTX *ctx, conn *c)
{
    char bits[32], verify[32];

    c->has_tls = macro(ctx, "{tls_version}", c->tls_version, sizeof c->tls_version);
    c->cipher[0] = c->cert_subject[0] = c->cert_issuer[0] = c->cert_fp[0] = '\0';
    c->cipher_bits = c->cert_verified = -1;
    c->cert_none = 0;
    if (!c->has_tls)
        return;
    macro(ctx, "{cipher}", c->cipher, sizeof c->cipher);
    macro(ctx, "{cipher_bits}", bits, sizeof bits);
    c->cipher_bits = policy_cipher_bits_parse(bits);
    if (!macro(ctx, "{cert_fp}", c->cert_fp, sizeof c->cert_fp))
        macro(ctx, "{cert_md5}", c->cert_fp, sizeof c->cert_fp);
    if (macro(ctx, "{verify}", verify, sizeof verify)) {
        c->cert_verified = strcmp(verify, "OK") == 0;
        c->cert_none = strcmp(verify, "NO") == 0 || strcmp(verify, "NOT") == 0;
        xtext_macro(ctx, "{cn_subject}", c->cert_subject, sizeof c->cert_subject);
        xtext_macro(ctx, "{cn_issuer}", c->cert_issuer, sizeof c->cert_issuer);
        return;
    }
    macro(ctx, "{cert_subject}", c->cert_subject, sizeof c->cert_subject);
    macro(ctx, "{cert_issuer}", c->cert_issuer, sizeof c->cert_issuer);
    c->cert_verified = c->cert_subject[0] != '\0';
}

/* The MTA's reading of an address ({mail_addr}, {rcpt_addr}) names another domain than the
 * command's argument: both are checked, and this line says so before the two decisions. */
static void log_two_domains(const char *queue_id, const char *what, const policy_envelope *env)
{
    log_line l;

    log_start(&l, queue_id, "envelope");
    log_field(&l, "address", what);
    log_field(&l, "mta_domain", env->mta_domain);
    log_field(&l, "command_domain", env->domain);
    log_field(&l, "checked", "both");
    log_end(LOG_INFO, &l);
}

/* One decision, one line; every value goes through log_field (tlsguard(8), "Log format"). */
static void log_decision(const conn *c, const char *what, const char *addr,
                         const policy_decision *d)
{
    const msg_state *m = &c->msg;
    char bracketed[POLICY_ADDR_MAX + 2];
    log_line l;

    snprintf(bracketed, sizeof bracketed, "<%s>", addr);
    log_start(&l, m->queue_id, what);
    log_field(&l, strcmp(what, "rcpt") ? "from" : "to", bracketed);
    log_field(&l, "client", c->client_addr[0] ? c->client_addr : "unknown");
    log_field(&l, "helo", c->helo);
    log_field(&l, "tls", c->has_tls ? c->tls_version : "none");
    log_field(&l, "cipher", c->has_tls && c->cipher[0] ? c->cipher : "-");
    log_field_int(&l, "bits", c->has_tls ? c->cipher_bits : 0);
    log_field(&l, "rule", d->rule_text[0] ? d->rule_text : "-");
    log_field(&l, "level", policy_level_name(d->level));
    log_field(&l, "verdict", policy_verdict_name(d->verdict));
    log_field(&l, "action", policy_action_name(d->action));
    log_field_int(&l, "session", (long long)c->session_id);
    if (d->reason[0])
        log_field(&l, "reason", d->reason);
    if (d->dane[0])
        log_field(&l, "dane", d->dane);
    log_end(d->verdict == POLICY_VERDICT_PASS || d->verdict == POLICY_VERDICT_NONE ? LOG_INFO
                                                                                    : LOG_NOTICE,
            &l);
}

/* The queue id as the first word of a line of fixed text: log_quote'd, NOQUEUE if unknown. */
static const char *log_id(const msg_state *m, char *buf, size_t size)
{
    log_quote(m->queue_id[0] ? m->queue_id : "NOQUEUE", buf, size);
    return buf;
}

/* Sets the reply right before REJECT/TEMPFAIL, with '%' escaped for the MTA. */
static sfsistat refuse(SMFICTX *ctx, int code, const char *xcode, const char *text, int reject)
{
    char rcode[8], esc[2 * POLICY_REPLY_MAX];
    size_t j = 0;

    for (const char *p = text; *p && j + 2 < sizeof esc; p++) {
        if (*p == '%')
            esc[j++] = '%';
        esc[j++] = *p;
    }
    esc[j] = '\0';
    snprintf(rcode, sizeof rcode, "%d", code);
    if (smfi_setreply(ctx, rcode, (char *)xcode, esc) != MI_SUCCESS) {
        log_line l;

        log_start(&l, smfi_getsymval(ctx, (char *)"i"), "reply-not-set");
        log_field(&l, "code", rcode);
        log_field(&l, "xcode", xcode);
        log_field(&l, "text", text);
        log_end(LOG_WARNING, &l);
    }
    return reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                             unsigned long f2, unsigned long f3, unsigned long *pf0,
                             unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    conn *c = conn_get(ctx);
    const unsigned long skip = SMFIP_NOBODY | SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NODATA;
    const unsigned long quiet = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_HDR;

    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST);
    *pf1 = f1 & (skip | quiet);
    *pf2 = *pf3 = 0;
    c->noreply = *pf1 & quiet;
    if (f0 & SMFIF_SETSYMLIST)
        for (size_t i = 0; i < sizeof macro_lists / sizeof macro_lists[0]; i++)
            if (smfi_setsymlist(ctx, macro_lists[i].stage, (char *)macro_lists[i].macros) !=
                MI_SUCCESS)
                log_msg(LOG_WARNING, "MTA refused the macro list for stage %d",
                        macro_lists[i].stage);
    return SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
    conn *c = conn_get(ctx);
    char resolve[16];

    c->connected = 1;
    session_admit(c);
    c->session_id = recorder_next_session_id();
    recorder_now(c->started_at, sizeof c->started_at);
    policy_sanitize(hostname, c->client_name, sizeof c->client_name);
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, c->client_addr, sizeof c->client_addr);
        c->client_port = ntohs(in->sin_port);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        /* An IPv4 client on a dual-stack socket is recorded, logged and matched as IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, c->client_addr, sizeof c->client_addr);
        else
            inet_ntop(AF_INET6, &in6->sin6_addr, c->client_addr, sizeof c->client_addr);
        c->client_port = ntohs(in6->sin6_port);
    }
    /* The name counts only if the MTA says it verified it ({client_resolve}, peers.h). */
    peers_identity(c->client_name,
                   macro(ctx, "{client_resolve}", resolve, sizeof resolve) ? resolve : NULL,
                   c->client_addr, c->peer, sizeof c->peer);
    return noreply(c, SMFIP_NR_CONN);
}

static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
    conn *c = conn_get(ctx);

    policy_sanitize(helo, c->helo, sizeof c->helo);
    read_tls(ctx, c);
    return noreply(c, SMFIP_NR_HELO);
}

/* A session counts once in its peer's TLS history: at its first delivered message. */
static void learn_tls(conn *c)
{
    const tlsg_config *cfg = &c->msg.snap->cfg;

    if (c->learned || !c->has_tls || !c->peer[0])
        return;
    peers_learn(c->peer, time(NULL), c->tls_version, (unsigned)cfg->downgrade_min_sessions,
                cfg->downgrade_window, (size_t)cfg->peers_max);
    c->learned = 1;
}

/* Flow hooks (policy/flow.h): the facts the core does not gather itself, and the log. */

/* A dane or dane-only rule applies: this session's thread waits for the domain's DNS facts,
 * within dns_timeout; others go on. */
static void hook_dane(void *arg, const char *domain, dane_facts *out)
{
    const conn *c = arg;

    dane_lookup_domain(domain, 25, c->msg.snap->cfg.dns_timeout * 1000, out);
}

/* The learned downgrade (downgrade.h) from the peer's history in store/peers.c. */
static int hook_downgrade(void *arg, policy_downgrade mode, const policy_decision *sender,
                          policy_decision *out)
{
    const conn *c = arg;
    const tlsg_config *cfg = &c->msg.snap->cfg;
    downgrade_params prm = {
        .now = time(NULL),
        .min_sessions = (unsigned)cfg->downgrade_min_sessions,
        .window = cfg->downgrade_window,
        .mode = mode,
    };

    if (!c->peer[0])
        return 0;
    peers_decide(c->peer, &prm, c->has_tls ? c->tls_version : NULL, sender, out);
    return 1;
}

static void hook_decided(void *arg, const char *what, const policy_envelope *two,
                         const policy_decision *d)
{
    const conn *c = arg;

    if (two)
        log_two_domains(c->msg.queue_id, what, two);
    log_decision(c, what, c->msg.addr, d);
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
    conn *c = conn_get(ctx);
    msg_state *m = &c->msg;
    char id[LOG_VALUE_MAX], type[64], authen[POLICY_ADDR_MAX];
    const flow_hooks hooks = {hook_dane, hook_downgrade, hook_decided, c};
    const policy_decision *d;
    policy_facts f;

    message_end(c, "aborted");
    if (c->late) /* connect cannot be answered: it is negotiated without reply */
        return refuse(ctx, 421, "4.3.2", c->late, 0);
    memset(m, 0, sizeof *m);
    m->active = 1;
    m->snap = snapshot_current();
    m->id = recorder_next_message_id();
    recorder_now(m->at, sizeof m->at);
    macro(ctx, "i", m->queue_id, sizeof m->queue_id);
    store_addr(argv[0], m->mail_from, sizeof m->mail_from);
    m->addr = m->mail_from;
    read_tls(ctx, c);
    c->messages++;
    facts_of(c, &f);
    f.auth_type = macro(ctx, "{auth_type}", type, sizeof type) ? type : NULL;
    f.auth_authen = macro(ctx, "{auth_authen}", authen, sizeof authen) ? authen : NULL;
    flow_start(&m->fl, m->snap->pol, &m->snap->opts, m->snap->cfg.plaintext_auth, &hooks);
    d = flow_mail(&m->fl, &f, argv[0], smfi_getsymval(ctx, "{mail_addr}"));
    queue_session(c, 0);
    if (flow_refuses(d)) {
        message_end(c, "refused");
        return refuse(ctx, d->code, d->xcode, d->reply, d->action == POLICY_ACTION_REJECT);
    }
    if (m->snap->cfg.on_db_error == ON_DB_ERROR_TEMPFAIL && !recorder_healthy()) {
        log_msg(LOG_WARNING, "%s: deferred: database cannot be written (on_db_error=tempfail)",
                log_id(m, id, sizeof id));
        message_end(c, "refused");
        return refuse(ctx, 451, "4.3.0", "tlsguard cannot record this transaction, try again later",
                      0);
    }
    queue_message(c, NULL);
    return SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
    conn *c = conn_get(ctx);
    msg_state *m = &c->msg;
    char rcpt[POLICY_ADDR_MAX], now[24];
    policy_decision d;
    policy_facts f;
    rec *r;

    if (!m->active)
        return SMFIS_CONTINUE;
    if (!m->queue_id[0])
        macro(ctx, "i", m->queue_id, sizeof m->queue_id);
    store_addr(argv[0], rcpt, sizeof rcpt);
    facts_of(c, &f);
    m->addr = rcpt;
    flow_rcpt(&m->fl, &f, argv[0], smfi_getsymval(ctx, "{rcpt_addr}"), &d);
    m->addr = NULL;
    r = rec_new(REC_RCPT);
    r->id = m->id;
    recorder_now(now, sizeof now);
    r->at = xstrdup(now);
    r->addr = xstrdup(rcpt);
    decision_fields(r, &d);
    r->dane = dup_or_null(d.dane);
    recorder_put(r);
    if (flow_refuses(&d))
        return refuse(ctx, d.code, d.xcode, d.reply, d.action == POLICY_ACTION_REJECT);
    return SMFIS_CONTINUE;
}

/*
 * The header step (negotiated without reply: the MTA sends the headers without waiting, Postfix
 * all of them and the end of message in one write) only counts X-TLS-Policy, whatever the case
 * of the name; the MTA has already taken blanks before the colon off the name. Both MTAs show a milter the headers that its own
 * smfi_chgheader indexes count: the message's and earlier milters' (Postfix hides only its
 * own Received:, Sendmail only headers it generates).
 */
static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
    conn *c = conn_get(ctx);

    (void)value;
    if (strcasecmp(name, HEADER_NAME) == 0 && c->msg.forged <= FORGED_LIMIT)
        c->msg.forged++;
    return noreply(c, SMFIP_NR_HDR);
}

/*
 * A sender must not be able to forge our header: every copy that came in is deleted, whatever
 * `header` says and even for a message tlsguard has no record of. Deleting the last first keeps
 * the lower indexes valid in both MTAs. Returns SMFIS_CONTINUE, or the refusal to answer with.
 */
static sfsistat strip_forged(SMFICTX *ctx, conn *c)
{
    int n = c->msg.forged, i = n;
    char raw[64], qid[4 * sizeof raw + 3];

    c->msg.forged = 0;
    while (n <= FORGED_LIMIT && i >= 1 && smfi_chgheader(ctx, HEADER_NAME, i, NULL) == MI_SUCCESS)
        i--;
    if (n <= FORGED_LIMIT && i == 0)
        return SMFIS_CONTINUE;
    if (!macro(ctx, "i", raw, sizeof raw))
        snprintf(raw, sizeof raw, "NOQUEUE");
    log_quote(raw, qid, sizeof qid);
    message_end(c, "refused");
    if (n > FORGED_LIMIT) {
        log_msg(LOG_NOTICE, "%s: refused: more than %d %s headers in the message", qid,
                FORGED_LIMIT, HEADER_NAME);
        return refuse(ctx, 550, "5.7.1", "too many X-TLS-Policy headers in the message", 1);
    }
    log_msg(LOG_ERR, "%s: deferred: the MTA did not let tlsguard delete a forged %s header", qid,
            HEADER_NAME);
    return refuse(ctx, 451, "4.7.0", "forged X-TLS-Policy header cannot be removed", 0);
}

static sfsistat on_eom(SMFICTX *ctx)
{
    conn *c = conn_get(ctx);
    msg_state *m = &c->msg;
    char value[900], id[LOG_VALUE_MAX];
    policy_facts f;
    sfsistat r = strip_forged(ctx, c);

    if (r != SMFIS_CONTINUE || !m->active)
        return r;
    if (!m->queue_id[0])
        macro(ctx, "i", m->queue_id, sizeof m->queue_id);
    facts_of(c, &f);
    if (flow_end(&m->fl, &f, m->snap->cfg.header, value, sizeof value) &&
        smfi_insheader(ctx, 0, HEADER_NAME, value) != MI_SUCCESS)
        log_msg(LOG_WARNING, "%s: could not add the %s header", log_id(m, id, sizeof id),
                HEADER_NAME);
    if (m->fl.quarantine && smfi_quarantine(ctx, m->fl.why_held) != MI_SUCCESS)
        log_msg(LOG_ERR, "%s: quarantine refused by the MTA", log_id(m, id, sizeof id));
    learn_tls(c);
    message_end(c, m->fl.quarantine ? "quarantined" : m->fl.tag ? "tagged" : "accepted");
    return SMFIS_CONTINUE;
}

static sfsistat on_abort(SMFICTX *ctx)
{
    conn *c = smfi_getpriv(ctx);

    if (c)
        message_end(c, "aborted");
    return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
    conn *c = smfi_getpriv(ctx);

    if (!c)
        return SMFIS_CONTINUE;
    message_end(c, "aborted");
    if (c->connected) {
        queue_session(c, 1);
        if (!c->late)
            atomic_fetch_sub(&active_sessions, 1);
    }
    smfi_setpriv(ctx, NULL);
    free(c);
    return SMFIS_CONTINUE;
}

struct smfiDesc milter_desc = {
    .xxfi_name = "tlsguard",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
    .xxfi_connect = on_connect,
    .xxfi_helo = on_helo,
    .xxfi_envfrom = on_envfrom,
    .xxfi_envrcpt = on_envrcpt,
    .xxfi_header = on_header,
    .xxfi_eom = on_eom,
    .xxfi_abort = on_abort,
    .xxfi_close = on_close,
    .xxfi_negotiate = on_negotiate,
};
