/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_GATE_H
#define TLSGUARD_GATE_H

/*
 * gate - keeps libmilter's callbacks away from what the daemon tears down at shutdown.
 *
 * smfi_stop() makes smfi_main() return but does not end the sessions still open: libmilter's
 * threads go on reading their commands and calling the filter, also after serve() has
 * stopped the recorder, shut the resolver down and freed the policy snapshot. gate_wrap()
 * returns a copy of a filter description whose callbacks pass through a gate. gate_close()
 * shuts the gate and returns once no callback is running any more. From then on a callback
 * does not reach the filter: each SMTP step is answered 421 4.3.2 (the MTA defers it and ends
 * the session) and xxfi_close only frees the connection's state (milter_close_quiet()).
 * xxfi_negotiate is not gated: it touches nothing that is torn down.
 */

#include <libmilter/mfapi.h>

/* The description to hand smfi_register(): `inner`'s, with every callback gated. */
struct smfiDesc gate_wrap(const struct smfiDesc *inner);
/* Shuts the gate, then waits for the callbacks in flight to return. Idempotent. */
void gate_close(void);

#endif
