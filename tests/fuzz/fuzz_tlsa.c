/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tlsa - the TLSA rdata parser (untrusted bytes from DNS answers): dane_parse_tlsa() on
 * the input as one rdata; then the record is graded (dane_tlsa_usable) and decided on as
 * the only record of a recipient domain's only MX host, for levels dane and dane-only.
 *
 * Checks (dane.h): malformed only below 3 bytes; the fields are the first three bytes, the
 * data kept is a prefix of at most DANE_TLSA_DATA_MAX bytes and assoc_len the published
 * length; usable exactly as RFC 7672 says; a secure DNSSEC answer with a usable record
 * gives DANE (pass), one without gives a pass at level dane and a tempfail at dane-only;
 * the decision's texts are printable.
 */
#include "fuzz.h"

/* Core. */
#include "policy/dane.h"

static int usable(const dane_tlsa *rr, size_t datalen)
{
    if ((rr->usage != 2 && rr->usage != 3) || rr->selector > 1)
        return 0;
    return (rr->mtype == 0 && datalen > 0) || (rr->mtype == 1 && datalen == 32) ||
           (rr->mtype == 2 && datalen == 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const dane_lookup secure = {DANE_LOOKUP_DATA, 1, ""};
    static dane_facts facts; /* 40 KiB: not on the stack */
    dane_tlsa rr;
    dane_decision d;
    int ok;

    if (dane_parse_tlsa(data, size, &rr) != 0) {
        FUZZ_CHECK(size < 3 || size - 3 > 0xffff);
        return 0;
    }
    FUZZ_CHECK(size >= 3 && rr.usage == data[0] && rr.selector == data[1] && rr.mtype == data[2]);
    FUZZ_CHECK(rr.assoc_len == size - 3);
    FUZZ_CHECK(rr.len == (size - 3 < DANE_TLSA_DATA_MAX ? size - 3 : DANE_TLSA_DATA_MAX));
    FUZZ_CHECK(memcmp(rr.data, data + 3, rr.len) == 0);
    ok = dane_tlsa_usable(&rr);
    FUZZ_CHECK(ok == usable(&rr, size - 3));

    memset(&facts, 0, sizeof facts);
    snprintf(facts.domain, sizeof facts.domain, "x.example");
    facts.mx = secure;
    facts.nhosts = 1;
    snprintf(facts.hosts[0].name, sizeof facts.hosts[0].name, "mx.x.example");
    snprintf(facts.hosts[0].tlsa_base, sizeof facts.hosts[0].tlsa_base, "mx.x.example");
    facts.hosts[0].preference = 10;
    facts.hosts[0].addr = secure;
    facts.hosts[0].tlsa = secure;
    facts.hosts[0].ntlsa = 1;
    facts.hosts[0].tlsa_rr[0] = rr;
    for (int mandatory = 0; mandatory <= 1; mandatory++) {
        dane_decide(&facts, mandatory, &d);
        FUZZ_CHECK(fuzz_printable(d.reason) && fuzz_printable(d.summary));
        if (ok)
            FUZZ_CHECK(d.result == DANE_RESULT_DANE && d.pass);
        else if (!mandatory)
            FUZZ_CHECK(d.result == DANE_RESULT_NONE && d.pass);
        else
            FUZZ_CHECK(d.result == DANE_RESULT_TEMPFAIL && !d.pass);
    }
    return 0;
}
