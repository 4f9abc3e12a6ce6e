/* SPDX-License-Identifier: Apache-2.0 */
/* suture inspect: what a patch file holds, without touching any process. */
#include <getopt.h> /* optind */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "cli/trust.h"
#include "distro/distro.h"
#include "elf/elf.h"
#include "patch/patch.h"
#include "util/buf.h"

static const char usage[] =
	"usage: suture inspect PATCH [--json]\n"
	"\n"
	"Reads and validates a patch file and shows: its id and version, the target object's\n"
	"name and GNU build-id, the consistency rule, CVEs and description, every function it\n"
	"replaces (name, source file for a static function, address in the target, original\n"
	"size, replacement size, and why it is replaced: changed, or containing an inlined\n"
	"changed function), the new symbols it adds, and its signature (key id, and whether\n"
	"that key is trusted here). A corrupt file is reported with what is wrong in it. With\n"
	"--debian patches, the source and binary package the patch is for. Where debug\n"
	"information for the target's build-id exists (/usr/lib/debug/.build-id/, or a\n"
	"debuginfod server in DEBUGINFOD_URLS), each replaced function is named from it too and\n"
	"the patch's addresses are checked against it.\n"
	"\n"
	"Options:\n"
	"  -j, --json     one JSON document on standard output\n"
	"  -h, --help     this text\n";

static const char *kind_name(enum sut_sym_kind k)
{
	switch (k) {
	case SUT_SYM_LOCAL: return "patch";
	case SUT_SYM_TARGET: return "target";
	case SUT_SYM_TARGET_GOT: return "target-got";
	case SUT_SYM_EXTERN: return "extern";
	}
	return "?";
}

/* Symbols the patch defines that are not replacements: new functions and data. */
static bool is_replacement(const struct sut_patch *p, size_t si)
{
	for (size_t i = 0; i < p->nfuncs; i++)
		if (p->funcs[i].replacement == si)
			return true;
	return false;
}

int cmd_inspect(int argc, char **argv)
{
	bool json;
	int opt = cli_json_options(argc, argv, usage, &json);
	if (opt != 0)
		return opt > 0 ? 0 : EXIT_USAGE;
	if (argc - optind != 1) {
		cli_error("inspect takes one patch file");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *path = argv[optind];
	struct sut_patch *p;
	struct sut_err err;
	if (sut_patch_read_file(path, &p, &err) < 0) {
		cli_error("%s", err.msg); /* the reader names the file */
		return 1;
	}
	char hex[2 * SUT_BUILD_ID_MAX + 1];
	sut_hex(p->build_id, p->build_id_len, hex);
	char signer[32] = "";
	struct sut_err verr;
	struct cli_trust ts;
	cli_trust_load(&ts, NULL, 0);
	cli_trust_print_warnings(&ts);
	bool trusted = cli_trust_check(&ts, p, signer, &verr) == 0;
	cli_trust_free(&ts);
	const char *cons = p->consistency == SUT_CONS_PER_CALL ? "per-call" : "strict";
	/* debug information for the target, where it exists: names and a cross-check */
	char *dpath = NULL;
	struct sut_elf *de = NULL;
	size_t confirmed = 0;
	struct sut_err derr;
	const char *dproblem = NULL;
	int drc = sut_distro_find_debuginfo(hex, &dpath, &derr);
	if (drc < 0)
		dproblem = derr.msg;
	if (drc == 0 && sut_distro_debug_check(p, dpath, &confirmed, &derr) < 0)
		dproblem = derr.msg;
	struct sut_err oerr;
	if (drc == 0 && sut_elf_open(dpath, &de, &oerr) < 0)
		de = NULL;
	if (json) {
		struct json j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_str(&j, "id", p->id);
		json_uint(&j, "version", p->version);
		json_uint(&j, "format", p->format);
		json_str(&j, "target", p->target_name);
		json_str(&j, "build_id", hex);
		if (p->pkg_source) {
			json_obj_begin(&j, "package");
			json_str(&j, "source", p->pkg_source);
			json_str(&j, "version", p->pkg_version);
			json_str(&j, "binary", p->pkg_binary);
			json_obj_end(&j);
		}
		json_str(&j, "consistency", cons);
		json_str(&j, "description", p->description);
		json_arr_begin(&j, "cves");
		for (size_t i = 0; i < p->ncves; i++)
			json_str(&j, NULL, p->cves[i]);
		json_arr_end(&j);
		json_arr_begin(&j, "functions");
		for (size_t i = 0; i < p->nfuncs; i++) {
			const struct sut_patch_func *f = &p->funcs[i];
			json_obj_begin(&j, NULL);
			json_str(&j, "name", f->name);
			json_str(&j, "file", f->file);
			json_hex(&j, "target_addr", f->target_addr);
			json_uint(&j, "size", f->target_size);
			json_uint(&j, "replacement_size", p->symbols[f->replacement].size);
			json_str(&j, "reason", f->reason ? f->reason : "changed");
			const struct sut_sym *ds = de ? sut_elf_sym_at(de, f->target_addr) : NULL;
			if (ds && ds->value == f->target_addr)
				json_str(&j, "debug_name", ds->name);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		if (dpath || dproblem) {
			json_obj_begin(&j, "debuginfo");
			json_str(&j, "path", dpath);
			json_uint(&j, "confirmed", confirmed);
			json_bool(&j, "agrees", dproblem == NULL);
			if (dproblem)
				json_str(&j, "problem", dproblem);
			json_obj_end(&j);
		}
		json_arr_begin(&j, "new_symbols");
		for (size_t i = 0; i < p->nsymbols; i++) {
			const struct sut_patch_symbol *s = &p->symbols[i];
			if (s->kind != SUT_SYM_LOCAL || is_replacement(p, i) || !s->name[0])
				continue;
			json_obj_begin(&j, NULL);
			json_str(&j, "name", s->name);
			json_str(&j, "type", s->is_func ? "function" : "object");
			json_uint(&j, "size", s->size);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_arr_begin(&j, "bindings");
		for (size_t i = 0; i < p->nsymbols; i++) {
			const struct sut_patch_symbol *s = &p->symbols[i];
			if (s->kind == SUT_SYM_LOCAL)
				continue;
			json_obj_begin(&j, NULL);
			json_str(&j, "name", s->name);
			json_str(&j, "kind", kind_name(s->kind));
			if (s->kind != SUT_SYM_EXTERN)
				json_hex(&j, "value", s->value);
			if (s->version)
				json_str(&j, "version", s->version);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_obj_begin(&j, "signature");
		json_bool(&j, "signed", p->sig_len > 0);
		json_str(&j, "key_id", p->sig_key_id);
		json_bool(&j, "trusted", trusted);
		if (!trusted)
			json_str(&j, "problem", verr.msg);
		json_obj_end(&j);
		json_obj_end(&j);
		json_end(&j);
	} else {
		printf("patch        %s v%u (format %u)\n", p->id, p->version, p->format);
		printf("target       %s  build-id %s\n", p->target_name ? p->target_name : "?", hex);
		if (p->pkg_source)
			printf("package      %s %s (source), binary package %s\n", p->pkg_source,
			       p->pkg_version ? p->pkg_version : "?", p->pkg_binary ? p->pkg_binary : "?");
		printf("consistency  %s\n", cons);
		printf("cves         ");
		for (size_t i = 0; i < p->ncves; i++)
			printf("%s%s", i ? ", " : "", p->cves[i]);
		printf("%s\n", p->ncves ? "" : "none");
		printf("description  %s\n", p->description ? p->description : "");
		printf("signature    %s\n", p->sig_len == 0 ? "none (unsigned)"
				      : trusted ? "valid, trusted key" : "NOT TRUSTED here");
		if (p->sig_len)
			printf("signer key   %s\n", p->sig_key_id);
		if (!trusted && p->sig_len)
			printf("             %s\n", verr.msg);
		if (dproblem)
			printf("debug info   %s: %s\n", dpath ? dpath : "lookup failed", dproblem);
		else if (dpath)
			printf("debug info   %s (confirms %zu address%s)\n", dpath, confirmed,
			       confirmed == 1 ? "" : "es");
		printf("replaces %zu function%s:\n", p->nfuncs, p->nfuncs == 1 ? "" : "s");
		for (size_t i = 0; i < p->nfuncs; i++) {
			const struct sut_patch_func *f = &p->funcs[i];
			printf("  %-32s %-20s 0x%-8llx %5llu -> %5llu bytes  %s\n", f->name,
			       f->file ? f->file : "(global)", (unsigned long long)f->target_addr,
			       (unsigned long long)f->target_size,
			       (unsigned long long)p->symbols[f->replacement].size,
			       f->reason ? f->reason : "changed");
			const struct sut_sym *ds = de ? sut_elf_sym_at(de, f->target_addr) : NULL;
			if (ds && ds->value == f->target_addr)
				printf("  %-32s debug info names it %s%s%s\n", "", ds->name,
				       ds->file && ds->file[0] ? " in " : "", ds->file ? ds->file : "");
		}
		size_t nnew = 0;
		for (size_t i = 0; i < p->nsymbols; i++) {
			const struct sut_patch_symbol *s = &p->symbols[i];
			if (s->kind != SUT_SYM_LOCAL || is_replacement(p, i) || !s->name[0])
				continue;
			if (!nnew++)
				printf("new symbols:\n");
			printf("  %-32s %s, %llu bytes\n", s->name, s->is_func ? "function" : "object",
			       (unsigned long long)s->size);
		}
	}
	if (de)
		sut_elf_close(de);
	free(dpath);
	sut_patch_free(p);
	return 0;
}
