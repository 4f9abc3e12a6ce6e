/* SPDX-License-Identifier: Apache-2.0 */
/* suture build, and suture keygen (making the key that signs what build produces). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "cli/cli.h"
#include "distro/distro.h"
#include "cli/json.h"
#include "cli/trust.h"
#include "patch/sign.h"
#include "util/buf.h"

static const char usage[] =
	"usage: suture build --src DIR --diff FILE --target REL/PATH [--build-cmd CMD]\n"
	"                    [-o OUT] [--id ID] [--cve ID]... [--description TEXT]\n"
	"                    [--sign-key PEM] [--per-call] [--expect-build-id HEX]\n"
	"                    [--workdir DIR] [--keep] [--json]\n"
	"       suture build --debian SOURCE[=VERSION] --diff FILE --target NAME\n"
	"                    [--jobs N] [--no-build-deps] [-o OUT] [--id ID] [--cve ID]... ...\n"
	"\n"
	"Builds a live patch from a source tree and a unified diff. The tree is copied and built\n"
	"twice with CMD (default: make), before and after `patch -p1` of the diff; every\n"
	"translation unit the second build recompiles is compiled again in both trees with\n"
	"-ffunction-sections -fdata-sections and compared function by function. The patch\n"
	"carries exactly the functions whose machine code changed (and new ones); everything\n"
	"they use binds to the original build's own functions and data. `#line` directives keep\n"
	"__LINE__ stable after each hunk, so a fix that adds lines does not drag in every later\n"
	"function of its file.\n"
	"\n"
	"The patch is for exactly one build: the GNU build-id of REL/PATH as rebuilt from DIR.\n"
	"With --expect-build-id (the build-id of the deployed object) the build stops when the\n"
	"rebuilt original differs: same compiler, flags and SOURCE_DATE_EPOCH are needed.\n"
	"Changes that cannot be live-patched (changed initial values or sizes of writable\n"
	"data) are refused with the variable named.\n"
	"\n"
	"With --debian, the patch is for the library Debian ships (stripped, built by Debian's\n"
	"build daemons): the source package SOURCE at VERSION (default: the version installed\n"
	"here) and its official binary packages are downloaded with a private apt configuration\n"
	"(the machine's is neither read nor changed), the build dependencies are installed, and\n"
	"the part of the package NAME needs is rebuilt as debian/rules builds it, in Debian's\n"
	"build path with Debian's flags and SOURCE_DATE_EPOCH. The rebuilt NAME must be the\n"
	"official one: the same build-id, or every loaded section and .dynsym byte-identical;\n"
	"anything else stops, naming what differs. That pristine build is cached in\n"
	"/var/cache/suture/debian/ ($SUTURE_CACHE) and reused by every later patch. A diff that\n"
	"is already in Debian's source (a backported fix) writes no patch and reports the\n"
	"version as already fixed (exit status 0). Known: openssl (libcrypto.so.3, libssl.so.3).\n"
	"\n"
	"Options:\n"
	"  -s, --src DIR           source tree (not modified)\n"
	"  -R, --debian SOURCE[=VERSION]  Debian source package to rebuild instead of --src;\n"
	"                          --target is then the file name (libcrypto.so.3)\n"
	"  -J, --jobs N            parallel compile jobs of a --debian rebuild (default: CPUs)\n"
	"  -N, --no-build-deps     do not install build dependencies (--debian)\n"
	"  -d, --diff FILE         unified diff, paths as for patch -p1\n"
	"  -T, --target PATH       executable or shared library, relative to the built tree\n"
	"  -b, --build-cmd CMD     shell command building the tree (default: make)\n"
	"  -o, --output OUT        patch file to write (default: ID.suture)\n"
	"  -i, --id ID             patch id (default: the diff's file name)\n"
	"  -c, --cve ID            CVE the patch fixes (repeatable)\n"
	"  -D, --description TEXT  one line describing the fix\n"
	"  -k, --sign-key PEM      Ed25519 private key to sign with (default:\n"
	"                          $SUTURE_SIGNING_KEY; unsigned when neither is set)\n"
	"  -P, --per-call          declare the per-call consistency rule (old activations\n"
	"                          finish in old code); only when the author knows it is safe\n"
	"  -e, --expect-build-id HEX  build-id the rebuilt original must have\n"
	"  -w, --workdir DIR       where to build (default: a temporary directory)\n"
	"  -K, --keep              keep the work directory\n"
	"  -j, --json              report as one JSON document on standard output\n"
	"  -h, --help              this text\n";

/* The build's steps, said as they start (standard error, as every note). */
static void say_step(void *arg, const char *step)
{
	(void)arg;
	fprintf(stderr, "suture build: %s\n", step);
}

static int sign_file(const char *path, const char *key, struct sut_err *err)
{
	struct sut_patch *p;
	if (sut_patch_read_file(path, &p, err) < 0)
		return -1;
	int rc = sut_patch_sign(p, key, err);
	if (rc == 0)
		rc = sut_patch_write_file(p, path, err);
	sut_patch_free(p);
	return rc;
}

static int finish(struct sut_build_report *r, const char *key, bool json,
		  const struct sut_distro_build *db, const struct sut_distro_debug *dbg);

static void json_debian(struct json *j, const struct sut_distro_build *db)
{
	json_obj_begin(j, "debian");
	json_str(j, "source", db->source);
	json_str(j, "version", db->version);
	json_str(j, "binary", db->binary_package);
	json_str(j, "official", db->official);
	json_str(j, "official_build_id", db->official_build_id);
	json_str(j, "rebuilt_build_id", db->rebuilt_build_id);
	json_str(j, "proof", db->proof == SUT_PROOF_BUILD_ID ? "build-id" : "sections");
	json_str(j, "cache", db->entry);
	json_bool(j, "cached", db->cached);
	json_obj_begin(j, "first_build_seconds");
	json_uint(j, "download", (unsigned long long)(db->secs_download + 0.5));
	json_uint(j, "build_deps", (unsigned long long)(db->secs_deps + 0.5));
	json_uint(j, "build", (unsigned long long)(db->secs_build + 0.5));
	json_obj_end(j);
	json_obj_end(j);
}

static void progress(void *arg, const char *msg)
{
	(void)arg;
	cli_info("suture build --debian: %s", msg);
}

/* suture build --debian SOURCE[=VERSION]: the proved pristine build first, then the diff
 * against Debian's tree, then the patch. */
static int build_debian(const struct sut_build_opts *o, const char *spec, int jobs, bool no_deps,
			const char *key, bool json)
{
	struct sut_err err;
	char *source = NULL, *version = NULL;
	if (sut_distro_parse_spec(spec, &source, &version, &err)) {
		cli_error("--debian %s: %s", spec, err.msg);
		return EXIT_USAGE;
	}
	struct sut_distro_opts d = { .source = source, .version = version, .target = o->target,
				     .jobs = jobs, .no_build_deps = no_deps, .progress = progress };
	struct sut_distro_build db;
	int rc = 0;
	if (sut_distro_prepare(&d, &db, &err)) {
		cli_error("%s", err.msg);
		free(source);
		free(version);
		return 1;
	}
	enum sut_diff_state st;
	if (sut_distro_check_diff(&db, o->diff, &st, &err)) {
		cli_error("%s", err.msg);
		rc = 1;
	} else if (st == SUT_DIFF_IN_SOURCE) {
		if (json) {
			struct json j;
			json_init(&j, stdout);
			json_obj_begin(&j, NULL);
			json_str(&j, "status", "already-fixed");
			json_str(&j, "diff", o->diff);
			json_debian(&j, &db);
			json_obj_end(&j);
			json_end(&j);
		}
		cli_info("%s: already fixed in %s %s (Debian's source carries this change: its reverse applies exactly); no patch written",
			 o->diff, db.source, db.version);
	} else {
		struct sut_build_report rep = {0};
		struct sut_distro_debug dbg;
		if (sut_distro_build_patch(&db, o, &rep, &dbg, &err)) {
			cli_error("%s", err.msg);
			rc = 1;
		} else {
			if (dbg.path)
				cli_info("debug information %s confirms the addresses of %zu function%s and symbol%s",
					 dbg.path, dbg.confirmed, dbg.confirmed == 1 ? "" : "s",
					 dbg.confirmed == 1 ? "" : "s");
			else
				cli_info("no debug information for build-id %s (/usr/lib/debug/.build-id/, DEBUGINFOD_URLS): addresses come from the proved rebuild alone",
					 db.official_build_id);
			rc = finish(&rep, key, json, &db, &dbg);
		}
		free(dbg.path);
		sut_build_report_free(&rep);
	}
	sut_distro_build_free(&db);
	free(source);
	free(version);
	return rc;
}

/* What the command line asked for. */
struct build_args {
	struct sut_build_opts o;
	const char *key;        /* signing key, or NULL: unsigned */
	bool json;
	const char **cves;      /* --cve, in order (o.cves points here or at the diff's) */
	const char *debian;     /* --debian SOURCE[=VERSION], or NULL */
	int jobs;
	bool no_deps;
	char **from_diff;       /* CVE ids the diff's header names, when no --cve was given */
	size_t nfrom;
};

/* Reads the options into a. False when the command ends here (--help, a usage error),
 * with its exit status in *status. */
static bool parse_build_args(int argc, char **argv, struct build_args *a, int *status)
{
	static const struct option lo[] = {
		{"src", required_argument, 0, 's'},	 {"diff", required_argument, 0, 'd'},
		{"target", required_argument, 0, 'T'},	 {"build-cmd", required_argument, 0, 'b'},
		{"output", required_argument, 0, 'o'},	 {"id", required_argument, 0, 'i'},
		{"cve", required_argument, 0, 'c'},	 {"description", required_argument, 0, 'D'},
		{"sign-key", required_argument, 0, 'k'}, {"per-call", no_argument, 0, 'P'},
		{"expect-build-id", required_argument, 0, 'e'},
		{"workdir", required_argument, 0, 'w'}, {"keep", no_argument, 0, 'K'},
		{"json", no_argument, 0, 'j'},		 {"help", no_argument, 0, 'h'},
		{"debian", required_argument, 0, 'R'},	 {"jobs", required_argument, 0, 'J'},
		{"no-build-deps", no_argument, 0, 'N'},
		{0, 0, 0, 0}};
	struct sut_build_opts *o = &a->o;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:d:T:b:o:i:c:D:k:Pe:w:KjhR:J:N", lo, NULL)) != -1) {
		switch (c) {
		case 'R': a->debian = optarg; break;
		case 'J': a->jobs = atoi(optarg); break;
		case 'N': a->no_deps = true; break;
		case 's': o->src = optarg; break;
		case 'd': o->diff = optarg; break;
		case 'T': o->target = optarg; break;
		case 'b': o->build_cmd = optarg; break;
		case 'o': o->out = optarg; break;
		case 'i': o->id = optarg; break;
		case 'c':
			a->cves = sut_xrealloc(a->cves, (o->ncves + 1) * sizeof *a->cves);
			a->cves[o->ncves++] = optarg;
			break;
		case 'D': o->description = optarg; break;
		case 'k': a->key = optarg; break;
		case 'P': o->per_call = true; break;
		case 'e': o->verify_build_id = optarg; break;
		case 'w': o->workdir = optarg; break;
		case 'K': o->keep = true; break;
		case 'j': a->json = true; break;
		case 'h': fputs(usage, stdout); *status = 0; return false;
		default: fputs(usage, stderr); *status = EXIT_USAGE; return false;
		}
	}
	o->cves = a->cves;
	return true;
}

/* The combinations a build cannot be made from: false when a is one (said). */
static bool check_build_args(const struct build_args *a, int argc, char **argv)
{
	const struct sut_build_opts *o = &a->o;
	if (a->debian && (o->src || o->build_cmd || o->verify_build_id)) {
		cli_error("--debian builds Debian's own source: it takes no --src, --build-cmd or --expect-build-id");
		return false;
	}
	if ((!o->src && !a->debian) || !o->diff || !o->target || optind != argc) {
		cli_error(optind != argc ? "unexpected argument '%s'"
					 : "build needs --src (or --debian), --diff and --target%s",
			  optind != argc ? argv[optind] : "");
		fputs(usage, stderr);
		return false;
	}
	for (size_t i = 0; i < o->ncves; i++) {
		if (strncmp(a->cves[i], "CVE-", 4) != 0) {
			cli_error("'%s' is not a CVE id (CVE-YYYY-NNNN)", a->cves[i]);
			return false;
		}
	}
	return true;
}

/* No --cve: the CVE ids the diff names in its own header, said aloud. */
static void cves_from_diff(struct build_args *a)
{
	if (a->o.ncves)
		return;
	a->nfrom = sut_build_cves_from_diff(a->o.diff, &a->from_diff);
	if (!a->nfrom)
		return;
	a->o.cves = (const char **)a->from_diff;
	a->o.ncves = a->nfrom;
	struct sut_buf names = {0};
	for (size_t i = 0; i < a->nfrom; i++) {
		sut_buf_append(&names, i ? ", " : "", i ? 2 : 0);
		sut_buf_append(&names, a->from_diff[i], strlen(a->from_diff[i]));
	}
	sut_buf_append(&names, "", 1);
	cli_info("build: no --cve given: the patch fixes %s (named in the diff's header)",
		 (char *)names.data);
	sut_buf_free(&names);
}

/* suture build --src: the build layer's warnings, then the signed patch reported. */
static int build_from_source(const struct build_args *a)
{
	struct sut_build_report rep = {0};
	struct sut_err err;
	int rc;
	int built = sut_build(&a->o, &rep, &err);
	for (size_t i = 0; i < rep.nwarnings; i++)
		fprintf(stderr, "suture build: %s\n", rep.warnings[i]);
	if (built < 0) {
		cli_error("%s", err.msg);
		rc = 1;
	} else {
		rc = finish(&rep, a->key, a->json, NULL, NULL);
	}
	sut_build_report_free(&rep);
	return rc;
}

int cmd_build(int argc, char **argv)
{
	struct build_args a = { .o = { .progress = say_step }, .key = cli_default_signing_key() };
	int rc = EXIT_USAGE;
	if (parse_build_args(argc, argv, &a, &rc) && check_build_args(&a, argc, argv)) {
		cves_from_diff(&a);
		rc = a.debian ? build_debian(&a.o, a.debian, a.jobs, a.no_deps, a.key, a.json)
			      : build_from_source(&a);
	}
	free(a.cves);
	for (size_t i = 0; i < a.nfrom; i++)
		free(a.from_diff[i]);
	free(a.from_diff);
	return rc;
}

/* Signs the patch build wrote and reports it; db: the Debian build it is for, or NULL. */
static int finish(struct sut_build_report *r, const char *key, bool json,
		  const struct sut_distro_build *db, const struct sut_distro_debug *dbg)
{
	struct sut_build_report rep = *r;
	struct sut_err err;
	if (key && sign_file(rep.patch_path, key, &err) < 0) {
		cli_error("%s: signing with %s: %s", rep.patch_path, key, err.msg);
		remove(rep.patch_path);
		return 1;
	}
	if (json) {
		struct json j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_str(&j, "patch", rep.patch_path);
		json_str(&j, "id", rep.patch_id);
		json_str(&j, "build_id", rep.build_id_hex);
		json_bool(&j, "signed", key != NULL);
		if (db)
			json_debian(&j, db);
		if (dbg && dbg->path) {
			json_obj_begin(&j, "debuginfo");
			json_str(&j, "path", dbg->path);
			json_uint(&j, "confirmed", dbg->confirmed);
			json_obj_end(&j);
		}
		json_arr_begin(&j, "functions");
		for (size_t i = 0; i < rep.nfuncs; i++) {
			json_obj_begin(&j, NULL);
			json_str(&j, "name", rep.funcs[i].name);
			json_str(&j, "file", rep.funcs[i].file);
			json_str(&j, "reason", rep.funcs[i].reason);
			json_uint(&j, "size", rep.funcs[i].size);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		if (rep.workdir)
			json_str(&j, "workdir", rep.workdir);
		json_obj_end(&j);
		json_end(&j);
	} else {
		if (db)
			cli_info("patch for %s %s, binary package %s (%s)", db->source, db->version,
				 db->binary_package, db->official);
		cli_info("wrote %s: patch %s for build-id %s%s", rep.patch_path, rep.patch_id,
			 rep.build_id_hex, key ? ", signed" : " (unsigned)");
		for (size_t i = 0; i < rep.nfuncs; i++)
			cli_info("  %-32s %-8s %s", rep.funcs[i].name, rep.funcs[i].reason,
				 rep.funcs[i].file ? rep.funcs[i].file : "");
		if (rep.workdir)
			cli_info("work directory kept: %s", rep.workdir);
	}
	return 0;
}

static const char keygen_usage[] =
	"usage: suture keygen PRIVATE.pem PUBLIC.pem\n"
	"\n"
	"Creates an Ed25519 key pair for signing patches. Give the private key to `suture\n"
	"build --sign-key` (or SUTURE_SIGNING_KEY); install the public key on the machines that\n"
	"apply patches, in " SUT_TRUST_DIR "/ (or name it with SUTURE_TRUSTED_KEYS or\n"
	"`suture apply --trusted-key`). The private key file is created mode 0600 and never\n"
	"overwritten.\n";

int cmd_keygen(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(keygen_usage, stdout);
		return 0;
	}
	if (argc != 3) {
		fputs(keygen_usage, stderr);
		return EXIT_USAGE;
	}
	struct sut_err err;
	if (sut_key_generate(argv[1], argv[2], &err) < 0) {
		cli_error("%s", err.msg);
		return 1;
	}
	char id[32];
	if (sut_key_id_of_file(argv[2], id, &err) == 0)
		cli_info("key %s: private %s, public %s", id, argv[1], argv[2]);
	return 0;
}
