/* SPDX-License-Identifier: Apache-2.0 */
/* suture exposure: which running processes are exposed to the CVEs a patch fixes.
 *
 * A process is exposed when it maps the exact build the patch is for (by build-id, so
 * containers and renamed files count) and the patch is not applied in it; patched when the
 * patch is applied. Processes mapping another build of the library are not listed: this
 * patch says nothing about them. Read-only: no process is stopped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/registry.h"
#include "cli/cli.h"
#include "cli/json.h"
#include "patch/patch.h"
#include "proc/proc.h"
#include "util/buf.h"

static const char usage[] =
	"usage: suture exposure PATCH... [--json]\n"
	"\n"
	"For each patch file, lists every running process that maps the exact build the patch\n"
	"is for (GNU build-id) and says whether it is still exposed (the patch is not applied)\n"
	"or patched, with the patch's CVEs. Nothing is stopped or changed.\n"
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
	bool applied;
};

/* Processes mapping p's build-id, each with whether p is applied there. */
static size_t scan(const struct sut_patch *p, struct hit **out)
{
	pid_t *all = NULL;
	size_t n = 0, nh = 0;
	struct sut_err err;
	*out = NULL;
	if (sut_proc_list(&all, &n, &err) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (all[i] == getpid())
			continue;
		struct sut_maps m;
		if (sut_proc_maps(all[i], &m, &err) < 0)
			continue;
		struct sut_objects objs;
		if (sut_proc_objects(all[i], &m, &objs, &err) == 0) {
			const struct sut_object *o =
				sut_objects_find_build_id(&objs, p->build_id, p->build_id_len);
			if (o) {
				bool applied = sut_registry_has(all[i], &m, p->id);
				*out = sut_xrealloc(*out, (nh + 1) * sizeof **out);
				struct hit *h = &(*out)[nh++];
				h->pid = all[i];
				sut_proc_comm(all[i], h->comm, sizeof h->comm);
				h->path = sut_xstrdup(o->path);
				h->applied = applied;
			}
			sut_proc_objects_free(&objs);
		}
		sut_proc_maps_free(&m);
	}
	free(all);
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
				json_obj_end(&j);
			}
			json_arr_end(&j);
			json_obj_end(&j);
		} else {
			printf("%s (%s, build-id %s)", p->id, p->target_name ? p->target_name : "?", hex);
			for (size_t i = 0; i < p->ncves; i++)
				printf("%s%s", i ? ", " : "  ", p->cves[i]);
			printf("\n  %zu process%s map this build: %zu exposed, %zu patched\n", n,
			       n == 1 ? "" : "es", exposed, n - exposed);
			for (size_t i = 0; i < n; i++)
				printf("  %-8s pid %-7d %-16s %s\n", h[i].applied ? "patched" : "EXPOSED",
				       (int)h[i].pid, h[i].comm, h[i].path);
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
