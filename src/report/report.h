/* SPDX-License-Identifier: Apache-2.0 */
/* The `report` layer: what an auditor's document is made of.
 *
 * sut_report_load reads the audit trail (after checking its hash chain with the audit
 * layer: a broken chain is part of the result, never hidden), keeps the events at or after
 * a time, and works out from the whole trail which patches should be live in which
 * process. It then takes the inventory of every running process (assess layer), verified
 * against the trusted patches the caller gives: a patch a process's registry records that
 * the trail does not know (applied with the trail off or elsewhere) is added, and each
 * (process, patch) is confirmed live in the process's registry and proved by verify, so
 * what is patched now, what is still exposed and the rollback plan all say what is really
 * in each process, not what the trail or a feed says should be. The
 * strings come from the trail, and through it from processes: they are untrusted, and the
 * renderer (cli) escapes them. Nothing here prints. */
#ifndef SUTURE_REPORT_REPORT_H
#define SUTURE_REPORT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "assess/assess.h"
#include "audit/audit.h"
#include "util/err.h"

/* One line of the trail. Strings may be NULL (absent in the line). */
struct sut_report_event {
	size_t line;              /* 1-based line number in the trail */
	char *time, *action, *patch, *comm, *signer, *error, *file, *repaired;
	char *rollout, *detail;   /* rollout lines: the rollout's id and summary */
	int wave;                 /* rollout lines: 1-based wave, 0 none */
	pid_t pid;
	bool ok;
	uint64_t freeze_us;
	uint64_t functions;
	uint64_t uid, loginuid;
	bool has_loginuid;
};

/* A patch the trail or a process's registry says is in a process, with what the process
 * says now. */
struct sut_report_live {
	pid_t pid;
	char *patch, *comm, *signer;
	bool in_trail;            /* the trail has its apply (else only the registry has it) */
	bool confirmed;           /* the process's registry has it live */
	bool proved;              /* and verify proved it against a trusted patch file */
	char why[256];            /* !confirmed: why not (gone, reverted elsewhere...);
				     confirmed && !proved: what verify found */
};

struct sut_report {
	char *audit_path;
	int chain;                /* 0 intact, 1 broken (check says where) */
	struct sut_audit_check check;
	size_t skipped;           /* lines that are not JSON objects */
	struct sut_report_event *events; /* lines at or after since, in order */
	size_t nevents;
	struct sut_report_live *live;
	size_t nlive;
	bool has_inv;             /* inv holds the running processes, verified */
	struct sut_inventory inv;
	char inv_error[256];      /* when !has_inv: why not */
};

/* since: NULL for all, else an ISO-8601 UTC time or prefix of one ("2026-12-01",
 * "2026-12-01T22:00"); events whose time sorts before it are left out of events (but
 * still count for what is live). known: the trusted patches verify compares with. -1 when
 * the trail cannot be read; an inventory that cannot be taken is has_inv false. */
int sut_report_load(const char *audit_path, const char *since, const struct sut_patch_set *known,
		    struct sut_report *r, struct sut_err *err);
void sut_report_free(struct sut_report *r);

#endif
