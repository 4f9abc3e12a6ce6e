/* SPDX-License-Identifier: Apache-2.0 */
/* suture apply / suture revert. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/apply.h"
#include "cli/cli.h"
#include "cli/audit.h"
#include "cli/json.h"
#include "cli/pool.h"
#include "cli/trust.h"
#include "proc/proc.h"
#include "util/buf.h"

static const char apply_usage[] =
	"usage: suture apply [-p PID]... [--all] [--timeout MS] [--dry-run] [--json] PATCH...\n"
	"\n"
	"Redirects the functions each PATCH replaces to its new code, in every named process,\n"
	"while the process keeps running. For each process the patches are applied in the\n"
	"order given, all or nothing: if one fails, those applied before it in this run are\n"
	"reverted, and the process is left as it was.\n"
	"\n"
	"Before writing, suture checks the patch's signature against the trusted keys, that\n"
	"the process maps the exact build the patch is for\n"
	"(by GNU build-id), that each function's bytes are the ones the patch expects, and that\n"
	"no thread is executing, or will return into, a function being replaced (unless the\n"
	"patch declares the per-call rule). When a thread is in the way suture resumes the\n"
	"process, waits and retries until the timeout, then gives up having changed nothing.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID     a process to patch (repeatable)\n"
	"  -a, --all         every process that maps each patch's target build-id (those\n"
	"                    that already have the patch are left as they are)\n"
	"  -t, --timeout MS  how long to retry the consistency check (default 5000)\n"
	"  -n, --dry-run     plan and check everything, write nothing\n"
	"  -k, --trusted-key PEM  also trust this public key (repeatable); keys are otherwise\n"
	"                    read from $SUTURE_TRUSTED_KEYS (colon-separated) and\n"
	"                    " SUT_TRUST_DIR "/*.pem\n"
	"  -U, --allow-unsigned  accept a patch with no signature (never one with a bad or\n"
	"                    untrusted signature)\n"
	"  -j, --json        one JSON document on standard output\n"
	"  -h, --help        this text\n"
	"\n"
	"Exit status: 0 when every process ended with every patch applied, 1 otherwise.\n";

static const char revert_usage[] =
	"usage: suture revert [-p PID]... [--all] [--timeout MS] [--json] PATCH-ID...\n"
	"\n"
	"Takes applied patches (by id, see `suture status`) out of the named processes: the\n"
	"original bytes of each function come back and the patch memory is released. Patches\n"
	"of one object may be reverted in any order: a function that a newer patch also\n"
	"replaces keeps the newer patch's code.\n"
	"\n"
	"No thread may be executing in, or return into, the patch's code at the switch; suture\n"
	"retries until the timeout and otherwise gives up having changed nothing.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID     a process (repeatable)\n"
	"  -a, --all         every process where the patch is applied\n"
	"  -t, --timeout MS  how long to retry the consistency check (default 5000)\n"
	"  -j, --json        one JSON document on standard output\n"
	"  -h, --help        this text\n";

struct txn_args {
	struct pidlist pids;
	bool all, json, dry_run, allow_unsigned;
	const char **keys;
	size_t nkeys;
	int timeout_ms;
	char **rest;
	int nrest;
};

static int parse(int argc, char **argv, struct txn_args *a, const char *usage, bool apply)
{
	static const struct option lo[] = {
		{"pid", required_argument, 0, 'p'}, {"all", no_argument, 0, 'a'},
		{"timeout", required_argument, 0, 't'}, {"dry-run", no_argument, 0, 'n'},
		{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'},
		{"trusted-key", required_argument, 0, 'k'}, {"allow-unsigned", no_argument, 0, 'U'},
		{0, 0, 0, 0}};
	memset(a, 0, sizeof *a);
	a->timeout_ms = 5000;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, apply ? "p:at:njhk:U" : "p:at:jh", lo, NULL)) != -1) {
		switch (c) {
		case 'p': {
			pid_t p = cli_parse_pid(optarg);
			if (p < 0)
				return -1;
			pidlist_add(&a->pids, p);
			break;
		}
		case 'a': a->all = true; break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v <= 0 || v > 3600000) {
				cli_error("--timeout wants milliseconds, got '%s'", optarg);
				return -1;
			}
			a->timeout_ms = (int)v;
			break;
		}
		case 'n':
			if (!apply)
				return -1;
			a->dry_run = true;
			break;
		case 'j': a->json = true; break;
		case 'k':
			a->keys = sut_xrealloc(a->keys, (a->nkeys + 1) * sizeof *a->keys);
			a->keys[a->nkeys++] = optarg;
			break;
		case 'U': a->allow_unsigned = true; break;
		case 'h': fputs(usage, stdout); exit(0);
		default: fputs(usage, stderr); return -1;
		}
	}
	a->rest = argv + optind;
	a->nrest = argc - optind;
	if (a->nrest == 0) {
		cli_error("%s", apply ? "no patch file given" : "no patch id given");
		fputs(usage, stderr);
		return -1;
	}
	if (!a->all && a->pids.n == 0) {
		cli_error("name processes with -p PID or choose --all");
		return -1;
	}
	return 0;
}

/* Every process on the system but ourselves: the candidates of --all, each checked by
 * its worker (reading maps and build-ids in parallel is most of the work of --all). */
static void add_all_pids(struct pidlist *out)
{
	pid_t *all = NULL;
	size_t n = 0;
	struct sut_err err;
	if (sut_proc_list(&all, &n, &err) < 0) {
		cli_error("%s", err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (all[i] != getpid())
			pidlist_add(out, all[i]);
	free(all);
}

struct apply_run {
	struct txn_args *a;
	struct sut_patch **patches;
	size_t np;
	struct sut_multi_result *jobs; /* one per process, printed in pid order at the end */
	struct sut_multi_opts o;
};

/* One process: the patches in order, all or nothing (apply/txn_multi.c). */
static void apply_job(size_t k, void *ctx)
{
	struct apply_run *run = ctx;
	sut_apply_patches(run->a->pids.v[k], run->patches, run->np, &run->o, &run->jobs[k]);
}

static void json_result(struct json *j, const struct sut_txn_result *r, const char *id, bool ok,
			const char *error)
{
	json_obj_begin(j, NULL);
	json_int(j, "pid", r->pid);
	json_str(j, "patch", id);
	json_bool(j, "ok", ok);
	if (!ok)
		json_str(j, "error", error);
	json_int(j, "attempts", r->attempts);
	json_uint(j, "functions", r->nfuncs);
	json_uint(j, "threads", r->nthreads);
	json_uint(j, "freeze_us", r->freeze_ns / 1000);
	json_uint(j, "total_us", r->total_ns / 1000);
	if (r->region)
		json_hex(j, "region", r->region);
	json_obj_end(j);
}

/* Prints the jobs in pid order; returns the exit status. */
static int report(struct txn_args *a, struct sut_multi_result *jobs, size_t skipped_by_stop,
		  bool apply, bool dry_run)
{
	struct json j;
	json_init(&j, stdout);
	if (a->json) {
		json_obj_begin(&j, NULL);
		json_arr_begin(&j, "results");
	}
	int rc = 0;
	size_t touched = 0, already = 0;
	for (size_t k = 0; k < a->pids.n; k++) {
		struct sut_multi_result *jb = &jobs[k];
		already += jb->already;
		if (!jb->touched)
			continue;
		touched++;
		for (size_t i = 0; i < jb->ntxns; i++) {
			const struct sut_txn_result *r = &jb->txns[i].res;
			const char *id = jb->txns[i].id, *error = jb->txns[i].error;
			if (r->repaired)
				cli_info("pid %d: %s", (int)r->pid, r->repair_note);
			if (!dry_run)
				cli_audit(apply ? "apply" : "revert", r, id, error);
			if (a->json)
				json_result(&j, r, id, error == NULL, error);
			if (error) {
				cli_error("%s", error);
				continue;
			}
			if (a->json)
				continue;
			if (apply)
				cli_info("pid %d: %s %s (%zu function%s, %zu thread%s, freeze %.3f ms, "
					 "%d attempt%s)",
					 (int)r->pid, dry_run ? "would apply" : "applied", id,
					 r->nfuncs, r->nfuncs == 1 ? "" : "s", r->nthreads,
					 r->nthreads == 1 ? "" : "s", r->freeze_ns / 1e6, r->attempts,
					 r->attempts == 1 ? "" : "s");
			else
				cli_info("pid %d: reverted %s (%zu function%s, %zu thread%s, freeze "
					 "%.3f ms)",
					 (int)r->pid, id, r->nfuncs, r->nfuncs == 1 ? "" : "s",
					 r->nthreads, r->nthreads == 1 ? "" : "s", r->freeze_ns / 1e6);
		}
		for (size_t i = 0; i < jb->nnotes; i++)
			cli_info("%s", jb->notes[i]);
		if (jb->failed)
			rc = 1;
	}
	if (a->json) {
		json_arr_end(&j);
		json_obj_end(&j);
		json_end(&j);
	}
	if (skipped_by_stop) {
		cli_error("interrupted: %zu process%s not handled (the others completed)",
			  skipped_by_stop, skipped_by_stop == 1 ? "" : "es");
		rc = 1;
	}
	if (already)
		cli_info("%zu patch%s already applied, left as %s", already,
			 already == 1 ? " was" : "es were", already == 1 ? "it was" : "they were");
	if (touched == 0 && !skipped_by_stop && !already) {
		cli_error("%s", apply ? "no running process maps the target of these patches"
				      : "no running process has these patches applied");
		rc = 1;
	}
	return rc;
}


int cmd_apply(int argc, char **argv)
{
	struct txn_args a;
	if (parse(argc, argv, &a, apply_usage, true) < 0)
		return EXIT_USAGE;
	size_t np = (size_t)a.nrest;
	struct sut_patch **patches = sut_xcalloc(np, sizeof *patches);
	int rc = 0;
	for (size_t i = 0; i < np; i++) {
		struct sut_err err;
		if (sut_patch_read_file(a.rest[i], &patches[i], &err) < 0) {
			cli_error("%s", err.msg); /* the reader names the file */
			rc = 1;
			continue;
		}
		/* invariant 4: nothing unverified enters a process */
		if (patches[i]->sig_len == 0 && a.allow_unsigned) {
			cli_info("warning: %s is unsigned; applying it because of --allow-unsigned",
				 a.rest[i]);
			continue;
		}
		char signer[32];
		if (cli_trust_verify(patches[i], a.keys, a.nkeys, signer, &err) < 0) {
			cli_error("%s: patch %s refused: %s%s", a.rest[i], patches[i]->id, err.msg,
				  patches[i]->sig_len ? ""
						      : " (sign it with `suture build --sign-key`, "
							"or pass --allow-unsigned)");
			rc = 1;
		}
	}
	if (rc)
		goto out;
	if (a.all)
		add_all_pids(&a.pids);
	cli_pool_catch_signals();
	struct apply_run run = {.a = &a, .patches = patches, .np = np,
				.o = {.txn = {.timeout_ms = a.timeout_ms, .dry_run = a.dry_run},
				      .only_mapped = a.all, .skip_applied = a.all}};
	run.jobs = sut_xcalloc(a.pids.n ? a.pids.n : 1, sizeof *run.jobs);
	size_t stopped = cli_pool_run(a.pids.n, cli_pool_threads(a.pids.n), apply_job, &run);
	rc = report(&a, run.jobs, stopped, true, a.dry_run);
	for (size_t k = 0; k < a.pids.n; k++)
		sut_multi_result_free(&run.jobs[k]);
	free(run.jobs);
out:
	for (size_t i = 0; i < np; i++)
		if (patches[i])
			sut_patch_free(patches[i]);
	free(patches);
	free(a.keys);
	pidlist_free(&a.pids);
	return rc;
}


struct revert_run {
	struct txn_args *a;
	struct sut_multi_result *jobs;
	struct sut_multi_opts o;
};

static void revert_job(size_t k, void *ctx)
{
	struct revert_run *run = ctx;
	sut_revert_patches(run->a->pids.v[k], (const char *const *)run->a->rest,
			   (size_t)run->a->nrest, &run->o, &run->jobs[k]);
}

int cmd_revert(int argc, char **argv)
{
	struct txn_args a;
	if (parse(argc, argv, &a, revert_usage, false) < 0)
		return EXIT_USAGE;
	if (a.all)
		add_all_pids(&a.pids);
	cli_pool_catch_signals();
	struct revert_run run = {.a = &a, .o = {.txn = {.timeout_ms = a.timeout_ms},
						.skip_applied = a.all}};
	run.jobs = sut_xcalloc(a.pids.n ? a.pids.n : 1, sizeof *run.jobs);
	size_t stopped = cli_pool_run(a.pids.n, cli_pool_threads(a.pids.n), revert_job, &run);
	int rc = report(&a, run.jobs, stopped, false, false);
	for (size_t k = 0; k < a.pids.n; k++)
		sut_multi_result_free(&run.jobs[k]);
	free(run.jobs);
	free(a.keys);
	pidlist_free(&a.pids);
	return rc;
}
