/* SPDX-License-Identifier: Apache-2.0 */
/* suture status: what is patched where, read from each process's own registry. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/apply.h"
#include "cli/cli.h"
#include "cli/debug_names.h"
#include "cli/escape.h"
#include "cli/json.h"
#include "cli/procs.h"
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
	"suture left unfinished is reported as such; status never repairs it (nothing is\n"
	"stopped or written: `suture repair`, apply and revert do).\n"
	"\n"
	"The registry is the process's own memory, so it is checked before it is believed:\n"
	"one that fails validation is shown as CORRUPT and not used, and each patch record\n"
	"is checked to be true now (the object mapped where it was patched, every entry\n"
	"still holding its jump). A record that is not, because the library was unloaded\n"
	"and loaded again or its code overwritten, is shown as STALE and the process as\n"
	"EXPOSED: it runs the old code. Text the process controls (its name, paths) is\n"
	"printed escaped.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID  a process to show (repeatable); a process without patches is\n"
	"                 listed with none\n"
	"  -j, --json     one JSON document on standard output\n"
	"  -h, --help     this text\n";

/* Names from debug information, where it exists for a patched object (cli/debug_names.h). */
static struct debug_names *dbgn;

/* Text a process controls, escaped for the terminal (cli/escape.h). */
#define ESC(s, buf) cli_esc((s), (buf), sizeof(buf))

static const char *txn_name(enum sut_status_txn t)
{
	return t == SUT_STATUS_TXN_INTERRUPTED_APPLY	? "interrupted-apply"
	       : t == SUT_STATUS_TXN_INTERRUPTED_REVERT ? "interrupted-revert"
							: "none";
}

static void print_human(const struct sut_status *st)
{
	char label[CLI_PROC_LABEL_SIZE], path[CLI_ESC_SIZE(4096)];
	char why[CLI_ESC_SIZE(SUT_ERR_MAX)], name[CLI_ESC_SIZE(96)];
	printf("%s%s\n", cli_proc_label(st->pid, st->comm, label, sizeof label),
	       st->exposed ? "  EXPOSED" : "");
	if (st->corrupt) {
		printf("  CORRUPT registry, not used (nothing it says is believed): %s\n",
		       ESC(st->corrupt_why, why));
		return;
	}
	if (st->nobjects == 0)
		printf("  no patches\n");
	if (st->txn)
		printf("  WARNING: interrupted %s transaction left by suture pid %u (repaired by the "
		       "next apply or revert, or by `suture repair -p %d`)\n",
		       st->txn == SUT_STATUS_TXN_INTERRUPTED_APPLY ? "apply" : "revert",
		       st->txn_tool_pid, (int)st->pid);
	for (size_t i = 0; i < st->nobjects; i++) {
		const struct sut_status_object *o = &st->objects[i];
		char hex[2 * sizeof o->build_id + 1];
		sut_hex(o->build_id, o->build_id_len, hex);
		printf("  %s  build-id %s%s\n", ESC(o->path, path), hex,
		       o->mapped ? "" : "  (no longer mapped)");
		for (size_t k = 0; k < o->npatches; k++) {
			const struct sut_status_patch *p = &o->patches[k];
			char when[32];
			cli_time(p->applied_at, when, sizeof when);
			printf("    %s v%u  applied %s", p->id, p->version, when);
			for (size_t c = 0; c < p->ncves; c++)
				printf("%s%s", c ? "," : "  ", p->cves[c]);
			printf("\n");
			if (!p->live)
				printf("      STALE: %s: %s\n", ESC(p->stale_why, why),
				       o->mapped ? "the process runs the old code (exposed); the next "
						   "apply drops this record and applies again"
						 : "the next transaction drops this record");
			for (size_t f = 0; f < p->nfuncs; f++) {
				const struct sut_status_func *rf = &p->funcs[f];
				const char *dn = debug_name(dbgn, st->pid, o, rf->addr);
				printf("      %-32s 0x%llx -> 0x%llx%s%s%s\n", ESC(rf->name, name),
				       (unsigned long long)rf->addr, (unsigned long long)rf->repl,
				       rf->superseded ? "  (superseded by a newer patch)" : "",
				       dn ? "  debug info: " : "", dn ? dn : "");
			}
		}
	}
}

static void print_json(struct json *j, const struct sut_status *st)
{
	json_obj_begin(j, NULL);
	json_int(j, "pid", st->pid);
	json_str(j, "comm", st->comm);
	json_str(j, "transaction", txn_name(st->txn));
	json_bool(j, "corrupt", st->corrupt);
	if (st->corrupt)
		json_str(j, "corrupt_reason", st->corrupt_why);
	json_bool(j, "exposed", st->exposed);
	json_arr_begin(j, "objects");
	for (size_t i = 0; i < st->nobjects; i++) {
		const struct sut_status_object *o = &st->objects[i];
		char hex[2 * sizeof o->build_id + 1];
		sut_hex(o->build_id, o->build_id_len, hex);
		json_obj_begin(j, NULL);
		json_str(j, "path", o->path);
		json_str(j, "build_id", hex);
		json_bool(j, "mapped", o->mapped);
		json_arr_begin(j, "patches");
		for (size_t k = 0; k < o->npatches; k++) {
			const struct sut_status_patch *p = &o->patches[k];
			char when[32];
			cli_time(p->applied_at, when, sizeof when);
			json_obj_begin(j, NULL);
			json_str(j, "id", p->id);
			json_uint(j, "version", p->version);
			json_str(j, "applied_at", when);
			json_str(j, "consistency",
				 p->consistency == SUT_CONS_PER_CALL ? "per-call" : "strict");
			json_arr_begin(j, "cves");
			for (size_t c = 0; c < p->ncves; c++)
				json_str(j, NULL, p->cves[c]);
			json_arr_end(j);
			json_str(j, "state", p->live ? "live" : "stale");
			json_bool(j, "live", p->live);
			if (!p->live)
				json_str(j, "stale_reason", p->stale_why);
			json_hex(j, "region", p->region);
			json_uint(j, "region_size", p->region_size);
			json_arr_begin(j, "functions");
			for (size_t f = 0; f < p->nfuncs; f++) {
				const struct sut_status_func *rf = &p->funcs[f];
				json_obj_begin(j, NULL);
				json_str(j, "name", rf->name);
				json_hex(j, "address", rf->addr);
				json_uint(j, "size", rf->size);
				json_hex(j, "replacement", rf->repl);
				const char *dn = debug_name(dbgn, st->pid, o, rf->addr);
				if (dn)
					json_str(j, "debug_name", dn);
				/* the function runs this patch's code now */
				json_bool(j, "live", p->live && !rf->superseded);
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
		case 'p':
			if (cli_pid_arg(&pids, optarg) < 0)
				return EXIT_USAGE;
			explicit = true;
			break;
		case 'j': json = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!explicit && cli_pids_discover(&pids, SUT_DISCOVER_WITH_REGISTRY) < 0)
		return 1;
	struct json j;
	json_init(&j, stdout);
	if (json) {
		json_obj_begin(&j, NULL);
		json_arr_begin(&j, "processes");
	}
	int rc = 0;
	dbgn = debug_names_new();
	for (size_t i = 0; i < pids.n; i++) {
		struct sut_status st;
		struct sut_err err;
		if (sut_status_read(pids.v[i], &st, &err) < 0) {
			/* a process that exited between listing and reading is not an error
			 * unless the user named it */
			if (explicit) {
				cli_error("%s", err.msg);
				rc = 1;
			}
			continue;
		}
		if (json)
			print_json(&j, &st);
		else
			print_human(&st);
		sut_status_free(&st);
	}
	if (json) {
		json_arr_end(&j);
		json_obj_end(&j);
		json_end(&j);
	} else if (pids.n == 0) {
		printf("no process carries suture patches\n");
	}
	pidlist_free(&pids);
	debug_names_free(dbgn);
	dbgn = NULL;
	return rc;
}
