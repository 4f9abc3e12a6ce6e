/* SPDX-License-Identifier: Apache-2.0 */
/* suture exposure: which running processes are exposed to the CVEs a patch fixes.
 *
 * A process is exposed when it maps the exact build the patch is for (by build-id, so
 * containers and renamed files count) and the patch is not applied in it; patched when the
 * patch is applied and its record is true now (a stale record, a corrupt registry: still
 * exposed, and the reason is shown). Processes mapping another build of the library are
 * not listed: this patch says nothing about them. Read-only: no process is stopped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/apply.h"
#include "cli/cli.h"
#include "cli/escape.h"
#include "cli/json.h"
#include "patch/patch.h"
#include "util/buf.h"

static const char usage[] =
	"usage: suture exposure PATCH... [--json]\n"
	"\n"
	"For each patch file, lists every running process that maps the exact build the patch\n"
	"is for (GNU build-id) and says whether it is still exposed (the patch is not applied)\n"
	"or patched, with the patch's CVEs. Nothing is stopped or changed.\n"
	"\n"
	"A process counts as patched only when its own record of the patch is true now: the\n"
	"library mapped where it was patched and every function still jumping to the new\n"
	"code. A library unloaded and loaded again runs the old code, so its process is\n"
	"listed as exposed with the reason, as is one whose registry fails validation.\n"
	"\n"
	"Exit status: 0 when no listed process is exposed, 1 when at least one is (so a script\n"
	"can gate a rollout on it), 2 for a wrong command line.\n"
	"\n"
	"Options:\n"
	"  -j, --json   one JSON document on standard output\n"
	"  -h, --help   this text\n";

struct hit {
	pid_t pid;
	char comm[64];
	char *path;
	bool applied;     /* the patch is applied and true now */
	char why[SUT_ERR_MAX]; /* when exposed although a record says otherwise */
};

/* Processes mapping p's build-id, each with whether p is live there. A registry that
 * is corrupt, or a record that is stale, leaves the process exposed, with the reason. */
static size_t scan(const struct sut_patch *p, struct hit **out)
{
	struct sut_found_process *found;
	size_t n = 0, nh = 0;
	struct sut_err err;
	*out = NULL;
	if (sut_discover_processes(SUT_DISCOVER_MAPPING, p->build_id, p->build_id_len, &found, &n,
				   &err) < 0)
		return 0;
	*out = sut_xcalloc(n ? n : 1, sizeof **out);
	for (size_t i = 0; i < n; i++) {
		/* the status as the scan read the process: nothing is read twice */
		const struct sut_status *st = sut_process_view_status(found[i].view);
		struct hit *h = &(*out)[nh++];
		h->pid = found[i].pid;
		snprintf(h->comm, sizeof h->comm, "%s", st->comm);
		h->path = sut_xstrdup(found[i].path);
		const struct sut_status_patch *sp = sut_status_find(st, p->id);
		h->applied = sp && sp->live;
		if (st->corrupt)
			snprintf(h->why, sizeof h->why, "%s", st->corrupt_why);
		else if (sp && !sp->live)
			snprintf(h->why, sizeof h->why, "stale record of %s: %s", p->id,
				 sp->stale_why);
	}
	sut_found_processes_free(found, n);
	return nh;
}

int cmd_exposure(int argc, char **argv)
{
	bool json;
	int opt = cli_json_options(argc, argv, usage, &json);
	if (opt != 0)
		return opt > 0 ? 0 : EXIT_USAGE;
	if (optind >= argc) {
		cli_error("exposure takes one or more patch files");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	struct json j;
	json_init(&j, stdout);
	if (json) {
		json_obj_begin(&j, NULL);
		json_arr_begin(&j, "patches");
	}
	int rc = 0;
	for (int a = optind; a < argc; a++) {
		struct sut_patch *p;
		struct sut_err err;
		if (sut_patch_read_file(argv[a], &p, &err) < 0) {
			cli_error("%s", err.msg);
			rc = rc ? rc : 1;
			continue;
		}
		struct hit *h;
		size_t n = scan(p, &h), exposed = 0;
		char hex[2 * SUT_BUILD_ID_MAX + 1];
		sut_hex(p->build_id, p->build_id_len, hex);
		for (size_t i = 0; i < n; i++)
			exposed += !h[i].applied;
		if (json) {
			json_obj_begin(&j, NULL);
			json_str(&j, "patch", p->id);
			json_str(&j, "target", p->target_name);
			json_str(&j, "build_id", hex);
			json_arr_begin(&j, "cves");
			for (size_t i = 0; i < p->ncves; i++)
				json_str(&j, NULL, p->cves[i]);
			json_arr_end(&j);
			json_uint(&j, "exposed", exposed);
			json_uint(&j, "patched", n - exposed);
			json_arr_begin(&j, "processes");
			for (size_t i = 0; i < n; i++) {
				json_obj_begin(&j, NULL);
				json_int(&j, "pid", h[i].pid);
				json_str(&j, "comm", h[i].comm);
				json_str(&j, "path", h[i].path);
				json_str(&j, "state", h[i].applied ? "patched" : "exposed");
				if (h[i].why[0])
					json_str(&j, "reason", h[i].why);
				json_obj_end(&j);
			}
			json_arr_end(&j);
			json_obj_end(&j);
		} else {
			char tname[CLI_ESC_SIZE(256)], comm[CLI_ESC_SIZE(sizeof h->comm)];
			char path[CLI_ESC_SIZE(4096)], why[CLI_ESC_SIZE(SUT_ERR_MAX)];
			printf("%s (%s, build-id %s)", p->id,
			       cli_esc(p->target_name ? p->target_name : "?", tname, sizeof tname),
			       hex);
			for (size_t i = 0; i < p->ncves; i++)
				printf("%s%s", i ? ", " : "  ", p->cves[i]);
			printf("\n  %zu process%s map this build: %zu exposed, %zu patched\n", n,
			       n == 1 ? "" : "es", exposed, n - exposed);
			for (size_t i = 0; i < n; i++) {
				printf("  %-8s pid %-7d %-16s %s\n", h[i].applied ? "patched" : "EXPOSED",
				       (int)h[i].pid, cli_esc(h[i].comm, comm, sizeof comm),
				       cli_esc(h[i].path, path, sizeof path));
				if (h[i].why[0])
					printf("           (%s)\n", cli_esc(h[i].why, why, sizeof why));
			}
		}
		if (exposed)
			rc = 1;
		for (size_t i = 0; i < n; i++)
			free(h[i].path);
		free(h);
		sut_patch_free(p);
	}
	if (json) {
		json_arr_end(&j);
		json_obj_end(&j);
		json_end(&j);
	}
	return rc;
}
