/* SPDX-License-Identifier: Apache-2.0 */
/* suture status: what is patched where, read from each process's own registry. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/apply.h"
#include "apply/registry.h"
#include "cli/audit.h"
#include "cli/cli.h"
#include "cli/json.h"
#include "proc/proc.h"
#include "util/buf.h"

static const char usage[] =
	"usage: suture status [-p PID]... [--json]\n"
	"\n"
	"Shows, for each process, the objects that carry live patches: the object's path and\n"
	"build-id, and for each patch its id, version, CVEs, when it was applied and the\n"
	"functions it redirects (original address -> replacement). The record is read from\n"
	"the process itself (a small mapping named suture-registry), so it is right even\n"
	"after suture restarts, and a forked child shows its inherited patches.\n"
	"\n"
	"Without -p, every process with a registry is shown. A transaction that a killed\n"
	"suture left unfinished is reported as such.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID  a process to show (repeatable); a process without patches is\n"
	"                 listed with none\n"
	"  -j, --json     one JSON document on standard output\n"
	"  -h, --help     this text\n";

struct proc_view {
	pid_t pid;
	char comm[64];
	struct sut_maps maps;
	struct sut_objects objs;
	struct sut_registry reg;
	bool found;
};

static const char *object_path(const struct proc_view *v, const struct sut_reg_patch *p)
{
	const struct sut_object *o =
		sut_objects_find_build_id(&v->objs, p->build_id, p->build_id_len);
	return o ? o->path : p->target;
}

/* Records grouped by build-id: the first record index of each distinct object. */
static bool first_of_object(const struct sut_registry *reg, size_t i)
{
	const struct sut_reg_patch *p = sut_registry_patch(reg, i);
	for (size_t k = 0; k < i; k++) {
		const struct sut_reg_patch *q = sut_registry_patch(reg, k);
		if (q->build_id_len == p->build_id_len &&
		    !memcmp(q->build_id, p->build_id, p->build_id_len))
			return false;
	}
	return true;
}

static bool same_object(const struct sut_reg_patch *a, const struct sut_reg_patch *b)
{
	return a->build_id_len == b->build_id_len &&
	       !memcmp(a->build_id, b->build_id, a->build_id_len);
}

static void print_human(const struct proc_view *v)
{
	printf("pid %d (%s)\n", (int)v->pid, v->comm);
	if (!v->found || v->reg.hdr.npatches == 0) {
		printf("  no patches\n");
	}
	if (v->found && v->reg.hdr.state != SUT_REG_IDLE)
		printf("  WARNING: interrupted %s transaction left by suture pid %u\n",
		       v->reg.hdr.state == SUT_REG_APPLYING ? "apply" : "revert", v->reg.hdr.tool_pid);
	if (!v->found)
		return;
	for (size_t i = 0; i < v->reg.hdr.npatches; i++) {
		if (!first_of_object(&v->reg, i))
			continue;
		const struct sut_reg_patch *p0 = sut_registry_patch(&v->reg, i);
		char hex[129];
		sut_hex(p0->build_id, p0->build_id_len, hex);
		printf("  %s  build-id %s\n", object_path(v, p0), hex);
		for (size_t k = i; k < v->reg.hdr.npatches; k++) {
			const struct sut_reg_patch *p = sut_registry_patch(&v->reg, k);
			if (!same_object(p, p0))
				continue;
			char when[32];
			cli_time(p->applied_at, when, sizeof when);
			printf("    %s v%u  applied %s%s%s\n", p->id, p->version, when,
			       p->cves[0] ? "  " : "", p->cves);
			for (uint32_t f = 0; f < p->nfuncs; f++) {
				const struct sut_reg_func *rf = &sut_reg_funcs(p)[f];
				bool live = sut_registry_owner(&v->reg, rf->addr, -1) == (long)k;
				printf("      %-32s 0x%llx -> 0x%llx%s\n", rf->name,
				       (unsigned long long)rf->addr, (unsigned long long)rf->repl,
				       live ? "" : "  (superseded by a newer patch)");
			}
		}
	}
}

static void print_json(struct json *j, const struct proc_view *v)
{
	json_obj_begin(j, NULL);
	json_int(j, "pid", v->pid);
	json_str(j, "comm", v->comm);
	json_str(j, "transaction", !v->found || v->reg.hdr.state == SUT_REG_IDLE ? "none"
				   : v->reg.hdr.state == SUT_REG_APPLYING ? "interrupted-apply"
									  : "interrupted-revert");
	json_arr_begin(j, "objects");
	for (size_t i = 0; v->found && i < v->reg.hdr.npatches; i++) {
		if (!first_of_object(&v->reg, i))
			continue;
		const struct sut_reg_patch *p0 = sut_registry_patch(&v->reg, i);
		char hex[129];
		sut_hex(p0->build_id, p0->build_id_len, hex);
		json_obj_begin(j, NULL);
		json_str(j, "path", object_path(v, p0));
		json_str(j, "build_id", hex);
		json_arr_begin(j, "patches");
		for (size_t k = i; k < v->reg.hdr.npatches; k++) {
			const struct sut_reg_patch *p = sut_registry_patch(&v->reg, k);
			if (!same_object(p, p0))
				continue;
			char when[32];
			cli_time(p->applied_at, when, sizeof when);
			json_obj_begin(j, NULL);
			json_str(j, "id", p->id);
			json_uint(j, "version", p->version);
			json_str(j, "applied_at", when);
			json_str(j, "consistency", p->flags & 1 ? "per-call" : "strict");
			json_arr_begin(j, "cves");
			char cves[sizeof p->cves];
			memcpy(cves, p->cves, sizeof cves);
			cves[sizeof cves - 1] = 0;
			for (char *s = cves, *tok; (tok = strsep(&s, ",")) != NULL;)
				if (*tok)
					json_str(j, NULL, tok);
			json_arr_end(j);
			json_hex(j, "region", p->region);
			json_uint(j, "region_size", p->region_size);
			json_arr_begin(j, "functions");
			for (uint32_t f = 0; f < p->nfuncs; f++) {
				const struct sut_reg_func *rf = &sut_reg_funcs(p)[f];
				json_obj_begin(j, NULL);
				json_str(j, "name", rf->name);
				json_hex(j, "address", rf->addr);
				json_hex(j, "replacement", rf->repl);
				json_bool(j, "live", sut_registry_owner(&v->reg, rf->addr, -1) == (long)k);
				json_obj_end(j);
			}
			json_arr_end(j);
			json_obj_end(j);
		}
		json_arr_end(j);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static int load(pid_t pid, struct proc_view *v, struct sut_err *err)
{
	memset(v, 0, sizeof *v);
	v->pid = pid;
	if (!sut_proc_exists(pid))
		return sut_errf(err, "pid %d: no such process", (int)pid);
	sut_proc_comm(pid, v->comm, sizeof v->comm);
	if (sut_proc_maps(pid, &v->maps, err) < 0)
		return -1;
	if (sut_registry_read(pid, &v->maps, &v->reg, &v->found, err) < 0)
		return -1;
	/* invariant 6: a transaction a killed suture left behind is repaired by the next run */
	if (v->found && v->reg.hdr.state != SUT_REG_IDLE) {
		bool repaired;
		char note[256];
		struct sut_err rerr;
		if (sut_repair(pid, &repaired, note, sizeof note, &rerr) < 0) {
			cli_error("%s", rerr.msg);
		} else if (repaired) {
			cli_info("suture: pid %d: %s", (int)pid, note);
			struct sut_txn_result r = {.pid = pid, .repaired = true};
			snprintf(r.repair_note, sizeof r.repair_note, "%s", note);
			cli_audit("repair", &r, NULL, NULL);
			sut_registry_free(&v->reg);
			sut_proc_maps_free(&v->maps);
			if (sut_proc_maps(pid, &v->maps, err) < 0 ||
			    sut_registry_read(pid, &v->maps, &v->reg, &v->found, err) < 0)
				return -1;
		}
	}
	if (v->found && sut_proc_objects(pid, &v->maps, &v->objs, err) < 0)
		return -1;
	return 0;
}

static void unload(struct proc_view *v)
{
	sut_registry_free(&v->reg);
	sut_proc_objects_free(&v->objs);
	sut_proc_maps_free(&v->maps);
}

int cmd_status(int argc, char **argv)
{
	static const struct option lo[] = {{"pid", required_argument, 0, 'p'},
					   {"json", no_argument, 0, 'j'},
					   {"help", no_argument, 0, 'h'},
					   {0, 0, 0, 0}};
	struct pidlist pids = {0};
	bool json = false, explicit = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:jh", lo, NULL)) != -1) {
		switch (c) {
		case 'p': {
			pid_t p = cli_parse_pid(optarg);
			if (p < 0)
				return EXIT_USAGE;
			pidlist_add(&pids, p);
			explicit = true;
			break;
		}
		case 'j': json = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!explicit) {
		pid_t *all = NULL;
		size_t n = 0;
		struct sut_err err;
		if (sut_proc_list(&all, &n, &err) < 0) {
			cli_error("%s", err.msg);
			return 1;
		}
		for (size_t i = 0; i < n; i++) {
			struct sut_maps m;
			if (all[i] == getpid() || sut_proc_maps(all[i], &m, &err) < 0)
				continue;
			if (sut_maps_find_memfd(&m, SUT_REG_NAME))
				pidlist_add(&pids, all[i]);
			sut_proc_maps_free(&m);
		}
		free(all);
	}
	struct json j;
	json_init(&j, stdout);
	if (json) {
		json_obj_begin(&j, NULL);
		json_arr_begin(&j, "processes");
	}
	int rc = 0;
	for (size_t i = 0; i < pids.n; i++) {
		struct proc_view v;
		struct sut_err err;
		if (load(pids.v[i], &v, &err) < 0) {
			/* a process that exited between listing and reading is not an error
			 * unless the user named it */
			if (explicit) {
				cli_error("%s", err.msg);
				rc = 1;
			}
			unload(&v);
			continue;
		}
		if (json)
			print_json(&j, &v);
		else
			print_human(&v);
		unload(&v);
	}
	if (json) {
		json_arr_end(&j);
		json_obj_end(&j);
		json_end(&j);
	} else if (pids.n == 0) {
		printf("no process carries suture patches\n");
	}
	pidlist_free(&pids);
	return rc;
}
