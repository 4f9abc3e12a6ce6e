/* SPDX-License-Identifier: Apache-2.0 */
/* suture rollout: patch a host's processes in waves with health checks and automatic
 * rollback (src/rollout/rollout.h, docs/rollout.md). */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/audit.h"
#include "cli/cli.h"
#include "cli/escape.h"
#include "cli/stop.h"
#include "cli/trust.h"
#include "rollout/rollout.h"
#include "util/buf.h"

static const char usage[] =
	"usage: suture rollout PATCH... [--waves LIST] [--health CMD] [--soak DURATION]\n"
	"                      [--select PID,...|--canary PID] [--dry-run] [--json]\n"
	"       suture rollout --resume ID | --abort ID | --list\n"
	"\n"
	"Patch every process that maps a patch's target build, in waves. After each wave and\n"
	"its soak time every process patched so far is checked: still alive, still listening\n"
	"on the TCP sockets it listened on before, no crash signal pending, verify proves the\n"
	"patches in it, and the --health command exits 0. When anything fails, every wave is\n"
	"reverted, newest first, and the report says what failed and what was undone.\n"
	"\n"
	"Options:\n"
	"  -w, --waves LIST      cumulative wave sizes, counts or percentages of the targets\n"
	"                        (default 1,10%,100%)\n"
	"  -H, --health CMD      run CMD with /bin/sh after each wave; exit 0 = healthy. Its\n"
	"                        environment has SUTURE_ROLLOUT_ID, SUTURE_ROLLOUT_WAVE and\n"
	"                        SUTURE_ROLLOUT_PIDS (the processes patched so far)\n"
	"  -s, --soak DURATION   wait this long after each wave before checking (500ms, 30s,\n"
	"                        2m; default 10s)\n"
	"      --select PID,...  only these processes (each must map a patch's build)\n"
	"      --canary PID      this process first (the first wave)\n"
	"  -n, --dry-run         plan and check every wave with dry-run applies; nothing is\n"
	"                        written into any process\n"
	"      --resume ID       continue an interrupted rollout from its last finished step\n"
	"      --abort ID        revert every wave of a rollout, newest first\n"
	"      --list            list the rollouts and their states\n"
	"      --state-dir DIR   keep rollout state in DIR (default " SUT_ROLLOUT_DIR ")\n"
	"  -t, --timeout MS      per-transaction consistency timeout (default 5000)\n"
	"  -k, --trusted-key PEM trust this public key too (repeatable)\n"
	"  -L, --audit-log FILE  write the audit trail to FILE (\"off\": none)\n"
	"      --json            write the rollout's state document to standard output\n"
	"  -h, --help            this help\n"
	"\n"
	"SIGINT or SIGTERM stops the rollout after the transaction under way: its state is\n"
	"saved and `--resume ID` or `--abort ID` finishes it later (so does a killed suture's).\n"
	"Every step is an audit line (rollout-wave, rollout-health, rollout-abort,\n"
	"rollout-done). Exit status: 0 every wave healthy (or the rollout aborted cleanly);\n"
	"1 rolled back, interrupted, or a revert failed; 2 wrong command line.\n";

struct ctx {
	char (*signers)[80];
	bool dry_run;
	bool json;
	const char *ids; /* comma-separated patch ids, for the audit lines */
};

static bool stop_cb(void *c)
{
	(void)c;
	return cli_stop_requested();
}

static bool txn_start(void *c)
{
	(void)c;
	return cli_txn_start();
}

static void txn_done(void *c, const char *action, const struct sut_txn_result *r,
		     const char *id, size_t index, const char *error)
{
	struct ctx *x = c;
	if (!x->dry_run)
		cli_audit_txn(action, r, id,
			      !strcmp(action, "apply") && x->signers && x->signers[index][0]
				      ? x->signers[index]
				      : NULL,
			      error);
	if (r->warning[0])
		cli_error("warning: %s", r->warning);
	cli_txn_end();
}

static void event_cb(void *c, const struct sut_rollout *ro, const char *action, int wave,
		     bool ok, const char *error, const char *detail)
{
	struct ctx *x = c;
	/* a dry run's lines say so, or a reader of the trail would take its waves for applies */
	char *dd = NULL;
	if (ro->dry_run && asprintf(&dd, "dry run; %s", detail ? detail : "") < 0)
		dd = NULL;
	cli_audit_rollout(action, ro->id, wave, x->ids, ok, error, dd ? dd : detail);
	free(dd);
	if (!strcmp(action, "rollout-wave"))
		cli_info("rollout %s: wave %d %s (%s)%s%s", ro->id, wave,
			 ok ? (ro->dry_run ? "checked (dry run)" : "applied") : "failed", detail,
			 error ? ": " : "", error ? error : "");
	else if (!strcmp(action, "rollout-health"))
		cli_info("rollout %s: wave %d %s%s%s", ro->id, wave, ok ? "healthy" : "unhealthy",
			 error ? ": " : "", error ? error : "");
	else if (!strcmp(action, "rollout-abort"))
		cli_info("rollout %s: %s: %s", ro->id, ok ? "rolled back" : "ROLLBACK FAILED",
			 detail);
	else
		cli_info("rollout %s: done, every wave healthy (%s)", ro->id, detail);
}

static int parse_pids(const char *s, pid_t **v, size_t *n)
{
	char *copy = sut_xstrdup(s), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		pid_t p = cli_parse_pid(t);
		if (p < 0) {
			free(copy);
			return -1;
		}
		*v = sut_xrealloc(*v, (*n + 1) * sizeof **v);
		(*v)[(*n)++] = p;
	}
	free(copy);
	return *n ? 0 : -1;
}

/* Reads and checks the patch files; the signer of each into signers. */
static int load_patches(char *const *files, size_t n, const struct cli_keys *keys,
			struct sut_patch **patches, char (*signers)[80], const char *const *want)
{
	struct cli_trust ts;
	cli_trust_load(&ts, keys->v, keys->n);
	cli_trust_print_warnings(&ts);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		struct sut_err err;
		if (sut_patch_read_file(files[i], &patches[i], &err) < 0) {
			cli_error("%s", err.msg);
			cli_audit_refusal(files[i], NULL, err.msg);
			rc = -1;
			continue;
		}
		char kid[32] = "";
		if (cli_trust_check(&ts, patches[i], kid, &err) < 0) {
			cli_error("%s: patch %s refused: %s", files[i], patches[i]->id, err.msg);
			cli_audit_refusal(files[i], patches[i]->id, err.msg);
			rc = -1;
			continue;
		}
		snprintf(signers[i], sizeof signers[i], "%s", kid);
		if (want && strcmp(want[i], patches[i]->id) != 0) {
			cli_error("%s: holds patch %s, but the rollout was of %s", files[i],
				  patches[i]->id, want[i]);
			rc = -1;
		}
	}
	cli_trust_free(&ts);
	return rc;
}

static void print_report(const struct sut_rollout *ro, bool json)
{
	if (json) {
		char *s = sut_rollout_dump(ro);
		puts(s);
		free(s);
		return;
	}
	printf("rollout %s: %s%s\n", ro->id, ro->state, ro->dry_run ? " (dry run)" : "");
	for (size_t w = 0; w < ro->nwaves; w++) {
		const struct sut_ro_wave *wv = &ro->waves[w];
		printf("  wave %zu: %s, pids", w + 1, wv->state);
		for (size_t k = 0; k < wv->npids; k++)
			printf("%s%d", k ? "," : " ", (int)wv->pids[k]);
		putchar('\n');
		for (size_t i = 0; i < wv->nhealth; i++)
			if (!wv->health[i].ok)
				printf("    %s failed: %s\n", wv->health[i].check, wv->health[i].detail);
	}
	if (ro->failure)
		printf("  failure: %s\n", ro->failure);
	for (size_t i = 0; i < ro->nundone; i++) {
		const struct sut_ro_undo *u = &ro->undone[i];
		printf("  undone: wave %d pid %d patch %s: %s%s%s\n", u->wave, (int)u->pid, u->patch,
		       u->ok ? "reverted" : "FAILED", u->error[0] ? ": " : "", u->error);
	}
}

static int exit_of(int rc, const struct sut_rollout *ro)
{
	if (rc < 0)
		return 1;
	return !strcmp(ro->state, "done") || !strcmp(ro->state, "aborted") ? 0 : 1;
}
/* The command line. */
struct args {
	const char *waves, *health, *resume, *abort_id, *dir;
	long soak_ms;
	pid_t *select, canary;
	size_t nselect;
	bool dry, json, list;
	int timeout;
	struct cli_keys keys;
};

/* Fills a from argv; 0 to go on, else the exit status (--help: 0, a wrong line: 2). */
static int parse_args(int argc, char **argv, struct args *a, bool *done)
{
	static const struct option opts[] = {
		{"waves", required_argument, 0, 'w'},	 {"health", required_argument, 0, 'H'},
		{"soak", required_argument, 0, 's'},	 {"select", required_argument, 0, 'S'},
		{"canary", required_argument, 0, 'C'},	 {"dry-run", no_argument, 0, 'n'},
		{"json", no_argument, 0, 'j'},		 {"resume", required_argument, 0, 'R'},
		{"abort", required_argument, 0, 'A'},	 {"list", no_argument, 0, 'l'},
		{"state-dir", required_argument, 0, 'D'}, {"timeout", required_argument, 0, 't'},
		{"trusted-key", required_argument, 0, 'k'},
		{"audit-log", required_argument, 0, 'L'}, {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	*a = (struct args){.dir = SUT_ROLLOUT_DIR, .soak_ms = 10000, .timeout = 5000};
	*done = true;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "w:H:s:nt:k:L:h", opts, NULL)) != -1) {
		switch (c) {
		case 'w': a->waves = optarg; break;
		case 'H': a->health = optarg; break;
		case 's':
			if ((a->soak_ms = sut_parse_duration_ms(optarg)) < 0) {
				cli_error("--soak: '%s' is not a duration (500ms, 30s, 2m)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'S':
			if (parse_pids(optarg, &a->select, &a->nselect) < 0) {
				cli_error("--select: expected PID,PID,...");
				return EXIT_USAGE;
			}
			break;
		case 'C':
			if ((a->canary = cli_parse_pid(optarg)) < 0)
				return EXIT_USAGE;
			break;
		case 'n': a->dry = true; break;
		case 'j': a->json = true; break;
		case 'R': a->resume = optarg; break;
		case 'A': a->abort_id = optarg; break;
		case 'l': a->list = true; break;
		case 'D': a->dir = optarg; break;
		case 't':
			if ((a->timeout = cli_parse_timeout(optarg)) < 0)
				return EXIT_USAGE;
			break;
		case 'k': cli_keys_add(&a->keys, optarg); break;
		case 'L': cli_audit_set_path(optarg); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	int modes = !!a->resume + !!a->abort_id + a->list + (optind < argc);
	if (modes != 1 || (a->nselect && a->canary)) {
		cli_error(modes != 1 ? "give patch files, or one of --resume, --abort, --list"
				     : "--select and --canary exclude each other");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	*done = false;
	return 0;
}

/* --list: one line (or JSON object) per rollout in the state folder. */
static int list_rollouts(const struct args *a)
{
	struct sut_err err;
	char **ids;
	size_t n;
	if (sut_rollout_list(a->dir, &ids, &n, &err) < 0) {
		cli_error("%s", err.msg);
		return 1;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		struct sut_rollout ro;
		if (sut_rollout_load(a->dir, ids[i], &ro, &err) < 0) {
			cli_error("%s", err.msg);
		} else {
			size_t healthy = 0;
			for (size_t w = 0; w < ro.nwaves; w++)
				healthy += !strcmp(ro.waves[w].state, "healthy");
			if (a->json)
				json_array_append_new(
					arr, json_pack("{s:s,s:s,s:s,s:b,s:i,s:i}", "id", ro.id,
						       "state", ro.state, "updated", ro.updated,
						       "dry_run", ro.dry_run, "waves",
						       (int)ro.nwaves, "healthy", (int)healthy));
			else
				printf("%-28s %-16s %s  %zu/%zu waves healthy%s\n", ro.id,
				       ro.state, ro.updated, healthy, ro.nwaves,
				       ro.dry_run ? " (dry run)" : "");
		}
		sut_rollout_free(&ro);
		free(ids[i]);
	}
	free(ids);
	if (a->json) {
		char *s = json_dumps(arr, JSON_INDENT(2));
		puts(s);
		free(s);
	}
	json_decref(arr);
	return 0;
}

/* What one rollout run holds (its state, its patches and their signers, the patch ids for
 * the audit lines), freed in one place whatever phase ended the run. */
struct run {
	struct sut_rollout ro;
	size_t np;
	struct sut_patch **patches;
	char (*signers)[80];
	char *ids;
};

static void run_free(struct run *r)
{
	for (size_t i = 0; r->patches && i < r->np; i++)
		sut_patch_free(r->patches[i]);
	free(r->patches);
	free(r->signers);
	free(r->ids);
	sut_rollout_free(&r->ro);
}

/* The patch arrays of r, for np patches (zeroed). */
static void run_alloc(struct run *r, size_t np)
{
	r->np = np;
	r->patches = sut_xcalloc(np + 1, sizeof *r->patches);
	r->signers = sut_xcalloc(np + 1, sizeof *r->signers);
}

/* --resume / --abort: locks and loads the rollout, and reads its patch files again (they
 * must still hold the same patches, trusted). 0 to run it; 1 when there is nothing to do
 * (an abort of a rollout undone already: reported); -1 on failure (said). */
static int open_existing(const struct args *a, struct run *r)
{
	struct sut_err err;
	const char *id = a->resume ? a->resume : a->abort_id;
	if (sut_rollout_lock(a->dir, id, &err) < 0 ||
	    sut_rollout_load(a->dir, id, &r->ro, &err) < 0) {
		cli_error("%s", err.msg);
		return -1;
	}
	const char *state = r->ro.state;
	if (a->resume && strcmp(state, "running") && strcmp(state, "interrupted")) {
		cli_error("rollout %s is %s: only a running or interrupted rollout resumes", id,
			  state);
		return -1;
	}
	if (a->abort_id && (!strcmp(state, "aborted") || !strcmp(state, "rolled-back"))) {
		cli_info("rollout %s is %s already: nothing to undo", id, state);
		print_report(&r->ro, a->json);
		return 1;
	}
	run_alloc(r, r->ro.npatches);
	char **files = sut_xcalloc(r->np + 1, sizeof *files);
	const char **want = sut_xcalloc(r->np + 1, sizeof *want);
	for (size_t i = 0; i < r->np; i++) {
		files[i] = r->ro.patches[i].file;
		want[i] = r->ro.patches[i].id;
	}
	int rc = load_patches(files, r->np, &a->keys, r->patches, r->signers, want);
	free(files);
	free(want);
	if (rc < 0)
		cli_error("rollout %s: its patch files must be readable and trusted to %s it", id,
			  a->resume ? "resume" : "abort");
	return rc;
}

/* PATCH...: reads the patches, plans the waves and locks the new rollout; -1 on failure
 * (said). */
static int plan_new(const struct args *a, char *const *files, size_t np, struct run *r)
{
	struct sut_err err;
	run_alloc(r, np);
	if (load_patches(files, np, &a->keys, r->patches, r->signers, NULL) < 0)
		return -1;
	const char **sg = sut_xcalloc(np, sizeof *sg);
	for (size_t i = 0; i < np; i++)
		sg[i] = r->signers[i];
	struct sut_rollout_params prm = {
		.state_dir = a->dir, .waves_spec = a->waves, .health_cmd = a->health,
		.soak_ms = a->soak_ms, .dry_run = a->dry, .select = a->select,
		.nselect = a->nselect, .canary = a->canary, .files = (const char *const *)files,
		.signers = sg};
	int rc = sut_rollout_plan(&r->ro, r->patches, np, &prm, &err);
	free(sg);
	if (rc < 0) {
		cli_error("rollout: %s", err.msg);
		return -1;
	}
	if (sut_rollout_lock(a->dir, r->ro.id, &err) < 0) {
		cli_error("%s", err.msg);
		return -1;
	}
	const struct sut_rollout *ro = &r->ro;
	cli_info("rollout %s: %zu process%s in %zu wave%s (state in %s/%s.json)", ro->id,
		 ro->nprocs, ro->nprocs == 1 ? "" : "es", ro->nwaves, ro->nwaves == 1 ? "" : "s",
		 a->dir, ro->id);
	return 0;
}

/* "id1,id2,...": the patch ids, for the audit lines. */
static char *join_ids(struct sut_patch *const *patches, size_t np)
{
	struct sut_buf b = {0};
	for (size_t i = 0; i < np; i++) {
		if (i)
			sut_buf_append(&b, ",", 1);
		sut_buf_append(&b, patches[i]->id, strlen(patches[i]->id));
	}
	sut_buf_append(&b, "", 1);
	return (char *)b.data;
}

/* Runs (or, for --abort, takes back) the rollout in r and reports it; the exit status. */
static int run_rollout(const struct args *a, struct run *r)
{
	struct sut_err err;
	struct sut_rollout *ro = &r->ro;
	r->ids = join_ids(r->patches, r->np);
	struct sut_patch_set known = {.v = r->patches, .n = r->np};
	struct ctx x = {.signers = r->signers, .dry_run = ro->dry_run, .json = a->json,
			.ids = r->ids};
	struct sut_multi_hooks th = {.ctx = &x, .start = txn_start, .done = txn_done};
	struct sut_rollout_hooks h = {.ctx = &x, .txn = &th, .stop = stop_cb, .event = event_cb,
				      .known = &known, .timeout_ms = a->timeout};
	int rc;
	if (a->abort_id)
		rc = sut_rollout_rollback(ro, "aborted by the operator", "aborted", &h, &err);
	else
		rc = sut_rollout_run(ro, r->patches, r->np, &h, &err);
	if (rc < 0)
		cli_error("%s", err.msg);
	if (rc == SUT_RO_INTERRUPTED) {
		const char *sig = sigabbrev_np(cli_stop_signal());
		cli_info("rollout %s: stopped by SIG%s; continue with `suture rollout --resume %s`"
			 " or undo with `suture rollout --abort %s`",
			 ro->id, sig ? sig : "?", ro->id, ro->id);
	}
	print_report(ro, a->json);
	return exit_of(rc, ro);
}

static void args_free(struct args *a)
{
	free(a->select);
	free(a->keys.v);
}

/* Phases: the command line; --list on its own; otherwise open (resume/abort) or plan (new)
 * the rollout, then run it. One cleanup for every way out. */
int cmd_rollout(int argc, char **argv)
{
	struct args a;
	struct run r = {0};
	bool done;
	int ex = parse_args(argc, argv, &a, &done);
	if (done)
		goto out;
	if (a.list) {
		ex = list_rollouts(&a);
		goto out;
	}
	int rc = a.resume || a.abort_id
			 ? open_existing(&a, &r)
			 : plan_new(&a, argv + optind, (size_t)(argc - optind), &r);
	ex = rc < 0 ? 1 : rc > 0 ? 0 : run_rollout(&a, &r);
out:
	run_free(&r);
	args_free(&a);
	return ex;
}
