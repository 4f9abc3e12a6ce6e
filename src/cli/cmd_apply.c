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
#include "cli/stop.h"
#include "cli/trust.h"
#include "proc/proc.h"
#include "util/buf.h"

/* The options and notes apply and revert share, the end of both usages. */
#define USAGE_TAIL \
	"  -L, --audit-log FILE  write the audit trail to FILE (\"off\": none) instead of\n" \
	"                    " SUT_AUDIT_DEFAULT " or $SUTURE_AUDIT_LOG\n" \
	"  -J, --jobs N      processes handled at once (default $SUTURE_JOBS, else twice the\n" \
	"                    cores, at most 16)\n" \
	"  -j, --json        one JSON document on standard output\n" \
	"  -h, --help        this text\n" \
	"\n" \
	"Threads asleep in a system call are left asleep during the freeze (not woken or\n" \
	"stopped; one that wakes is caught); SUTURE_FREEZE=all stops every thread instead.\n" \
	"Environment: SUTURE_TRUSTED_KEYS, SUTURE_AUDIT_LOG, SUTURE_JOBS and the other SUTURE_*\n" \
	"variables are ignored (with a note) when suture runs with privileges another user\n" \
	"handed it (sudo from another user, or a set-id start): use the options then.\n" \
	"Signals: the first SIGINT, SIGTERM or SIGHUP lets the processes under way finish\n" \
	"and starts no other (those are listed); a second one ends the run after the\n" \
	"transaction under way. No signal but SIGKILL ends suture inside a transaction.\n"

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
	"                    " SUT_TRUST_DIR "/*.pem; a key file that is not owned by\n"
	"                    root (or the user running suture), or that group or others\n"
	"                    could write, is ignored with a warning\n"
	"  -U, --allow-unsigned  accept a patch with no signature (never one with a bad or\n"
	"                    untrusted signature)\n"
	USAGE_TAIL
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
	USAGE_TAIL;

struct txn_args {
	struct pidlist pids;
	bool all, json, dry_run, allow_unsigned;
	const char **keys;
	size_t nkeys;
	int timeout_ms;
	long jobs;
	const char *audit_log;
	char **rest;
	int nrest;
};

/* Which command a txn_args belongs to: apply takes patch files and --dry-run and the trust
 * options, revert takes patch ids. */
enum txn_op { TXN_APPLY, TXN_REVERT };

static int parse(int argc, char **argv, struct txn_args *a, const char *usage, enum txn_op op)
{
	bool apply = op == TXN_APPLY;
	static const struct option lo[] = {
		{"pid", required_argument, 0, 'p'}, {"all", no_argument, 0, 'a'},
		{"timeout", required_argument, 0, 't'}, {"dry-run", no_argument, 0, 'n'},
		{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'},
		{"trusted-key", required_argument, 0, 'k'}, {"allow-unsigned", no_argument, 0, 'U'},
		{"audit-log", required_argument, 0, 'L'}, {"jobs", required_argument, 0, 'J'},
		{0, 0, 0, 0}};
	memset(a, 0, sizeof *a);
	a->timeout_ms = 5000;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, apply ? "p:at:njhk:UL:J:" : "p:at:jhL:J:", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli_pid_arg(&a->pids, optarg) < 0)
				return -1;
			break;
		case 'a': a->all = true; break;
		case 't':
			if ((a->timeout_ms = cli_parse_timeout(optarg)) < 0)
				return -1;
			break;
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
		case 'L': a->audit_log = optarg; break;
		case 'J': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 16) {
				cli_error("--jobs wants a number from 1 to 16, got '%s'", optarg);
				return -1;
			}
			a->jobs = v;
			break;
		}
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
	if (a->audit_log)
		cli_audit_set_path(a->audit_log);
	return 0;
}

/* Every process on the system but ourselves: the candidates of --all, each checked by
 * its worker (reading maps and build-ids in parallel is most of the work of --all). */
static void add_all_pids(struct pidlist *out)
{
	struct sut_found_process *all;
	size_t n = 0;
	struct sut_err err;
	if (sut_discover_processes(SUT_DISCOVER_ALL, NULL, 0, &all, &n, &err) < 0) {
		cli_error("%s", err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++)
		pidlist_add(out, all[i].pid);
	sut_found_processes_free(all, n);
}

struct apply_run {
	struct txn_args *a;
	struct sut_patch **patches;
	size_t np;
	char (*signers)[32]; /* key id that signed each patch ("" unsigned) */
	struct sut_multi_result *jobs; /* one per process, printed in pid order at the end */
	struct sut_multi_opts o;
};

/* Each transaction is bracketed by the stop handling (cli/stop.h) and recorded in the
 * audit trail as it ends. */
static bool txn_start(void *ctx)
{
	(void)ctx;
	return cli_txn_start();
}

static void apply_done(void *ctx, const char *action, const struct sut_txn_result *r,
		       const char *id, size_t index, const char *error)
{
	struct apply_run *run = ctx;
	if (!run->o.txn.dry_run)
		cli_audit_txn(action, r, id,
			      !strcmp(action, "apply") && run->signers[index][0] ? run->signers[index]
										  : NULL,
			      error);
	cli_txn_end();
}

static void revert_done(void *ctx, const char *action, const struct sut_txn_result *r,
			const char *id, size_t index, const char *error)
{
	(void)ctx;
	(void)index;
	cli_audit_txn(action, r, id, NULL, error);
	cli_txn_end();
}

/* One process: the patches in order, all or nothing (apply/txn_multi.c). */
static void apply_job(size_t k, void *ctx)
{
	struct apply_run *run = ctx;
	sut_apply_patches(run->a->pids.v[k], run->patches, run->np, &run->o, &run->jobs[k]);
}

/* Where the committing freeze spent its time (for the benchmarks), in µs. */
static void json_phases(struct json *j, const struct sut_freeze_phases *p)
{
	json_obj_begin(j, "phases_us");
	json_uint(j, "state", p->state_ns / 1000);
	json_uint(j, "seize", p->seize_ns / 1000);
	json_uint(j, "interrupt", p->interrupt_ns / 1000);
	json_uint(j, "collect", p->collect_ns / 1000);
	json_uint(j, "list", p->list_ns / 1000);
	json_uint(j, "rounds", p->rounds);
	json_uint(j, "census", p->census);
	json_uint(j, "maps", p->maps_ns / 1000);
	json_uint(j, "check", p->check_ns / 1000);
	json_uint(j, "work", p->work_ns / 1000);
	json_uint(j, "thaw", p->thaw_ns / 1000);
	json_uint(j, "woke", p->woke);
	json_uint(j, "afresh", p->afresh);
	json_uint(j, "stopped", p->stopped);
	json_uint(j, "end_asleep", p->end_asleep);
	json_uint(j, "end_interrupted", p->end_interrupted);
	json_obj_end(j);
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
	if (r->warning[0])
		json_str(j, "warning", r->warning);
	json_int(j, "attempts", r->attempts);
	json_uint(j, "functions", r->nfuncs);
	json_uint(j, "threads", r->nthreads);
	json_uint(j, "freeze_us", r->freeze_ns / 1000);
	json_uint(j, "held_us", r->held_ns / 1000);
	json_uint(j, "total_us", r->total_ns / 1000);
	json_phases(j, &r->phases);
	if (r->region)
		json_hex(j, "region", r->region);
	json_obj_end(j);
}

/* Prints the jobs in pid order; returns the exit status. not_started[k]: job k was not
 * started because of a stop request. */
static int report(struct txn_args *a, struct sut_multi_result *jobs, size_t skipped_by_stop,
		  const bool *not_started, enum txn_op op, bool dry_run)
{
	bool apply = op == TXN_APPLY;
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
			if (r->warning[0])
				cli_error("warning: %s", r->warning);
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
					 "longest hold %.3f ms, %d attempt%s)",
					 (int)r->pid, dry_run ? "would apply" : "applied", id,
					 r->nfuncs, r->nfuncs == 1 ? "" : "s", r->nthreads,
					 r->nthreads == 1 ? "" : "s", r->freeze_ns / 1e6,
					 r->held_ns / 1e6, r->attempts, r->attempts == 1 ? "" : "s");
			else
				cli_info("pid %d: reverted %s (%zu function%s, %zu thread%s, freeze "
					 "%.3f ms, longest hold %.3f ms)",
					 (int)r->pid, id, r->nfuncs, r->nfuncs == 1 ? "" : "s",
					 r->nthreads, r->nthreads == 1 ? "" : "s", r->freeze_ns / 1e6,
					 r->held_ns / 1e6);
		}
		for (size_t i = 0; i < jb->nnotes; i++)
			cli_info("%s", jb->notes[i]);
		if (jb->failed)
			rc = 1;
	}
	if (a->json) {
		json_arr_end(&j);
		if (skipped_by_stop) {
			const char *sig = sigabbrev_np(cli_stop_signal());
			char name[16];
			snprintf(name, sizeof name, "SIG%s", sig ? sig : "?");
			json_str(&j, "interrupted", name);
			json_arr_begin(&j, "not_done");
			for (size_t k = 0; k < a->pids.n; k++)
				if (not_started[k])
					json_int(&j, NULL, a->pids.v[k]);
			json_arr_end(&j);
		}
		json_obj_end(&j);
		json_end(&j);
	}
	if (skipped_by_stop) {
		/* --all lists every process as a candidate: name the ones not done */
		char *list = NULL;
		size_t len = 0, shown = 0;
		FILE *m = open_memstream(&list, &len);
		for (size_t k = 0; m && k < a->pids.n; k++)
			if (not_started[k] && shown++ < 20)
				fprintf(m, "%s%d", shown > 1 ? " " : "", (int)a->pids.v[k]);
		if (m) {
			if (shown > 20)
				fprintf(m, " ...");
			fclose(m);
		}
		const char *sig = sigabbrev_np(cli_stop_signal());
		cli_error("interrupted by SIG%s: %zu process%s not handled%s: %s (the others "
			  "completed)",
			  sig ? sig : "?", skipped_by_stop, skipped_by_stop == 1 ? "" : "es",
			  a->all ? " (candidates of --all, not all map the target)" : "",
			  list ? list : "");
		free(list);
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
	if (parse(argc, argv, &a, apply_usage, TXN_APPLY) < 0)
		return EXIT_USAGE;
	size_t np = (size_t)a.nrest;
	struct sut_patch **patches = sut_xcalloc(np, sizeof *patches);
	char (*signers)[32] = sut_xcalloc(np, sizeof *signers);
	struct cli_trust ts;
	cli_trust_load(&ts, a.keys, a.nkeys);
	cli_trust_print_warnings(&ts);
	int rc = 0;
	for (size_t i = 0; i < np; i++) {
		struct sut_err err;
		if (sut_patch_read_file(a.rest[i], &patches[i], &err) < 0) {
			cli_error("%s", err.msg); /* the reader names the file */
			if (!a.dry_run)
				cli_audit_refusal(a.rest[i], NULL, err.msg);
			rc = 1;
			continue;
		}
		/* invariant 4: nothing unverified enters a process */
		if (patches[i]->sig_len == 0 && a.allow_unsigned) {
			cli_info("warning: %s is unsigned; applying it because of --allow-unsigned",
				 a.rest[i]);
			continue;
		}
		if (cli_trust_check(&ts, patches[i], signers[i], &err) < 0) {
			cli_error("%s: patch %s refused: %s%s", a.rest[i], patches[i]->id, err.msg,
				  patches[i]->sig_len ? ""
						      : " (sign it with `suture build --sign-key`, "
							"or pass --allow-unsigned)");
			if (!a.dry_run)
				cli_audit_refusal(a.rest[i], patches[i]->id, err.msg);
			rc = 1;
		}
	}
	if (rc)
		goto out;
	if (a.all)
		add_all_pids(&a.pids);
	struct apply_run run = {.a = &a, .patches = patches, .np = np, .signers = signers,
				.o = {.txn = {.timeout_ms = a.timeout_ms, .dry_run = a.dry_run},
				      .only_mapped = a.all, .skip_applied = a.all}};
	struct sut_multi_hooks hooks = {.ctx = &run, .start = txn_start, .done = apply_done};
	run.o.hooks = &hooks;
	run.jobs = sut_xcalloc(a.pids.n ? a.pids.n : 1, sizeof *run.jobs);
	bool *not_started = sut_xcalloc(a.pids.n ? a.pids.n : 1, sizeof *not_started);
	size_t stopped = cli_pool_run(a.pids.n, cli_pool_threads(a.pids.n, a.jobs), apply_job,
				      &run, not_started);
	rc = report(&a, run.jobs, stopped, not_started, TXN_APPLY, a.dry_run);
	for (size_t k = 0; k < a.pids.n; k++)
		sut_multi_result_free(&run.jobs[k]);
	free(run.jobs);
	free(not_started);
out:
	cli_trust_free(&ts);
	free(signers);
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
	if (parse(argc, argv, &a, revert_usage, TXN_REVERT) < 0)
		return EXIT_USAGE;
	if (a.all)
		add_all_pids(&a.pids);
	struct revert_run run = {.a = &a, .o = {.txn = {.timeout_ms = a.timeout_ms},
						.skip_applied = a.all}};
	struct sut_multi_hooks hooks = {.ctx = &run, .start = txn_start, .done = revert_done};
	run.o.hooks = &hooks;
	run.jobs = sut_xcalloc(a.pids.n ? a.pids.n : 1, sizeof *run.jobs);
	bool *not_started = sut_xcalloc(a.pids.n ? a.pids.n : 1, sizeof *not_started);
	size_t stopped = cli_pool_run(a.pids.n, cli_pool_threads(a.pids.n, a.jobs), revert_job,
				      &run, not_started);
	int rc = report(&a, run.jobs, stopped, not_started, TXN_REVERT, false);
	for (size_t k = 0; k < a.pids.n; k++)
		sut_multi_result_free(&run.jobs[k]);
	free(run.jobs);
	free(not_started);
	free(a.keys);
	pidlist_free(&a.pids);
	return rc;
}
