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

int cmd_rollout(int argc, char **argv)
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
	const char *waves = NULL, *health = NULL, *resume = NULL, *abort_id = NULL;
	const char *dir = SUT_ROLLOUT_DIR;
	long soak_ms = 10000;
	pid_t *select = NULL, canary = 0;
	size_t nselect = 0;
	bool dry = false, json = false, list = false;
	int timeout = 5000, c;
	struct cli_keys keys = {0};
	optind = 1;
	while ((c = getopt_long(argc, argv, "w:H:s:nt:k:L:h", opts, NULL)) != -1) {
		switch (c) {
		case 'w': waves = optarg; break;
		case 'H': health = optarg; break;
		case 's':
			if ((soak_ms = sut_parse_duration_ms(optarg)) < 0) {
				cli_error("--soak: '%s' is not a duration (500ms, 30s, 2m)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'S':
			if (parse_pids(optarg, &select, &nselect) < 0) {
				cli_error("--select: expected PID,PID,...");
				return EXIT_USAGE;
			}
			break;
		case 'C':
			if ((canary = cli_parse_pid(optarg)) < 0)
				return EXIT_USAGE;
			break;
		case 'n': dry = true; break;
		case 'j': json = true; break;
		case 'R': resume = optarg; break;
		case 'A': abort_id = optarg; break;
		case 'l': list = true; break;
		case 'D': dir = optarg; break;
		case 't':
			if ((timeout = cli_parse_timeout(optarg)) < 0)
				return EXIT_USAGE;
			break;
		case 'k': cli_keys_add(&keys, optarg); break;
		case 'L': cli_audit_set_path(optarg); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	int modes = !!resume + !!abort_id + list + (optind < argc);
	if (modes != 1 || (nselect && canary)) {
		cli_error(modes != 1 ? "give patch files, or one of --resume, --abort, --list"
				     : "--select and --canary exclude each other");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	struct sut_err err;
	if (list) {
		char **ids;
		size_t n;
		if (sut_rollout_list(dir, &ids, &n, &err) < 0) {
			cli_error("%s", err.msg);
			return 1;
		}
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			struct sut_rollout ro;
			if (sut_rollout_load(dir, ids[i], &ro, &err) < 0) {
				cli_error("%s", err.msg);
			} else {
				size_t healthy = 0;
				for (size_t w = 0; w < ro.nwaves; w++)
					healthy += !strcmp(ro.waves[w].state, "healthy");
				if (json)
					json_array_append_new(
						arr, json_pack("{s:s,s:s,s:s,s:b,s:i,s:i}", "id", ro.id,
							       "state", ro.state, "updated", ro.updated,
							       "dry_run", ro.dry_run, "waves",
							       (int)ro.nwaves, "healthy", (int)healthy));
				else
					printf("%-28s %-16s %s  %zu/%zu waves healthy%s\n", ro.id,
					       ro.state, ro.updated, healthy, ro.nwaves,
					       ro.dry_run ? " (dry run)" : "");
				sut_rollout_free(&ro);
			}
			free(ids[i]);
		}
		free(ids);
		if (json) {
			char *s = json_dumps(arr, JSON_INDENT(2));
			puts(s);
			free(s);
		}
		json_decref(arr);
		return 0;
	}

	struct sut_rollout ro;
	size_t np;
	struct sut_patch **patches;
	char (*signers)[80];
	if (resume || abort_id) {
		const char *id = resume ? resume : abort_id;
		if (sut_rollout_lock(dir, id, &err) < 0 || sut_rollout_load(dir, id, &ro, &err) < 0) {
			cli_error("%s", err.msg);
			return 1;
		}
		if (resume && strcmp(ro.state, "running") && strcmp(ro.state, "interrupted")) {
			cli_error("rollout %s is %s: only a running or interrupted rollout resumes",
				  id, ro.state);
			sut_rollout_free(&ro);
			return 1;
		}
		if (abort_id && (!strcmp(ro.state, "aborted") || !strcmp(ro.state, "rolled-back"))) {
			cli_info("rollout %s is %s already: nothing to undo", id, ro.state);
			print_report(&ro, json);
			sut_rollout_free(&ro);
			return 0;
		}
		np = ro.npatches;
		patches = sut_xcalloc(np + 1, sizeof *patches);
		signers = sut_xcalloc(np + 1, sizeof *signers);
		char **files = sut_xcalloc(np + 1, sizeof *files);
		const char **want = sut_xcalloc(np + 1, sizeof *want);
		for (size_t i = 0; i < np; i++) {
			files[i] = ro.patches[i].file;
			want[i] = ro.patches[i].id;
		}
		int lrc = load_patches(files, np, &keys, patches, signers, want);
		free(files);
		free(want);
		if (lrc < 0) {
			cli_error("rollout %s: its patch files must be readable and trusted to %s it",
				  id, resume ? "resume" : "abort");
			for (size_t i = 0; i < np; i++)
				sut_patch_free(patches[i]);
			free(patches);
			free(signers);
			sut_rollout_free(&ro);
			return 1;
		}
	} else {
		np = (size_t)(argc - optind);
		patches = sut_xcalloc(np, sizeof *patches);
		signers = sut_xcalloc(np, sizeof *signers);
		if (load_patches(argv + optind, np, &keys, patches, signers, NULL) < 0) {
			for (size_t i = 0; i < np; i++)
				sut_patch_free(patches[i]);
			free(patches);
			free(signers);
			return 1;
		}
		const char **sg = sut_xcalloc(np, sizeof *sg);
		for (size_t i = 0; i < np; i++)
			sg[i] = signers[i];
		struct sut_rollout_params prm = {
			.state_dir = dir, .waves_spec = waves, .health_cmd = health,
			.soak_ms = soak_ms, .dry_run = dry, .select = select, .nselect = nselect,
			.canary = canary, .files = (const char *const *)(argv + optind),
			.signers = sg};
		int prc = sut_rollout_plan(&ro, patches, np, &prm, &err);
		free(sg);
		if (prc < 0) {
			cli_error("rollout: %s", err.msg);
			for (size_t i = 0; i < np; i++)
				sut_patch_free(patches[i]);
			free(patches);
			free(signers);
			free(select);
			return 1;
		}
		if (sut_rollout_lock(dir, ro.id, &err) < 0) {
			cli_error("%s", err.msg);
			sut_rollout_free(&ro);
			for (size_t i = 0; i < np; i++)
				sut_patch_free(patches[i]);
			free(patches);
			free(signers);
			free(select);
			return 1;
		}
		cli_info("rollout %s: %zu process%s in %zu wave%s (state in %s/%s.json)", ro.id,
			 ro.nprocs, ro.nprocs == 1 ? "" : "es", ro.nwaves, ro.nwaves == 1 ? "" : "s",
			 dir, ro.id);
	}
	struct sut_buf idb = {0};
	for (size_t i = 0; i < np; i++) {
		if (i)
			sut_buf_append(&idb, ",", 1);
		sut_buf_append(&idb, patches[i]->id, strlen(patches[i]->id));
	}
	sut_buf_append(&idb, "", 1);
	struct sut_patch_set known = {.v = patches, .n = np};
	struct ctx x = {.signers = signers, .dry_run = ro.dry_run, .json = json,
			.ids = (char *)idb.data};
	struct sut_multi_hooks th = {.ctx = &x, .start = txn_start, .done = txn_done};
	struct sut_rollout_hooks h = {.ctx = &x, .txn = &th, .stop = stop_cb, .event = event_cb,
				      .known = &known, .timeout_ms = timeout};
	int rc;
	if (abort_id)
		rc = sut_rollout_rollback(&ro, "aborted by the operator", "aborted", &h, &err);
	else
		rc = sut_rollout_run(&ro, patches, np, &h, &err);
	if (rc < 0)
		cli_error("%s", err.msg);
	if (rc == SUT_RO_INTERRUPTED) {
		const char *sig = sigabbrev_np(cli_stop_signal());
		cli_info("rollout %s: stopped by SIG%s; continue with `suture rollout --resume %s`"
			 " or undo with `suture rollout --abort %s`",
			 ro.id, sig ? sig : "?", ro.id, ro.id);
	}
	print_report(&ro, json);
	int ex = exit_of(rc, &ro);
	for (size_t i = 0; i < np; i++)
		sut_patch_free(patches[i]);
	free(patches);
	free(signers);
	free(idb.data);
	free(select);
	sut_rollout_free(&ro);
	return ex;
}
