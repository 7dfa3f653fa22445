/* SPDX-License-Identifier: MIT */
/*
 * auth - SMTP AUTH in a session without TLS (verdict auth-plaintext).
 *
 * A client that authenticated before STARTTLS, or in a session that never used TLS, has
 * shown its credentials to everyone on the path: with PLAIN or LOGIN the password itself.
 * The postmaster must learn whose, so the reason names the login; the SMTP reply does not,
 * because a relaying client may copy the reply into a bounce to a third party.
 */
#include "policy.h"

/* libc */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define AUTH_LOGIN_MAX 256 /* shown in reasons; longer logins are cut */
#define AUTH_MECH_MAX 32   /* SASL names are at most 20 characters (RFC 4422 3.1) */

/* A value for the reason and the reply: printable ASCII, and no character that would end a
 * quoted reason="..." field in a log line or split a mechanism name. */
static void auth_token(const char *in, char *out, size_t size, int keep_spaces)
{
    policy_sanitize(in, out, size);
    for (char *s = out; *s; s++)
        if (*s == '"' || *s == '\\' || (*s == ' ' && !keep_spaces))
            *s = '?';
}

/* Mechanisms that send the password itself: PLAIN (RFC 4616) and LOGIN. The others send a
 * proof or a token, which an eavesdropper still sees. */
static int sends_password(const char *mech)
{
    return strcasecmp(mech, "PLAIN") == 0 || strcasecmp(mech, "LOGIN") == 0;
}

void policy_eval_auth(const policy_opts *opts, const policy_facts *facts, policy_action action,
                      policy_decision *out)
{
    char login[AUTH_LOGIN_MAX], mech[AUTH_MECH_MAX];
    const char *what;

    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    out->level = POLICY_LEVEL_NONE;
    out->verdict = POLICY_VERDICT_NONE;
    out->action = POLICY_ACTION_ACCEPT;
    if (!facts || action == POLICY_ACTION_ACCEPT || action == POLICY_ACTION_DEFAULT)
        return;
    if (facts->tls_version && *facts->tls_version)
        return;
    auth_token(facts->auth_type, mech, sizeof(mech), 0);
    auth_token(facts->auth_authen, login, sizeof(login), 1);
    if (!mech[0] && !login[0])
        return;

    out->verdict = POLICY_VERDICT_AUTH_PLAINTEXT;
    out->action = opts && opts->monitor ? POLICY_ACTION_MONITOR : action;
    what = sends_password(mech) ? "the password" : "the credentials";
    snprintf(out->reason, sizeof(out->reason),
             "client authenticated%s%s%s%s%s without TLS; %s crossed the network in clear",
             login[0] ? " as " : "", login, mech[0] ? " (" : "", mech, mech[0] ? ")" : "", what);
    if (out->action != POLICY_ACTION_REJECT && out->action != POLICY_ACTION_DEFER)
        return;
    /* RFC 4954: 5.7.11 "Encryption required for requested authentication mechanism". The
     * basic code is RFC 3207's for "use STARTTLS first"; 538 answers AUTH, not MAIL. */
    if (out->action == POLICY_ACTION_REJECT) {
        out->code = 530;
        snprintf(out->xcode, sizeof(out->xcode), "5.7.11");
    } else {
        out->code = 451;
        snprintf(out->xcode, sizeof(out->xcode), "4.7.11");
    }
    snprintf(out->reply, sizeof(out->reply),
             "Encryption required for requested authentication mechanism: AUTH%s%s was used "
             "without TLS, so %s crossed the network in clear; use STARTTLS before AUTH",
             mech[0] ? " " : "", mech, what);
}
