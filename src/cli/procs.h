/* SPDX-License-Identifier: Apache-2.0 */
/* The processes the read-only commands (scan, verify, status) work on when no -p PID is
 * given (the list itself: cli.h's pidlist and cli_pid_arg), and the lines they print per
 * process and per verify finding. Text a process controls (its name, paths in messages) is escaped here. */
#ifndef SUTURE_CLI_PROCS_H
#define SUTURE_CLI_PROCS_H

#include <stddef.h>
#include <sys/types.h>

#include "apply/apply.h"
#include "assess/assess.h"
#include "cli/cli.h"
#include "cli/escape.h"
#include "cli/json.h"

/* Without -p: adds every process `what` finds (apply.h's discovery, never this process) to
 * l; -1 with the error printed. */
int cli_pids_discover(struct pidlist *l, enum sut_discover what);

/* "pid N (COMM)", COMM escaped for the terminal. */
#define CLI_PROC_LABEL_SIZE (32 + CLI_ESC_SIZE(64))
const char *cli_proc_label(pid_t pid, const char *comm, char *buf, size_t cap);

/* A verify finding as "PATCH: FUNCTION: MESSAGE" (the parts it has), not escaped (cli_error
 * and cli_esc do that). */
const char *cli_vfy_issue_text(const struct sut_vfy_issue *i, char *buf, size_t cap);
/* The findings of r as JSON array `key` of {kind, patch, function, message}. */
void cli_json_vfy_issues(struct json *j, const char *key, const struct sut_vfy_result *r);

#endif
