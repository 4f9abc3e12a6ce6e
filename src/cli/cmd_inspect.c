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

/* What inspect found out about one patch file. */
struct inspection {
	struct sut_patch *p;
	char hex[2 * SUT_BUILD_ID_MAX + 1]; /* the target's build-id */
	bool trusted;                       /* signed by a key trusted here */
	struct sut_err verr;                /* why not, when not */
	char *dpath;                        /* debug information for the build-id, or NULL */
	struct sut_elf *de;                 /* ... opened, or NULL */
	size_t confirmed;                   /* addresses it confirms */
	struct sut_err derr;
	const char *dproblem;               /* what is wrong with it, or NULL */
};

/* The signature against the keys trusted here. */
static void check_signature(struct inspection *in)
{
	char signer[32] = "";
	struct cli_trust ts;
	cli_trust_load(&ts, NULL, 0);
	cli_trust_print_warnings(&ts);
	in->trusted = cli_trust_check(&ts, in->p, signer, &in->verr) == 0;
	cli_trust_free(&ts);
}

/* Debug information for the target, where it exists: names and a cross-check. */
static void look_for_debuginfo(struct inspection *in)
{
	int drc = sut_distro_find_debuginfo(in->hex, &in->dpath, &in->derr);
	if (drc < 0)
		in->dproblem = in->derr.msg;
	if (drc == 0 && sut_distro_debug_check(in->p, in->dpath, &in->confirmed, &in->derr) < 0)
		in->dproblem = in->derr.msg;
	struct sut_err oerr;
	if (drc == 0 && sut_elf_open(in->dpath, &in->de, &oerr) < 0)
		in->de = NULL;
}

/* The debug information's symbol starting at f's address, or NULL. */
static const struct sut_sym *debug_sym(const struct inspection *in, const struct sut_patch_func *f)
{
	const struct sut_sym *ds = in->de ? sut_elf_sym_at(in->de, f->target_addr) : NULL;
	return ds && ds->value == f->target_addr ? ds : NULL;
}

static const char *consistency_name(const struct sut_patch *p)
{
	return p->consistency == SUT_CONS_PER_CALL ? "per-call" : "strict";
}

static void json_functions(struct json *j, const struct inspection *in)
{
	const struct sut_patch *p = in->p;
	json_arr_begin(j, "functions");
	for (size_t i = 0; i < p->nfuncs; i++) {
		const struct sut_patch_func *f = &p->funcs[i];
		json_obj_begin(j, NULL);
		json_str(j, "name", f->name);
		json_str(j, "file", f->file);
		json_hex(j, "target_addr", f->target_addr);
		json_uint(j, "size", f->target_size);
		json_uint(j, "replacement_size", p->symbols[f->replacement].size);
		json_str(j, "reason", f->reason ? f->reason : "changed");
		const struct sut_sym *ds = debug_sym(in, f);
		if (ds)
			json_str(j, "debug_name", ds->name);
		json_obj_end(j);
	}
	json_arr_end(j);
}

/* new_symbols (what the patch adds) and bindings (what it refers to outside itself) */
static void json_symbols(struct json *j, const struct sut_patch *p)
{
	json_arr_begin(j, "new_symbols");
	for (size_t i = 0; i < p->nsymbols; i++) {
		const struct sut_patch_symbol *s = &p->symbols[i];
		if (s->kind != SUT_SYM_LOCAL || is_replacement(p, i) || !s->name[0])
			continue;
		json_obj_begin(j, NULL);
		json_str(j, "name", s->name);
		json_str(j, "type", s->is_func ? "function" : "object");
		json_uint(j, "size", s->size);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_arr_begin(j, "bindings");
	for (size_t i = 0; i < p->nsymbols; i++) {
		const struct sut_patch_symbol *s = &p->symbols[i];
		if (s->kind == SUT_SYM_LOCAL)
			continue;
		json_obj_begin(j, NULL);
		json_str(j, "name", s->name);
		json_str(j, "kind", kind_name(s->kind));
		if (s->kind != SUT_SYM_EXTERN)
			json_hex(j, "value", s->value);
		if (s->version)
			json_str(j, "version", s->version);
		json_obj_end(j);
	}
	json_arr_end(j);
}

static void print_json(const struct inspection *in)
{
	const struct sut_patch *p = in->p;
	struct json j;
	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_str(&j, "id", p->id);
	json_uint(&j, "version", p->version);
	json_uint(&j, "format", p->format);
	json_str(&j, "target", p->target_name);
	json_str(&j, "build_id", in->hex);
	if (p->pkg_source) {
		json_obj_begin(&j, "package");
		json_str(&j, "source", p->pkg_source);
		json_str(&j, "version", p->pkg_version);
		json_str(&j, "binary", p->pkg_binary);
		json_obj_end(&j);
	}
	json_str(&j, "consistency", consistency_name(p));
	json_str(&j, "description", p->description);
	json_arr_begin(&j, "cves");
	for (size_t i = 0; i < p->ncves; i++)
		json_str(&j, NULL, p->cves[i]);
	json_arr_end(&j);
	json_functions(&j, in);
	if (in->dpath || in->dproblem) {
		json_obj_begin(&j, "debuginfo");
		json_str(&j, "path", in->dpath);
		json_uint(&j, "confirmed", in->confirmed);
		json_bool(&j, "agrees", in->dproblem == NULL);
		if (in->dproblem)
			json_str(&j, "problem", in->dproblem);
		json_obj_end(&j);
	}
	json_symbols(&j, p);
	json_obj_begin(&j, "signature");
	json_bool(&j, "signed", p->sig_len > 0);
	json_str(&j, "key_id", p->sig_key_id);
	json_bool(&j, "trusted", in->trusted);
	if (!in->trusted)
		json_str(&j, "problem", in->verr.msg);
	json_obj_end(&j);
	json_obj_end(&j);
	json_end(&j);
}

/* The header lines: id, target, package, rule, CVEs, description, signature, debug info. */
static void print_text_header(const struct inspection *in)
{
	const struct sut_patch *p = in->p;
	printf("patch        %s v%u (format %u)\n", p->id, p->version, p->format);
	printf("target       %s  build-id %s\n", p->target_name ? p->target_name : "?", in->hex);
	if (p->pkg_source)
		printf("package      %s %s (source), binary package %s\n", p->pkg_source,
		       p->pkg_version ? p->pkg_version : "?", p->pkg_binary ? p->pkg_binary : "?");
	printf("consistency  %s\n", consistency_name(p));
	printf("cves         ");
	for (size_t i = 0; i < p->ncves; i++)
		printf("%s%s", i ? ", " : "", p->cves[i]);
	printf("%s\n", p->ncves ? "" : "none");
	printf("description  %s\n", p->description ? p->description : "");
	printf("signature    %s\n", p->sig_len == 0 ? "none (unsigned)"
			      : in->trusted ? "valid, trusted key" : "NOT TRUSTED here");
	if (p->sig_len)
		printf("signer key   %s\n", p->sig_key_id);
	if (!in->trusted && p->sig_len)
		printf("             %s\n", in->verr.msg);
	if (in->dproblem)
		printf("debug info   %s: %s\n", in->dpath ? in->dpath : "lookup failed", in->dproblem);
	else if (in->dpath)
		printf("debug info   %s (confirms %zu address%s)\n", in->dpath, in->confirmed,
		       in->confirmed == 1 ? "" : "es");
}

/* The replaced functions, then the new symbols. */
static void print_text_body(const struct inspection *in)
{
	const struct sut_patch *p = in->p;
	printf("replaces %zu function%s:\n", p->nfuncs, p->nfuncs == 1 ? "" : "s");
	for (size_t i = 0; i < p->nfuncs; i++) {
		const struct sut_patch_func *f = &p->funcs[i];
		printf("  %-32s %-20s 0x%-8llx %5llu -> %5llu bytes  %s\n", f->name,
		       f->file ? f->file : "(global)", (unsigned long long)f->target_addr,
		       (unsigned long long)f->target_size,
		       (unsigned long long)p->symbols[f->replacement].size,
		       f->reason ? f->reason : "changed");
		const struct sut_sym *ds = debug_sym(in, f);
		if (ds)
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
	struct inspection in = {0};
	struct sut_err err;
	if (sut_patch_read_file(argv[optind], &in.p, &err) < 0) {
		cli_error("%s", err.msg); /* the reader names the file */
		return 1;
	}
	sut_hex(in.p->build_id, in.p->build_id_len, in.hex);
	check_signature(&in);
	look_for_debuginfo(&in);
	if (json) {
		print_json(&in);
	} else {
		print_text_header(&in);
		print_text_body(&in);
	}
	if (in.de)
		sut_elf_close(in.de);
	free(in.dpath);
	sut_patch_free(in.p);
	return 0;
}
