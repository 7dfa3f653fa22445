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

/* Connections currently open (for draining at SIGTERM). */
int milter_active_sessions(void);

#endif
