/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/audit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/env.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const char *option_path;
static struct sut_audit *trail;
static bool opened, warned;

void cli_audit_set_path(const char *path)
{
	option_path = path;
}

const char *cli_audit_path(void)
{
	const char *p = option_path ? option_path : sut_env("SUTURE_AUDIT_LOG");
	if (p && !strcmp(p, "off"))
		return NULL;
	return p ? p : SUT_AUDIT_DEFAULT;
}

static void warn_once(const char *msg)
{
	if (!warned)
		cli_error("warning: audit trail not written: %s", msg);
	warned = true;
}

static void append(const struct sut_audit_record *rec)
{
	pthread_mutex_lock(&mu);
	if (!opened) {
		opened = true;
		const char *path = cli_audit_path();
		struct sut_err err;
		if (path && sut_audit_open(&trail, path, &err) < 0)
			warn_once(err.msg);
	}
	struct sut_audit *a = trail;
	pthread_mutex_unlock(&mu);
	if (!a)
		return;
	struct sut_err err;
	if (sut_audit_append(a, rec, &err) < 0) {
		pthread_mutex_lock(&mu);
		warn_once(err.msg);
		pthread_mutex_unlock(&mu);
	}
}

void cli_audit_txn(const char *action, const struct sut_txn_result *r, const char *patch_id,
		   const char *signer, const char *error)
{
	struct sut_audit_record rec = {
		.action = action, .pid = r->pid, .patch = patch_id, .signer = signer,
		.ok = error == NULL, .error = error, .repaired = r->repaired ? r->repair_note : NULL,
		.repair_from_process = r->repaired && r->repair_claimed_id[0] ? r->repair_claimed_id : NULL,
		.functions = r->nfuncs, .attempts = r->attempts, .freeze_us = r->freeze_ns / 1000,
		.held_us = r->held_ns / 1000};
	append(&rec);
}

void cli_audit(const char *action, const struct sut_txn_result *r, const char *patch_id,
	       const char *error)
{
	cli_audit_txn(action, r, patch_id, NULL, error);
}

void cli_audit_refusal(const char *file, const char *patch_id, const char *error)
{
	struct sut_audit_record rec = {
		.action = "refuse", .file = file, .patch = patch_id, .ok = false, .error = error};
	append(&rec);
}

void cli_audit_rollout(const char *action, const char *rollout, int wave, const char *patches,
		       bool ok, const char *error, const char *detail)
{
	struct sut_audit_record rec = {.action = action, .rollout = rollout, .wave = wave,
				       .patch = patches, .ok = ok, .error = error,
				       .detail = detail};
	append(&rec);
}
