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
	"  -L, --audit-log FILE  write the audit trail to FILE (\"off\": none) instead of\n"
	"                    " SUT_AUDIT_DEFAULT " or $SUTURE_AUDIT_LOG\n"
	"  -J, --jobs N      processes handled at once (default $SUTURE_JOBS, else twice the\n"
	"                    cores, at most 16)\n"
	"  -j, --json        one JSON document on standard output\n"
	"  -h, --help        this text\n"
	"\n"
	"Environment: SUTURE_TRUSTED_KEYS, SUTURE_AUDIT_LOG, SUTURE_JOBS and the other SUTURE_*\n"
	"variables are ignored (with a note) when suture runs with privileges another user\n"
	"handed it (sudo from another user, or a set-id start): use the options then.\n"
	"Signals: the first SIGINT, SIGTERM or SIGHUP lets the processes under way finish\n"
	"and starts no other (those are listed); a second one ends the run after the\n"
	"transaction under way. No signal but SIGKILL ends suture inside a transaction.\n"
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
	"  -L, --audit-log FILE  write the audit trail to FILE (\"off\": none) instead of\n"
	"                    " SUT_AUDIT_DEFAULT " or $SUTURE_AUDIT_LOG\n"
	"  -J, --jobs N      processes handled at once (default $SUTURE_JOBS, else twice the\n"
	"                    cores, at most 16)\n"
	"  -j, --json        one JSON document on standard output\n"
	"  -h, --help        this text\n"
	"\n"
	"Environment: SUTURE_TRUSTED_KEYS, SUTURE_AUDIT_LOG, SUTURE_JOBS and the other SUTURE_*\n"
	"variables are ignored (with a note) when suture runs with privileges another user\n"
	"handed it (sudo from another user, or a set-id start): use the options then.\n"
	"Signals: the first SIGINT, SIGTERM or SIGHUP lets the processes under way finish\n"
	"and starts no other (those are listed); a second one ends the run after the\n"
	"transaction under way. No signal but SIGKILL ends suture inside a transaction.\n";

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

static int parse(int argc, char **argv, struct txn_args *a, const char *usage, bool apply)
{
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

/* What one process's job did, printed in pid order once every job is done. */
struct job {
	bool skipped;   /* --all: nothing to do (maps none of the targets, or vanished) */
	size_t already; /* --all: patches skipped because they are applied there already */
	bool failed;
	size_t nres;
	struct sut_txn_result *res; /* one per transaction attempted */
	const char **ids;
	char **errs;    /* NULL entry for a transaction that succeeded */
	char **notes;   /* take-backs and repairs */
	size_t nnotes;
};

static void job_add(struct job *j, const char *id, const struct sut_txn_result *r,
		    const char *error)
{
	j->res = sut_xrealloc(j->res, (j->nres + 1) * sizeof *j->res);
	j->ids = sut_xrealloc(j->ids, (j->nres + 1) * sizeof *j->ids);
	j->errs = sut_xrealloc(j->errs, (j->nres + 1) * sizeof *j->errs);
	j->res[j->nres] = *r;
	j->ids[j->nres] = id;
	j->errs[j->nres] = error ? sut_xstrdup(error) : NULL;
	j->nres++;
}

static void job_note(struct job *j, char *note)
{
	j->notes = sut_xrealloc(j->notes, (j->nnotes + 1) * sizeof *j->notes);
	j->notes[j->nnotes++] = note;
}

static void job_free(struct job *j)
{
	for (size_t i = 0; i < j->nres; i++)
		free(j->errs[i]);
	for (size_t i = 0; i < j->nnotes; i++)
		free(j->notes[i]);
	free(j->res);
	free(j->ids);
	free(j->errs);
	free(j->notes);
}

struct apply_run {
	struct txn_args *a;
	struct sut_patch **patches;
	size_t np;
	char (*signers)[32]; /* key id that signed each patch ("" unsigned) */
	struct job *jobs;
	struct sut_txn_opts o;
};

/* Does pid have patch `id` applied? (--all: apply skips those, revert takes those.)
 * live: only a record that is true now counts (apply); a stale one is applied again. */
static bool has_patch(pid_t pid, const char *id, bool live)
{
	struct sut_status st;
	struct sut_err err;
	if (sut_status_read(pid, &st, &err) < 0)
		return false;
	const struct sut_status_patch *p = sut_status_find(&st, id);
	bool has = p && (p->live || !live);
	sut_status_free(&st);
	return has;
}

/* One process: the patches in order, all or nothing. */
static void apply_job(size_t k, void *ctx)
{
	struct apply_run *run = ctx;
	struct job *j = &run->jobs[k];
	pid_t pid = run->a->pids.v[k];
	size_t done = 0;
	bool any = false;
	for (size_t i = 0; i < run->np; i++) {
		struct sut_patch *p = run->patches[i];
		/* with --all, a process gets only the patches for objects it maps */
		if (run->a->all && sut_process_maps_build_id(pid, p->build_id, p->build_id_len,
							      &(struct sut_err){0}) != 1)
			continue;
		/* --all asks for a state: a process that already has the patch is in it (a
		 * vfork child sharing its parent's memory shows its parent's patches too) */
		if (run->a->all && has_patch(pid, p->id, true)) {
			j->already++;
			continue;
		}
		any = true;
		if (!cli_txn_start()) {
			job_note(j, sut_xasprintf("pid %d: %s not applied: interrupted", (int)pid, p->id));
			j->failed = true;
			break;
		}
		struct sut_txn_result r;
		struct sut_err err;
		int rc = sut_apply_patch(pid, p, &run->o, &r, &err);
		/* the line is written as the transaction ends: a later kill loses nothing */
		if (!run->o.dry_run)
			cli_audit_txn("apply", &r, p->id, run->signers[i][0] ? run->signers[i] : NULL,
				      rc < 0 ? err.msg : NULL);
		cli_txn_end();
		if (rc < 0) {
			job_add(j, p->id, &r, err.msg);
			j->failed = true;
			break;
		}
		job_add(j, p->id, &r, NULL);
		done = i + 1;
	}
	j->skipped = !any;
	if (!j->failed || run->o.dry_run)
		return;
	/* all or nothing per process: take back what this run applied */
	for (size_t i = done; i-- > 0;) {
		if (run->a->all && sut_process_maps_build_id(pid, run->patches[i]->build_id,
							      run->patches[i]->build_id_len,
							      &(struct sut_err){0}) != 1)
			continue;
		if (!cli_txn_start()) {
			job_note(j, sut_xasprintf("pid %d: %s left applied: interrupted before its "
						  "take-back",
						  (int)pid, run->patches[i]->id));
			continue;
		}
		struct sut_txn_result r;
		struct sut_err err;
		int rc = sut_revert_patch(pid, run->patches[i]->id, &run->o, &r, &err);
		cli_audit_txn("takeback", &r, run->patches[i]->id, NULL, rc < 0 ? err.msg : NULL);
		cli_txn_end();
		if (rc < 0)
			job_note(j, sut_xasprintf("pid %d: could not take back %s: %s", (int)pid,
						  run->patches[i]->id, err.msg));
		else
			job_note(j, sut_xasprintf("pid %d: took back %s", (int)pid,
						  run->patches[i]->id));
	}
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

/* Prints the jobs in pid order; returns the exit status. not_started[k]: job k was not
 * started because of a stop request. */
static int report(struct txn_args *a, struct job *jobs, size_t skipped_by_stop,
		  const bool *not_started, bool apply, bool dry_run)
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
		struct job *jb = &jobs[k];
		already += jb->already;
		if (jb->skipped)
			continue;
		touched++;
		for (size_t i = 0; i < jb->nres; i++) {
			const struct sut_txn_result *r = &jb->res[i];
			if (r->repaired)
				cli_info("pid %d: %s", (int)r->pid, r->repair_note);
			if (a->json)
				json_result(&j, r, jb->ids[i], jb->errs[i] == NULL, jb->errs[i]);
			if (jb->errs[i]) {
				cli_error("%s", jb->errs[i]);
				continue;
			}
			if (a->json)
				continue;
			if (apply)
				cli_info("pid %d: %s %s (%zu function%s, %zu thread%s, freeze %.3f ms, "
					 "%d attempt%s)",
					 (int)r->pid, dry_run ? "would apply" : "applied", jb->ids[i],
					 r->nfuncs, r->nfuncs == 1 ? "" : "s", r->nthreads,
					 r->nthreads == 1 ? "" : "s", r->freeze_ns / 1e6, r->attempts,
					 r->attempts == 1 ? "" : "s");
			else
				cli_info("pid %d: reverted %s (%zu function%s, %zu thread%s, freeze "
					 "%.3f ms)",
					 (int)r->pid, jb->ids[i], r->nfuncs, r->nfuncs == 1 ? "" : "s",
					 r->nthreads, r->nthreads == 1 ? "" : "s", r->freeze_ns / 1e6);
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
	if (parse(argc, argv, &a, apply_usage, true) < 0)
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
				.o = {.timeout_ms = a.timeout_ms, .dry_run = a.dry_run}};
	run.jobs = sut_xcalloc(a.pids.n ? a.pids.n : 1, sizeof *run.jobs);
	bool *not_started = sut_xcalloc(a.pids.n ? a.pids.n : 1, sizeof *not_started);
	size_t stopped = cli_pool_run(a.pids.n, cli_pool_threads(a.pids.n, a.jobs), apply_job,
				      &run, not_started);
	rc = report(&a, run.jobs, stopped, not_started, true, a.dry_run);
	for (size_t k = 0; k < a.pids.n; k++)
		job_free(&run.jobs[k]);
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
	struct job *jobs;
	struct sut_txn_opts o;
};

static void revert_job(size_t k, void *ctx)
{
	struct revert_run *run = ctx;
	struct job *j = &run->jobs[k];
	pid_t pid = run->a->pids.v[k];
	bool any = false;
	for (int i = 0; i < run->a->nrest; i++) {
		const char *id = run->a->rest[i];
		if (run->a->all && !has_patch(pid, id, false))
			continue;
		any = true;
		if (!cli_txn_start()) {
			job_note(j, sut_xasprintf("pid %d: %s not reverted: interrupted", (int)pid, id));
			j->failed = true;
			break;
		}
		struct sut_txn_result r;
		struct sut_err err;
		int rc = sut_revert_patch(pid, id, &run->o, &r, &err);
		cli_audit_txn("revert", &r, id, NULL, rc < 0 ? err.msg : NULL);
		cli_txn_end();
		if (rc < 0) {
			job_add(j, id, &r, err.msg);
			j->failed = true;
			break;
		}
		job_add(j, id, &r, NULL);
	}
	j->skipped = !any;
}

int cmd_revert(int argc, char **argv)
{
	struct txn_args a;
	if (parse(argc, argv, &a, revert_usage, false) < 0)
		return EXIT_USAGE;
	if (a.all)
		add_all_pids(&a.pids);
	struct revert_run run = {.a = &a, .o = {.timeout_ms = a.timeout_ms}};
	run.jobs = sut_xcalloc(a.pids.n ? a.pids.n : 1, sizeof *run.jobs);
	bool *not_started = sut_xcalloc(a.pids.n ? a.pids.n : 1, sizeof *not_started);
	size_t stopped = cli_pool_run(a.pids.n, cli_pool_threads(a.pids.n, a.jobs), revert_job,
				      &run, not_started);
	int rc = report(&a, run.jobs, stopped, not_started, false, false);
	for (size_t k = 0; k < a.pids.n; k++)
		job_free(&run.jobs[k]);
	free(run.jobs);
	free(not_started);
	free(a.keys);
	pidlist_free(&a.pids);
	return rc;
}
