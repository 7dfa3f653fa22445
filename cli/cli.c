/* SPDX-License-Identifier: MIT */
#include "cli.h"

/* System. */
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Libraries, for `version`. */
#include <libmilter/mfapi.h>
#include <openssl/crypto.h>

/* Core. */
#include "policy/downgrade.h"
#include "policy/flow.h"
#include "policy/policy.h"

#include "policy/xalloc.h"

/* Daemon. */
#include "config/config.h"
#include "dns/dane_lookup.h"
#include "dns/resolver.h"
#include "store/query.h"
#include "util/diag.h"

static void print_line(void *arg, const char *line)
{
    fprintf(arg, "%s\n", line);
}

/* Loads config and policy or prints every error; NULL on failure. */
static snapshot *load_or_report(const char *path)
{
    policy_diag diag = {0};
    snapshot *s = snapshot_load(path, &diag);

    diag_report(&diag, stderr, NULL);
    if (!s)
        fprintf(stderr, "tlsguard: %d error(s); configuration not OK\n", diag.errors);
    policy_diag_free(&diag);
    return s;
}

/* The trust anchor and unbound.conf are read by libunbound only when the resolver starts:
 * start it here too. A failure is an error when a dane rule needs the resolver. */
static int check_resolver(const snapshot *s)
{
    char err[600];
    int dane = 0;

    for (size_t i = 0; i < policy_rule_count(s->pol); i++) {
        policy_level l = policy_rule_level(policy_rule_at(s->pol, i));
        dane |= l == POLICY_LEVEL_DANE || l == POLICY_LEVEL_DANE_ONLY;
    }
    if (config_resolver_init(&s->cfg, err, sizeof err) == 0) {
        resolver_shutdown();
        return 0;
    }
    fprintf(stderr, "%s: %s: %s%s\n", s->cfg.path ? s->cfg.path : "(built-in)",
            dane ? "error" : "warning", err, dane ? "" : " (no dane rule needs it)");
    return dane ? -1 : 0;
}

/* Level fingerprint works only with an MTA that passes the fingerprint: say so for each rule,
 * since with Postfix such a rule refuses every message it applies to. */
static void warn_fingerprint(const snapshot *s)
{
    for (size_t i = 0; i < policy_rule_count(s->pol); i++) {
        const policy_rule *r = policy_rule_at(s->pol, i);

        if (policy_rule_level(r) == POLICY_LEVEL_FINGERPRINT)
            fprintf(stderr, "%s:%u: warning: level fingerprint needs the client certificate's "
                    "fingerprint from the MTA, Sendmail's {cert_fp} or {cert_md5}; Postfix passes "
                    "none, and there the rule fails every time\n",
                    s->cfg.policy_path ? s->cfg.policy_path : "(policy)", policy_rule_line(r));
    }
}

/* The group a unix socket gets when tlsguard starts as root (milter/serve.c's socket_gid()). */
static int check_socket_group(const tlsg_config *cfg)
{
    const char *name = cfg->socket_group ? cfg->socket_group : TLSG_DEFAULT_SOCKET_GROUP;

    if (getgrnam(name))
        return 0;
    if (cfg->socket_group) {
        fprintf(stderr, "%s:%u: error: socket_group %s: no such group\n", cfg->path,
                cfg->socket_group_line, name);
        return -1;
    }
    printf("# note: there is no group %s here: a unix socket gets user's primary group\n", name);
    return 0;
}

/* Pruned sessions are forgotten peers: the history a restart reloads is cut at retention. */
static void check_retention(const tlsg_config *cfg)
{
    char window[32];

    if (cfg->retention_days == 0 || cfg->retention_days * 86400L >= cfg->downgrade_window)
        return;
    downgrade_window_format(cfg->downgrade_window, window, sizeof window);
    fprintf(stderr, "%s: warning: retention_days = %ld is shorter than downgrade_window = %s: "
                    "after a restart, peers are learned from %ld days of records only\n",
            cfg->path ? cfg->path : "(built-in)", cfg->retention_days, window,
            cfg->retention_days);
}

int cli_open_database(const char *cmd, const char *config_path, tlsg_config *cfg, query_db **db)
{
    policy_diag diag = {0};
    char err[256];

    *db = NULL;
    if (config_load(config_path, cfg, &diag) != 0) {
        diag_report(&diag, stderr, NULL);
        policy_diag_free(&diag);
        return 1;
    }
    policy_diag_free(&diag);
    if (!(*db = query_open(cfg->database, err, sizeof err))) {
        fprintf(stderr, "tlsguard %s: cannot open database %s: %s\n", cmd, cfg->database, err);
        config_clear(cfg);
        return 2;
    }
    return 0;
}

int cli_check(int argc, char **argv)
{
    const char *path = NULL;
    char line[1200];
    snapshot *s;
    int opt;

    optind = 1;
    while ((opt = getopt(argc, argv, "c:")) != -1) {
        if (opt != 'c') {
            fprintf(stderr, "usage: tlsguard check [-c FILE]\n");
            return 1;
        }
        path = optarg;
    }
    if (!(s = load_or_report(path)))
        return 1;
    printf("# configuration %s\n", path ? path : "(built-in defaults)");
    config_print(&s->cfg, print_line, stdout);
    printf("# policy %s: %zu rules\n", s->cfg.policy_path ? s->cfg.policy_path : "(built-in)",
           policy_rule_count(s->pol));
    for (size_t i = 0; i < policy_rule_count(s->pol); i++) {
        policy_rule_describe(policy_rule_at(s->pol, i), line, sizeof line);
        printf("%s\n", line);
    }
    warn_fingerprint(s);
    check_retention(&s->cfg);
    if (check_socket_group(&s->cfg) != 0 || check_resolver(s) != 0) {
        snapshot_release(s);
        return 1;
    }
    printf("configuration OK\n");
    snapshot_release(s);
    return 0;
}

static void print_decision(const char *what, const policy_decision *d)
{
    printf("%s: rule=%s level=%s verdict=%s action=%s", what, d->rule_text[0] ? d->rule_text : "-",
           policy_level_name(d->level), policy_verdict_name(d->verdict),
           policy_action_name(d->action));
    if (d->reason[0])
        printf(" reason=\"%s\"", d->reason);
    if (d->dane[0])
        printf(" dane=\"%s\"", d->dane);
    if (d->code)
        printf(" reply=\"%d %s %s\"", d->code, d->xcode, d->reply);
    printf("\n");
}

/* The same DNS facts the daemon would use, from the live resolver configured in FILE
 * (flow hook, policy/flow.h). */
static void explain_dane(void *arg, const char *domain, dane_facts *out)
{
    static int tried;
    const tlsg_config *cfg = arg;
    char err[600];

    if (!tried++ && config_resolver_init(cfg, err, sizeof err) != 0)
        fprintf(stderr, "tlsguard explain: %s\n", err);
    dane_lookup_domain(domain, 25, cfg->dns_timeout * 1000, out);
}

/* The peer's history for explain: --peer NAME learned with --peer-learned VERSION, i.e.
 * downgrade_min_sessions deliveries over that version just now (flow hook). */
typedef struct explain_peer {
    const tlsg_config *cfg;
    const char *name, *learned, *tls_version;
} explain_peer;

static int explain_downgrade(void *arg, policy_downgrade mode, const policy_decision *sender,
                             policy_decision *out)
{
    const explain_peer *p = arg;
    int64_t now = time(NULL);
    downgrade_params prm = {.now = now, .min_sessions = (unsigned)p->cfg->downgrade_min_sessions,
                            .window = p->cfg->downgrade_window, .mode = mode};
    downgrade_history *h = NULL;

    if (!p->name)
        return 0;
    if (p->learned) {
        h = downgrade_history_new(prm.min_sessions);
        for (unsigned i = 0; i < prm.min_sessions; i++)
            downgrade_learn(h, now, p->learned);
    }
    downgrade_decide(h, &prm, p->name, p->tls_version, sender, out);
    downgrade_history_free(h);
    return 1;
}

static void explain_dane_hook(void *arg, const char *domain, dane_facts *out)
{
    explain_dane((void *)((const explain_peer *)arg)->cfg, domain, out);
}

enum { OPT_FROM = 256, OPT_RCPT, OPT_CLIENT, OPT_TLSV, OPT_CIPHER, OPT_BITS, OPT_SUBJ,
       OPT_ISSUER, OPT_VERIFIED, OPT_FP, OPT_NO_CERT, OPT_AUTH_TYPE, OPT_AUTH_AUTHEN,
       OPT_PEER, OPT_PEER_LEARNED };

int cli_explain(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"from", required_argument, NULL, OPT_FROM},
        {"rcpt", required_argument, NULL, OPT_RCPT},
        {"client", required_argument, NULL, OPT_CLIENT},
        {"tls-version", required_argument, NULL, OPT_TLSV},
        {"cipher", required_argument, NULL, OPT_CIPHER},
        {"cipher-bits", required_argument, NULL, OPT_BITS},
        {"cert-subject", required_argument, NULL, OPT_SUBJ},
        {"cert-issuer", required_argument, NULL, OPT_ISSUER},
        {"cert-verified", no_argument, NULL, OPT_VERIFIED},
        {"cert-fp", required_argument, NULL, OPT_FP},
        {"no-cert", no_argument, NULL, OPT_NO_CERT},
        {"auth-type", required_argument, NULL, OPT_AUTH_TYPE},
        {"auth-authen", required_argument, NULL, OPT_AUTH_AUTHEN},
        {"peer", required_argument, NULL, OPT_PEER},
        {"peer-learned", required_argument, NULL, OPT_PEER_LEARNED},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *from = NULL, *rcpts[256];
    char addr[POLICY_ADDR_MAX], what[600], value[900];
    size_t nrcpt = 0;
    policy_facts f = {.cipher_bits = -1};
    const policy_decision *sender;
    policy_decision d;
    explain_peer peer = {0};
    flow *fl;
    snapshot *s;
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case OPT_FROM: from = optarg; break;
        case OPT_RCPT:
            if (nrcpt == sizeof rcpts / sizeof rcpts[0]) {
                fprintf(stderr, "tlsguard explain: at most 256 --rcpt\n");
                return 1;
            }
            rcpts[nrcpt++] = optarg;
            break;
        case OPT_CLIENT: f.client_addr = optarg; break;
        case OPT_TLSV: f.tls_version = optarg; break;
        case OPT_CIPHER: f.cipher = optarg; break;
        case OPT_BITS:
            if ((f.cipher_bits = policy_cipher_bits_parse(optarg)) < 0) {
                fprintf(stderr, "tlsguard explain: --cipher-bits: not a number: %s\n", optarg);
                return 1;
            }
            break;
        case OPT_SUBJ: f.cert_subject = optarg; break;
        case OPT_ISSUER: f.cert_issuer = optarg; break;
        case OPT_VERIFIED: f.cert_verified = 1; break;
        case OPT_FP: f.cert_fp = optarg; break;
        case OPT_NO_CERT: f.cert_none = 1; break;
        case OPT_AUTH_TYPE: f.auth_type = optarg; break;
        case OPT_AUTH_AUTHEN: f.auth_authen = optarg; break;
        case OPT_PEER: peer.name = optarg; break;
        case OPT_PEER_LEARNED: peer.learned = optarg; break;
        default: goto usage;
        }
    }
    if (!from || !nrcpt || optind != argc)
        goto usage;
    if (!(s = load_or_report(path)))
        return 1;

    /* The daemon's transaction flow, with the flags as the MTA's facts. */
    fl = xmalloc(sizeof *fl);
    peer.cfg = &s->cfg;
    peer.tls_version = f.tls_version;
    flow_start(fl, s->pol, &s->opts, s->cfg.plaintext_auth,
               &(flow_hooks){explain_dane_hook, explain_downgrade, NULL, &peer});
    sender = flow_mail(fl, &f, from, NULL);
    if (!fl->from_env.readable)
        fprintf(stderr, "tlsguard explain: --from: no usable domain in '%s': %s\n", from,
                fl->from_env.why);
    print_decision("sender", sender);
    if (flow_refuses(sender)) {
        printf("result: MAIL FROM refused; no recipient is evaluated\n");
        goto done;
    }
    for (size_t i = 0; i < nrcpt; i++) {
        if (policy_addr_normalize(rcpts[i], addr, sizeof addr) != 0)
            policy_sanitize(rcpts[i], addr, sizeof addr);
        flow_rcpt(fl, &f, rcpts[i], NULL, &d);
        snprintf(what, sizeof what, "rcpt <%s>", addr);
        print_decision(what, &d);
    }
    if (!fl->accepted) {
        printf("result: every recipient refused; no message\n");
    } else {
        int add = flow_end(fl, &f, s->cfg.header, value, sizeof value);

        printf("result: message accepted for %u of %zu recipients\n", fl->accepted, nrcpt);
        if (add)
            printf("header: X-TLS-Policy: %s\n", value);
    }
done:
    free(fl);
    snapshot_release(s);
    resolver_shutdown();
    return 0;
usage:
    fprintf(stderr, "usage: tlsguard explain [-c FILE] --from ADDR --rcpt ADDR [--rcpt ADDR...]\n"
                    "         [--client IP] [--tls-version V --cipher NAME --cipher-bits N]\n"
                    "         [--cert-subject CN --cert-issuer CN --cert-verified]\n"
                    "         [--cert-fp FINGERPRINT | --no-cert]\n"
                    "         [--auth-type MECHANISM [--auth-authen LOGIN]]\n"
                    "         [--peer NAME [--peer-learned VERSION]]\n");
    return 1;
}

int cli_version(int argc, char **argv)
{
    unsigned major = 0, minor = 0, patch = 0;

    smfi_version(&major, &minor, &patch);
    printf("tlsguard %s\n", TLSGUARD_VERSION);
    printf("libmilter %u.%u.%u, %s, SQLite %s\n", major, minor, patch,
           OpenSSL_version(OPENSSL_VERSION), query_sqlite_version());
    return 0;
}
