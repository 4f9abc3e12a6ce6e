/* SPDX-License-Identifier: Apache-2.0 */
/* suture verify: proof that every patched process runs exactly the signed patch code.
 * Read-only (invariant 8): the processes are read, never stopped or written. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assess/assess.h"
#include "cli/cli.h"
#include "cli/json.h"
#include "cli/procs.h"
#include "cli/trust.h"
#include "util/buf.h"

static const char usage[] =
	"usage: suture verify [-p PID]... [--all] [--patch FILE]... [--json]\n"
	"\n"
	"Proves, for each process, that every patch its registry records is really in force\n"
	"as signed: the object the record names is mapped at the recorded load bias; the patch\n"
	"image is mapped at the recorded address; the entry of each replaced function holds\n"
	"the jump the record wrote, landing on the replacement inside the image; the image's\n"
	"code equals (SHA-256) the trusted patch file re-linked for that process at that\n"
	"address; no transaction is left unfinished. It also checks that every process mapping\n"
	"a patched build has the patch: each patch in the store, and with --all each patch\n"
	"verified in another process of the same build.\n"
	"\n"
	"The trusted patch files come from the store folders (/var/lib/suture/patches and\n"
	"/usr/lib/suture/patches, or SUTURE_PATCH_DIRS, colon-separated) and --patch; each\n"
	"must be signed by a trusted key (see suture apply --help). A record without a\n"
	"trusted patch file cannot be proved and counts as a failure.\n"
	"\n"
	"Nothing is stopped or written: the processes keep running untouched.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID          a process to verify (repeatable)\n"
	"  -a, --all              every process (the default without -p)\n"
	"  -P, --patch FILE       also compare with this patch file (repeatable)\n"
	"  -k, --trusted-key PEM  also trust this public key (repeatable)\n"
	"  -j, --json             one JSON document on standard output\n"
	"  -h, --help             this text\n"
	"\n"
	"Exit status: 0 every record proved and nothing missing; 1 a mismatch (each is named\n"
	"with process, patch, function and reason on standard error); 2 a wrong command line.\n";

static void load_file(const char *path, const char *const *keys, size_t nkeys,
		      struct sut_patch_set *out)
{
	struct sut_patch *p;
	struct sut_err err;
	if (sut_patch_read_file(path, &p, &err) < 0) {
		cli_error("%s: %s", path, err.msg);
		return;
	}
	struct cli_trust trust;
	cli_trust_load(&trust, keys, nkeys);
	int trusted = cli_trust_check(&trust, p, NULL, &err);
	cli_trust_free(&trust);
	if (trusted < 0) {
		cli_error("%s: not used: %s", path, err.msg);
		sut_patch_free(p);
		return;
	}
	out->v = sut_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
	out->paths = sut_xrealloc(out->paths, (out->n + 1) * sizeof *out->paths);
	out->v[out->n] = p;
	out->paths[out->n++] = sut_xstrdup(path);
}

static void load_dir(const char *dir, const char *const *keys, size_t nkeys,
		     struct sut_patch_set *out)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	closedir(d);
	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]->d_name);
		if (l > 7 && !strcmp(names[i]->d_name + l - 7, ".suture")) {
			char *path = sut_xasprintf("%s/%s", dir, names[i]->d_name);
			load_file(path, keys, nkeys, out);
			free(path);
		}
		free(names[i]);
	}
	free(n >= 0 ? names : NULL);
}

void cli_load_patch_set(char *const *files, size_t nfiles, const char *const *keys,
			size_t nkeys, struct sut_patch_set *out)
{
	memset(out, 0, sizeof *out);
	const char *env = getenv("SUTURE_PATCH_DIRS");
	char *dirs = sut_xstrdup(env ? env : "/var/lib/suture/patches:/usr/lib/suture/patches");
	for (char *s = dirs, *tok; (tok = strsep(&s, ":")) != NULL;)
		if (*tok)
			load_dir(tok, keys, nkeys, out);
	free(dirs);
	for (size_t i = 0; i < nfiles; i++)
		load_file(files[i], keys, nkeys, out);
}

void cli_free_patch_set(struct sut_patch_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		sut_patch_free(s->v[i]);
		free(s->paths[i]);
	}
	free(s->v);
	free(s->paths);
	memset(s, 0, sizeof *s);
}

static void print_json(struct json *j, const struct sut_vfy_result *r)
{
	json_obj_begin(j, NULL);
	json_int(j, "pid", r->pid);
	json_str(j, "comm", r->comm);
	json_bool(j, "ok", r->nissues == 0);
	json_arr_begin(j, "patches");
	for (size_t i = 0; i < r->npatches; i++) {
		const struct sut_vfy_patch *p = &r->patches[i];
		char hex[2 * SUT_BUILD_ID_MAX + 1];
		sut_hex(p->build_id, p->build_id_len, hex);
		json_obj_begin(j, NULL);
		json_str(j, "id", p->id);
		json_uint(j, "version", p->version);
		json_str(j, "build_id", hex);
		json_uint(j, "functions", p->nfuncs);
		json_bool(j, "verified", p->verified);
		json_str(j, "image_sha256", p->image_sha256[0] ? p->image_sha256 : NULL);
		json_obj_end(j);
	}
	json_arr_end(j);
	cli_json_vfy_issues(j, "issues", r);
	json_obj_end(j);
}

static void print_human(const struct sut_vfy_result *r)
{
	char label[CLI_PROC_LABEL_SIZE], text[1024], esc[CLI_ESC_SIZE(sizeof text)];
	printf("%s: %s\n", cli_proc_label(r->pid, r->comm, label, sizeof label),
	       r->nissues ? "FAILED" : r->npatches ? "verified" : "no patches");
	for (size_t i = 0; i < r->npatches; i++) {
		const struct sut_vfy_patch *p = &r->patches[i];
		printf("  %-8s %s v%u (%zu function%s)%s%.16s\n", p->verified ? "ok" : "FAILED",
		       p->id, p->version, p->nfuncs, p->nfuncs == 1 ? "" : "s",
		       p->image_sha256[0] ? "  code sha256 " : "", p->image_sha256);
	}
	for (size_t i = 0; i < r->nissues; i++)
		printf("  %-8s %s\n", sut_vfy_kind_name(r->issues[i].kind),
		       cli_esc(cli_vfy_issue_text(&r->issues[i], text, sizeof text), esc,
			       sizeof esc));
}

int cmd_verify(int argc, char **argv)
{
	static const struct option lo[] = {
		{"pid", required_argument, 0, 'p'},   {"all", no_argument, 0, 'a'},
		{"patch", required_argument, 0, 'P'}, {"trusted-key", required_argument, 0, 'k'},
		{"json", no_argument, 0, 'j'},	      {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	struct pidlist pids = {0};
	char **files = NULL;
	struct cli_keys keys = {0};
	size_t nfiles = 0;
	bool json = false, all = false;
	int c, rc = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:aP:k:jh", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli_pid_arg(&pids, optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'a': all = true; break;
		case 'P':
			files = sut_xrealloc(files, (nfiles + 1) * sizeof *files);
			files[nfiles++] = optarg;
			break;
		case 'k': cli_keys_add(&keys, optarg); break;
		case 'j': json = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	bool explicit = pids.n > 0;
	if (all && explicit) {
		cli_error("verify takes -p PID or --all, not both");
		return EXIT_USAGE;
	}
	struct sut_patch_set known;
	cli_load_patch_set(files, nfiles, keys.v, keys.n, &known);
	if (!explicit && cli_pids_discover(&pids, SUT_DISCOVER_ALL) < 0)
		return EXIT_USAGE;
	struct sut_vfy_result *res = sut_xcalloc(pids.n ? pids.n : 1, sizeof *res);
	size_t nres = 0;
	for (size_t i = 0; i < pids.n; i++) {
		struct sut_err err;
		if (sut_verify_process(pids.v[i], &known, &res[nres], &err) < 0) {
			if (explicit) {
				cli_error("%s", err.msg);
				rc = 1;
			}
			continue; /* a process that ended meanwhile has nothing to prove */
		}
		nres++;
	}
	sut_verify_cross(res, nres);
	struct json j;
	json_init(&j, stdout);
	size_t proved = 0, failed = 0;
	if (json) {
		json_obj_begin(&j, NULL);
		json_arr_begin(&j, "processes");
	}
	for (size_t i = 0; i < nres; i++) {
		const struct sut_vfy_result *r = &res[i];
		for (size_t k = 0; k < r->npatches; k++)
			proved += r->patches[k].verified;
		if (r->nissues) {
			failed++;
			rc = 1;
			char text[1024];
			for (size_t k = 0; k < r->nissues; k++)
				cli_error("pid %d (%s): %s", (int)r->pid, r->comm,
					  cli_vfy_issue_text(&r->issues[k], text, sizeof text));
		}
		if (!explicit && !r->has_registry && !r->nissues)
			continue;
		if (json)
			print_json(&j, r);
		else
			print_human(r);
	}
	if (json) {
		json_arr_end(&j);
		json_uint(&j, "processes_checked", nres);
		json_uint(&j, "patches_verified", proved);
		json_uint(&j, "processes_failed", failed);
		json_bool(&j, "ok", rc == 0);
		json_obj_end(&j);
		json_end(&j);
	} else {
		printf("%zu process%s checked, %zu patch record%s proved, %zu process%s failed\n",
		       nres, nres == 1 ? "" : "es", proved, proved == 1 ? "" : "s", failed,
		       failed == 1 ? "" : "es");
	}
	for (size_t i = 0; i < nres; i++)
		sut_vfy_result_free(&res[i]);
	free(res);
	cli_free_patch_set(&known);
	pidlist_free(&pids);
	free(files);
	free(keys.v);
	return rc;
}
