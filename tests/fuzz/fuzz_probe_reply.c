/* SPDX-License-Identifier: MIT */
/*
 * fuzz_probe_reply - the SMTP reply parser of `tlsguard probe` (untrusted bytes from the
 * network): probe_reply_parse() on the input as the bytes received so far.
 *
 * Checks (cli/probe_reply.h): *used is 0 unless COMPLETE, and then within the input; a complete
 * reply has a code of 200..599, 1..PROBE_LINES_MAX lines and printable text; MALFORMED
 * says why. The reader in cli/probe.c calls the parser again as bytes arrive, so it must not
 * matter how they were split: every prefix of a complete reply is INCOMPLETE, and the
 * reply alone (without what followed it) parses to the same result.
 */
#include "fuzz.h"

/* Daemon. */
#include "cli/probe_reply.h"

static void parse(const uint8_t *data, size_t len, probe_reply *r, size_t *used, probe_parse *p)
{
    /* An exact-size copy, so a read past len is caught even inside a longer input. */
    char *buf = fuzz_copy(data, len);

    *p = probe_reply_parse(buf, len, r, used);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    probe_reply r, again;
    size_t used, used2;
    probe_parse p, p2;

    parse(data, size, &r, &used, &p);
    FUZZ_CHECK(r.why != NULL && fuzz_terminated(r.text, sizeof r.text) && fuzz_printable(r.text));
    switch (p) {
    case PROBE_REPLY_MALFORMED:
        FUZZ_CHECK(used == 0 && r.why[0] != '\0');
        break;
    case PROBE_REPLY_INCOMPLETE:
        FUZZ_CHECK(used == 0 && r.why[0] == '\0');
        break;
    case PROBE_REPLY_COMPLETE:
        FUZZ_CHECK(used > 0 && used <= size && data[used - 1] == '\n' && r.why[0] == '\0');
        FUZZ_CHECK(r.code >= 200 && r.code <= 599);
        FUZZ_CHECK(r.nlines >= 1 && r.nlines <= PROBE_LINES_MAX);
        parse(data, used, &again, &used2, &p2);
        FUZZ_CHECK(p2 == PROBE_REPLY_COMPLETE && used2 == used && again.code == r.code &&
                   again.nlines == r.nlines && again.starttls == r.starttls &&
                   strcmp(again.text, r.text) == 0);
        parse(data, used - 1, &again, &used2, &p2);
        FUZZ_CHECK(p2 == PROBE_REPLY_INCOMPLETE && used2 == 0);
        /* Cut in the middle, and where the input's last byte says. */
        parse(data, used / 2, &again, &used2, &p2);
        FUZZ_CHECK(p2 == PROBE_REPLY_INCOMPLETE);
        parse(data, (size_t)data[size - 1] * 251 % used, &again, &used2, &p2);
        FUZZ_CHECK(p2 == PROBE_REPLY_INCOMPLETE);
        break;
    default:
        FUZZ_CHECK(!"a result outside probe_parse");
    }
    return 0;
}
