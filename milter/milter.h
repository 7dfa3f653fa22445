/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_MILTER_H
#define TLSGUARD_MILTER_H

/*
 * milter - the libmilter adapter: thin callbacks that gather facts from the MTA's macros
 * and arguments, ask the policy core for a verdict, apply it (reply, header, quarantine)
 * and hand records to the recorder. Per-connection state lives in one struct owned by
 * the connection and freed in xxfi_close.
 */

#include <libmilter/mfapi.h>

extern struct smfiDesc milter_desc;

/* Sessions served (connected before milter_drain(), within max_sessions): for draining at
 * SIGTERM. */
int milter_active_sessions(void);
/* From now on, sessions that connect are refused at MAIL with 421 4.3.2; those already
 * connected go on as usual. */
void milter_drain(void);
/* xxfi_close once the callbacks are shut (gate.h): frees the connection's state without
 * recording anything, for the recorder may be gone. */
void milter_close_quiet(SMFICTX *ctx);

#endif
