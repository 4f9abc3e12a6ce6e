/* SPDX-License-Identifier: Apache-2.0 */
/* The `audit` layer: the audit trail, a record an auditor can trust.
 *
 * One JSON line per transaction (apply, revert, take-back, repair) and per refusal (a
 * patch file with a bad or untrusted signature), appended when it ends, so a suture that
 * is killed later loses none of what it finished. Each line says when, what, to which
 * process (pid and command name) with which patch and how it ended, and who: the uid, the
 * login uid of the session (/proc/self/loginuid: it survives su and sudo) and sudo's
 * SUDO_UID, so "root" is never the whole answer.
 *
 * The lines form a hash chain: each carries in "prev" the SHA-256 (hex) of the bytes of
 * the line before it (without its newline); the first line of a file carries 64 zeros,
 * its anchor. Changing, inserting or removing a line breaks the chain at the next line,
 * which sut_audit_verify() finds. Appends take an exclusive flock on the file, so lines of
 * concurrent suture runs are whole and chained in the order written. The format is
 * described in docs/audit.md.
 *
 * Everything here returns errors; nothing prints. */
#ifndef SUTURE_AUDIT_AUDIT_H
#define SUTURE_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

#define SUT_AUDIT_DEFAULT "/var/log/suture/audit.jsonl"
#define SUT_AUDIT_HASH_HEX 64

/* One line's content. Strings may be NULL (left out); they may come from a process and
 * are stored escaped (bytes that are not valid UTF-8 become \xNN). */
struct sut_audit_record {
	const char *action;   /* "apply", "revert", "takeback", "repair", "refuse" */
	pid_t pid;            /* 0: no process (a refused patch file) */
	const char *patch;    /* patch id */
	const char *file;     /* patch file (refusals) */
	const char *signer;   /* key id of the signature that was accepted */
	bool ok;
	const char *error;    /* why it failed or was refused */
	const char *repaired; /* what a repair of an interrupted transaction did */
	const char *repair_from_process; /* patch id the interrupted journal claimed: text that
	                                  * came from the (untrusted) process, kept apart */
	size_t functions;
	int attempts;
	uint64_t freeze_us;   /* the committing all-thread freeze */
	uint64_t held_us;     /* longest time one thread was held, staging included */
	/* rollout actions ("rollout-wave", "rollout-health", "rollout-abort", "rollout-done",
	 * docs/rollout.md): the rollout's id, the 1-based wave (0: none) and a summary */
	const char *rollout;
	int wave;
	const char *detail;
};

struct sut_audit;

/* Opens (creating it, and its directory one level up, if missing) the trail at path for
 * appending. Refuses a symlink or anything but a regular file. */
int sut_audit_open(struct sut_audit **out, const char *path, struct sut_err *err);
/* Appends one line (time, who and the chain link filled in here). Thread-safe. */
int sut_audit_append(struct sut_audit *a, const struct sut_audit_record *r, struct sut_err *err);
void sut_audit_close(struct sut_audit *a);
const char *sut_audit_path(const struct sut_audit *a);

/* What sut_audit_verify found. */
struct sut_audit_check {
	size_t lines;       /* complete lines read */
	size_t broken_line; /* 1-based number of the first line that breaks the chain, 0 if none */
	char reason[256];   /* why that line breaks it */
	char last_hash[SUT_AUDIT_HASH_HEX + 1]; /* hash of the last line (the next "prev") */
};

/* Checks the chain of the trail at path: 0 intact, 1 broken (c says where), -1 when the
 * file cannot be read. */
int sut_audit_verify(const char *path, struct sut_audit_check *c, struct sut_err *err);

#endif
