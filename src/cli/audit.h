/* SPDX-License-Identifier: Apache-2.0 */
/* The audit trail: one JSON line per transaction outcome (apply, revert, and repairs of
 * interrupted ones), appended to /var/log/suture/audit.jsonl, or to the file named by
 * SUTURE_AUDIT_LOG ("off" disables it). It records who (uid, suture pid) did what to which
 * process (pid, command name) with which patch, when, and how it ended (ok or the error,
 * freeze time, attempts), so an operator can answer "what was changed where, and when"
 * after the fact. The record inside each process (status) says what is live now; the trail
 * says how it got there. A trail that cannot be written is reported once and does not stop
 * the transaction. */
#ifndef SUTURE_CLI_AUDIT_H
#define SUTURE_CLI_AUDIT_H

#include "apply/apply.h"

#define SUT_AUDIT_DEFAULT "/var/log/suture/audit.jsonl"

void cli_audit(const char *action, const struct sut_txn_result *r, const char *patch_id,
	       const char *error);

#endif
