/* SPDX-License-Identifier: Apache-2.0 */
/* suture apply / suture revert. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/apply.h"
#include "apply/registry.h"
#include "cli/cli.h"
#include "cli/json.h"
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
	"  -a, --all         every process that maps each patch's target build-id\n"
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

/* Processes that map a build-id (for apply --all). Our own process is never a target. */
static void add_mapping_pids(struct pidlist *out, const struct sut_patch *p)
{
	pid_t *all = NULL;
	size_t n = 0;
	struct sut_err err;
	if (sut_proc_list(&all, &n, &err) < 0) {
		cli_error("%s", err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (all[i] == getpid())
			continue;
		if (sut_process_maps_build_id(all[i], p->build_id, p->build_id_len, &err) == 1)
			pidlist_add(out, all[i]);
	}
	free(all);
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
	json_uint(j, "threads", r->nthreads);
	json_uint(j, "freeze_us", r->freeze_ns / 1000);
	json_uint(j, "total_us", r->total_ns / 1000);
	if (r->region)
		json_hex(j, "region", r->region);
	json_obj_end(j);
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
			cli_error("%s: %s", a.rest[i], err.msg);
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
		for (size_t i = 0; i < np; i++)
			add_mapping_pids(&a.pids, patches[i]);
	if (a.pids.n == 0) {
		cli_error("no running process maps the target of %s", np == 1 ? a.rest[0] : "these patches");
		rc = 1;
		goto out;
	}
	struct json j;
	json_init(&j, stdout);
	if (a.json) {
		json_obj_begin(&j, NULL);
		json_arr_begin(&j, "results");
	}
	struct sut_txn_opts o = {.timeout_ms = a.timeout_ms, .dry_run = a.dry_run};
	for (size_t k = 0; k < a.pids.n; k++) {
		pid_t pid = a.pids.v[k];
		size_t done = 0;
		bool failed = false;
		for (size_t i = 0; i < np && !failed; i++) {
			struct sut_patch *p = patches[i];
			/* with --all, a process gets only the patches for objects it maps */
			if (a.all && sut_process_maps_build_id(pid, p->build_id, p->build_id_len,
								&(struct sut_err){0}) != 1)
				continue;
			struct sut_txn_result r;
			struct sut_err err;
			if (sut_apply_patch(pid, p, &o, &r, &err) < 0) {
				cli_error("%s", err.msg);
				if (a.json)
					json_result(&j, &r, p->id, false, err.msg);
				failed = true;
				break;
			}
			if (a.json)
				json_result(&j, &r, p->id, true, NULL);
			if (!a.json)
				cli_info("pid %d: %s %s (%zu function%s, %zu threads, freeze %.3f ms, "
					 "%d attempt%s)",
					 (int)pid, a.dry_run ? "would apply" : "applied", p->id,
					 p->nfuncs, p->nfuncs == 1 ? "" : "s", r.nthreads,
					 r.freeze_ns / 1e6, r.attempts, r.attempts == 1 ? "" : "s");
			done = i + 1;
		}
		if (failed) {
			rc = 1;
			/* all or nothing per process: take back what this run applied */
			for (size_t i = done; i-- > 0 && !a.dry_run;) {
				struct sut_txn_result r;
				struct sut_err err;
				if (sut_revert_patch(pid, patches[i]->id, &o, &r, &err) < 0)
					cli_error("pid %d: could not take back %s: %s", (int)pid,
						  patches[i]->id, err.msg);
				else
					cli_info("pid %d: took back %s", (int)pid, patches[i]->id);
			}
		}
	}
	if (a.json) {
		json_arr_end(&j);
		json_obj_end(&j);
		json_end(&j);
	}
out:
	for (size_t i = 0; i < np; i++)
		if (patches[i])
			sut_patch_free(patches[i]);
	free(patches);
	free(a.keys);
	pidlist_free(&a.pids);
	return rc;
}

/* Processes whose registry holds patch `id` (for revert --all). */
static void add_pids_with_patch(struct pidlist *out, const char *id)
{
	pid_t *all = NULL;
	size_t n = 0;
	struct sut_err err;
	if (sut_proc_list(&all, &n, &err) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct sut_maps m;
		if (all[i] == getpid() || sut_proc_maps(all[i], &m, &err) < 0)
			continue;
		struct sut_registry reg;
		bool found = false;
		if (sut_registry_read(all[i], &m, &reg, &found, &err) == 0 && found &&
		    sut_registry_find(&reg, id) >= 0)
			pidlist_add(out, all[i]);
		sut_registry_free(&reg);
		sut_proc_maps_free(&m);
	}
	free(all);
}

int cmd_revert(int argc, char **argv)
{
	struct txn_args a;
	if (parse(argc, argv, &a, revert_usage, false) < 0)
		return EXIT_USAGE;
	if (a.all)
		for (int i = 0; i < a.nrest; i++)
			add_pids_with_patch(&a.pids, a.rest[i]);
	if (a.pids.n == 0) {
		cli_error("no running process has %s applied", a.rest[0]);
		pidlist_free(&a.pids);
		return 1;
	}
	struct json j;
	json_init(&j, stdout);
	if (a.json) {
		json_obj_begin(&j, NULL);
		json_arr_begin(&j, "results");
	}
	int rc = 0;
	struct sut_txn_opts o = {.timeout_ms = a.timeout_ms};
	for (size_t k = 0; k < a.pids.n; k++) {
		for (int i = 0; i < a.nrest; i++) {
			struct sut_txn_result r;
			struct sut_err err;
			if (sut_revert_patch(a.pids.v[k], a.rest[i], &o, &r, &err) < 0) {
				cli_error("%s", err.msg);
				if (a.json)
					json_result(&j, &r, a.rest[i], false, err.msg);
				rc = 1;
				break;
			}
			if (a.json)
				json_result(&j, &r, a.rest[i], true, NULL);
			else
				cli_info("pid %d: reverted %s (%zu threads, freeze %.3f ms)",
					 (int)a.pids.v[k], a.rest[i], r.nthreads, r.freeze_ns / 1e6);
		}
	}
	if (a.json) {
		json_arr_end(&j);
		json_obj_end(&j);
		json_end(&j);
	}
	pidlist_free(&a.pids);
	return rc;
}
