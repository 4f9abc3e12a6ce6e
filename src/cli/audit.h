/* SPDX-License-Identifier: Apache-2.0 */
/* The command line's use of the audit trail (src/audit/audit.h): which file, and one call
 * per transaction or refusal, made as soon as it ends (from whichever worker thread ran
 * it). The trail is /var/log/suture/audit.jsonl, or --audit-log FILE, or SUTURE_AUDIT_LOG
 * when the environment is believed (util/env.h); "off" disables it. A trail that cannot
 * be written is reported once and does not stop the transaction. */
#ifndef SUTURE_CLI_AUDIT_H
#define SUTURE_CLI_AUDIT_H

#include "apply/apply.h"
#include "audit/audit.h"

/* --audit-log FILE (before the first record). */
void cli_audit_set_path(const char *path);
/* The file in use, or NULL when the trail is off. */
const char *cli_audit_path(void);

/* One transaction's line: action "apply", "revert", "takeback", "repair". */
void cli_audit_txn(const char *action, const struct sut_txn_result *r, const char *patch_id,
		   const char *signer, const char *error);
/* The same, without a signer. */
void cli_audit(const char *action, const struct sut_txn_result *r, const char *patch_id,
	       const char *error);
/* A patch file refused before any process was touched (signature, key). */
void cli_audit_refusal(const char *file, const char *patch_id, const char *error);
/* A rollout's own step (docs/rollout.md): "rollout-wave", "rollout-health",
 * "rollout-abort", "rollout-done". */
void cli_audit_rollout(const char *action, const char *rollout, int wave, const char *patches,
		       bool ok, const char *error, const char *detail);

#endif
