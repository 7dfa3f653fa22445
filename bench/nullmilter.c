/* SPDX-License-Identifier: MIT */
/*
 * nullmilter - the do-nothing libmilter milter of the benchmark (configuration B).
 *
 * It registers connect, helo, envfrom, envrcpt and eom, each returning SMFIS_CONTINUE, and
 * nothing else: no negotiate callback, no private data, no macros asked for. It is the floor
 * a milter pays for being a libmilter milter at all: one thread and one connection per SMTP
 * session, and one round trip per registered step.
 *
 *   nullmilter inet:PORT@127.0.0.1
 *
 * Stops on SIGTERM/SIGINT (libmilter's own signal handling).
 */
#include <stdio.h>
#include <stdlib.h>

#include <libmilter/mfapi.h>

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    return SMFIS_CONTINUE;
}

static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
    return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
    return SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
    return SMFIS_CONTINUE;
}

static sfsistat on_eom(SMFICTX *ctx)
{
    return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
    .xxfi_name = "nullmilter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = 0,
    .xxfi_connect = on_connect,
    .xxfi_helo = on_helo,
    .xxfi_envfrom = on_envfrom,
    .xxfi_envrcpt = on_envrcpt,
    .xxfi_eom = on_eom,
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: nullmilter inet:PORT@127.0.0.1\n");
        return 2;
    }
    if (smfi_register(desc) != MI_SUCCESS || smfi_setconn(argv[1]) != MI_SUCCESS ||
        smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "nullmilter: cannot listen on %s\n", argv[1]);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
