/* SPDX-License-Identifier: MIT */
#include "diag.h"

#include "log.h"

void diag_report(const policy_diag *diag, FILE *out, const char *log_prefix)
{
    for (size_t i = 0; diag && i < diag->n; i++) {
        if (out)
            fprintf(out, "%s\n", diag->msgs[i]);
        else
            log_msg(LOG_ERR, "%s%s", log_prefix ? log_prefix : "", diag->msgs[i]);
    }
}
