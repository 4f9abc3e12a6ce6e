/* SPDX-License-Identifier: Apache-2.0 */
/* suture scan: which running processes are exposed to which vulnerabilities, most urgent
 * first; the inventory behind it; an OpenVEX document for the host. Read-only. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "assess/assess.h"
#include "cli/cli.h"
#include "cli/json.h"
#include "cli/procs.h"
#include "proc/proc.h"
#include "util/buf.h"

static const char usage[] =
	"usage: suture scan [--feed FILE|DIR]... [--import-debian FILE]... [-p PID]...\n"
	"                   [--json | --openvex] [--inventory]\n"
	"\n"
	"Inventories every running process (all mount namespaces and containers: objects are\n"
	"read through /proc/PID/map_files) and every ELF object it maps: build-id, the path as\n"
	"the process sees it (deleted files included), whether the file now at that path is\n"
	"still the mapped one (same device and inode), the Debian package and version owning\n"
	"it (dpkg-query, only when the host's file at that path is the mapped file), the\n"
	"OpenSSL version libcrypto reports, the process's sockets, and its live patches, each\n"
	"proved as by `suture verify`.\n"
	"\n"
	"It then matches vulnerability records in OSV format (from --feed, and every *.json in\n"
	"/var/lib/suture/feeds or the colon-separated SUTURE_FEED_DIRS) and Debian security-\n"
	"tracker JSON (--import-debian) against them: Debian-owned files by the Debian:12\n"
	"records of their source package (Debian version order), other builds by the upstream\n"
	"OpenSSL version they report. One verdict per process and vulnerability:\n"
	"  exposed        the process runs affected code\n"
	"  fixed-on-disk  the file on disk is fixed, the process still runs the old code:\n"
	"                 restart it or patch it live\n"
	"  fixed-live     a live patch naming the CVE is applied and verify proved it\n"
	"Highest first: severity, then exposure (listening or connected, reachable from\n"
	"outside the machine, runs as root), then age (oldest record first). A patch in the\n"
	"store (see suture verify --help) that fixes an exposed process is named as the action.\n"
	"\n"
	"Options:\n"
	"  -f, --feed FILE|DIR       OSV records: one record, an array, or {\"vulns\": [...]};\n"
	"                            a folder: every *.json in it (repeatable)\n"
	"  -D, --import-debian FILE  Debian security-tracker JSON (repeatable)\n"
	"  -p, --pid PID             only this process (repeatable); default every process\n"
	"  -P, --patch FILE          also count this patch file as available (repeatable)\n"
	"  -k, --trusted-key PEM     also trust this public key (repeatable)\n"
	"  -i, --inventory           human form: also list each process's objects\n"
	"      --no-dpkg             do not ask dpkg-query who owns the files\n"
	"  -j, --json                one JSON document: findings and the inventory\n"
	"  -x, --openvex             an OpenVEX 0.2.0 document: one statement per CVE and\n"
	"                            build (purl of the package, the GNU build-id as sha1);\n"
	"                            not_affected only when every process mapping the build\n"
	"                            runs a verified live patch for it\n"
	"  -h, --help                this text\n"
	"\n"
	"Exit status: 0 nothing exposed; 1 some process runs vulnerable code (exposed or\n"
	"fixed-on-disk); 2 an error (a feed that cannot be read, a wrong command line).\n";

static const char *sev_name(int s)
{
	static const char *const n[] = {"unknown", "low", "moderate", "high", "critical"};
	return s >= 0 && s <= 4 ? n[s] : "unknown";
}

static void hexid(const uint8_t *id, size_t len, char *out)
{
	sut_hex(id, len, out);
}

static const char *base(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

/* Percent-encoding of a purl component: anything but unreserved characters. */
static void purl_enc(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	for (; *s && o + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '_' || c == '~')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
	}
	out[o] = 0;
}

/* purl of a file: its Debian binary package, else the upstream OpenSSL build, else a
 * generic name. */
static void purl_of(const struct sut_inv_file *f, char *out, size_t cap)
{
	char name[128], ver[128];
	if (f->package && f->version) {
		char pkg[128], arch[32] = "";
		snprintf(pkg, sizeof pkg, "%s", f->package);
		char *colon = strchr(pkg, ':');
		if (colon) {
			snprintf(arch, sizeof arch, "%s", colon + 1);
			*colon = 0;
		}
		purl_enc(pkg, name, sizeof name);
		purl_enc(f->version, ver, sizeof ver);
		snprintf(out, cap, "pkg:deb/debian/%s@%s?%s%s%sdistro=debian-12", name, ver,
			 arch[0] ? "arch=" : "", arch, arch[0] ? "&" : "");
		return;
	}
	if (f->openssl) {
		purl_enc(f->openssl, ver, sizeof ver);
		snprintf(out, cap, "pkg:generic/openssl@%s", ver);
		return;
	}
	purl_enc(base(f->path), name, sizeof name);
	snprintf(out, cap, "pkg:generic/%s", name);
}

static void exposure_words(const struct sut_inv_proc *p, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s%s%s", p->listening ? "listening," : "",
		 p->established ? "connected," : "", p->external ? "external," : "",
		 p->euid == 0 ? "root," : "");
	size_t l = strlen(out);
	if (l)
		out[l - 1] = 0;
	else
		snprintf(out, cap, "-");
}

static void json_file(struct json *j, const struct sut_inv_file *f)
{
	char hex[2 * SUT_BUILD_ID_MAX + 1];
	hexid(f->build_id, f->build_id_len, hex);
	json_str(j, "build_id", f->build_id_len ? hex : NULL);
	json_str(j, "package", f->package);
	json_str(j, "version", f->version);
	json_str(j, "source", f->source);
	json_str(j, "openssl", f->openssl);
}

static void print_json(const struct sut_inventory *inv, const struct sut_vulndb *db,
		       const struct sut_assessment *as, size_t exposed)
{
	struct json j;
	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_uint(&j, "vulnerabilities", db->n);
	json_uint(&j, "processes_scanned", inv->nprocs);
	json_uint(&j, "files", inv->nfiles);
	json_uint(&j, "exposed", exposed);
	json_arr_begin(&j, "findings");
	for (size_t i = 0; i < as->n; i++) {
		const struct sut_finding *f = &as->v[i];
		const struct sut_inv_proc *p = &inv->procs[f->proc];
		const struct sut_vuln *v = &db->v[f->vuln];
		const struct sut_inv_obj *o = &p->objs[f->obj];
		json_obj_begin(&j, NULL);
		json_int(&j, "pid", p->pid);
		json_str(&j, "comm", p->comm);
		json_str(&j, "cve", v->cve);
		json_str(&j, "id", v->id);
		json_str(&j, "severity", sev_name(v->severity));
		if (v->cvss > 0) /* the writer has no fractions; a member after others: ",k:v" */
			fprintf(stdout, ",\"cvss\":%.1f", v->cvss);
		json_str(&j, "published", v->published);
		json_str(&j, "summary", v->summary);
		json_str(&j, "verdict", sut_verdict_name(f->verdict));
		json_str(&j, "live_patch", f->verdict == SUT_V_FIXED_LIVE ? f->live_patch : NULL);
		json_str(&j, "unproven_patch", f->unproven[0] ? f->unproven : NULL);
		json_str(&j, "action", f->verdict == SUT_V_FIXED_LIVE ? NULL
				       : f->unproven[0] ? "repair"
				       : f->live_patch[0] ? "apply"
				       : f->verdict == SUT_V_FIXED_ON_DISK ? "restart"
									   : "update");
		json_str(&j, "action_patch", f->verdict != SUT_V_FIXED_LIVE && f->live_patch[0]
						     ? f->live_patch : NULL);
		json_int(&j, "exposure", f->exposure);
		json_obj_begin(&j, "object");
		json_str(&j, "path", o->path);
		json_bool(&j, "deleted", o->deleted);
		json_file(&j, &inv->files[o->file]);
		json_obj_end(&j);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_arr_begin(&j, "processes");
	for (size_t i = 0; i < inv->nprocs; i++) {
		const struct sut_inv_proc *p = &inv->procs[i];
		json_obj_begin(&j, NULL);
		json_int(&j, "pid", p->pid);
		json_str(&j, "comm", p->comm);
		json_int(&j, "euid", (long long)(int)p->euid);
		json_uint(&j, "mntns", p->mntns);
		json_uint(&j, "netns", p->netns);
		json_uint(&j, "listening", p->listening);
		json_uint(&j, "established", p->established);
		json_bool(&j, "external", p->external);
		json_arr_begin(&j, "objects");
		for (size_t k = 0; k < p->nobjs; k++) {
			const struct sut_inv_obj *o = &p->objs[k];
			json_obj_begin(&j, NULL);
			json_str(&j, "path", o->path);
			json_bool(&j, "deleted", o->deleted);
			json_bool(&j, "on_disk_same", o->on_disk_same);
			json_file(&j, &inv->files[o->file]);
			if (o->disk_file >= 0) {
				json_obj_begin(&j, "on_disk");
				json_file(&j, &inv->files[o->disk_file]);
				json_obj_end(&j);
			}
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_arr_begin(&j, "patches");
		for (size_t k = 0; k < p->vfy.npatches; k++) {
			json_obj_begin(&j, NULL);
			json_str(&j, "id", p->vfy.patches[k].id);
			json_str(&j, "cves", p->vfy.patches[k].cves);
			json_bool(&j, "verified", p->vfy.patches[k].verified);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		cli_json_vfy_issues(&j, "verify_issues", &p->vfy);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_end(&j);
}

static void print_human(const struct sut_inventory *inv, const struct sut_vulndb *db,
			const struct sut_assessment *as, bool inventory, size_t exposed)
{
	if (inventory)
		for (size_t i = 0; i < inv->nprocs; i++) {
			const struct sut_inv_proc *p = &inv->procs[i];
			char ex[64], label[CLI_PROC_LABEL_SIZE];
			exposure_words(p, ex, sizeof ex);
			printf("%s uid %d  %s\n", cli_proc_label(p->pid, p->comm, label, sizeof label),
			       (int)p->euid, ex);
			for (size_t k = 0; k < p->nobjs; k++) {
				const struct sut_inv_obj *o = &p->objs[k];
				const struct sut_inv_file *f = &inv->files[o->file];
				char hex[2 * SUT_BUILD_ID_MAX + 1], path[CLI_ESC_SIZE(256)];
				hexid(f->build_id, f->build_id_len, hex);
				printf("  %s%s  %.12s  %s%s%s%s%s%s\n", cli_esc(o->path, path, sizeof path),
				       o->deleted ? " (deleted)" : "", hex,
				       f->package ? f->package : "-", f->version ? " " : "",
				       f->version ? f->version : "", f->openssl ? "  OpenSSL " : "",
				       f->openssl ? f->openssl : "",
				       o->on_disk_same ? "" : "  (file on disk differs)");
			}
		}
	if (!db->n) {
		printf("no vulnerability records (use --feed or /var/lib/suture/feeds)\n");
		return;
	}
	if (as->n) {
		printf("%-13s %-16s %-8s %-7s %-15s %-15s %-32s %s\n", "VERDICT", "CVE", "SEVERITY",
		       "PID", "COMMAND", "EXPOSURE", "OBJECT", "ACTION");
	}
	for (size_t i = 0; i < as->n; i++) {
		const struct sut_finding *f = &as->v[i];
		const struct sut_inv_proc *p = &inv->procs[f->proc];
		const struct sut_vuln *v = &db->v[f->vuln];
		const struct sut_inv_obj *o = &p->objs[f->obj];
		const struct sut_inv_file *file = &inv->files[o->file];
		char ex[64], obj[160], act[200], comm[CLI_ESC_SIZE(sizeof p->comm)];
		char name[CLI_ESC_SIZE(128)];
		exposure_words(p, ex, sizeof ex);
		snprintf(obj, sizeof obj, "%s %s", cli_esc(base(o->path), name, sizeof name),
			 file->version ? file->version : file->openssl ? file->openssl : "");
		if (f->verdict == SUT_V_FIXED_LIVE)
			snprintf(act, sizeof act, "patched live: %s (verified)", f->live_patch);
		else if (f->unproven[0])
			snprintf(act, sizeof act, "%s does not hold (suture verify -p %d): revert, "
				 "apply again", f->unproven, (int)p->pid);
		else if (f->live_patch[0])
			snprintf(act, sizeof act, "suture apply -p %d %s", (int)p->pid, f->live_patch);
		else if (f->verdict == SUT_V_FIXED_ON_DISK)
			snprintf(act, sizeof act, "restart (the file on disk is fixed) or patch live");
		else
			snprintf(act, sizeof act, "update the package or build a live patch");
		printf("%-13s %-16s %-8s %-7d %-15s %-15s %-32s %s\n",
		       f->verdict == SUT_V_EXPOSED ? "EXPOSED" : sut_verdict_name(f->verdict), v->cve,
		       sev_name(v->severity), (int)p->pid, cli_esc(p->comm, comm, sizeof comm), ex,
		       obj, act);
	}
	size_t fixed_live = 0;
	for (size_t i = 0; i < as->n; i++)
		fixed_live += as->v[i].verdict == SUT_V_FIXED_LIVE;
	printf("%zu process%s, %zu distinct file%s, %zu vulnerability record%s: %zu process-CVE "
	       "pair%s run vulnerable code, %zu fixed by verified live patches\n",
	       inv->nprocs, inv->nprocs == 1 ? "" : "es", inv->nfiles, inv->nfiles == 1 ? "" : "s",
	       db->n, db->n == 1 ? "" : "s", exposed, exposed == 1 ? "" : "s", fixed_live);
}

static void print_openvex(const struct sut_inventory *inv, const struct sut_vulndb *db,
			  const struct sut_vex_stmt *st, size_t n)
{
	char host[256] = "localhost", now[32];
	gethostname(host, sizeof host - 1);
	time_t t = time(NULL);
	cli_time((unsigned long long)t, now, sizeof now);
	char *id = sut_xasprintf("urn:suture:vex:%s:%lld", host, (long long)t);
	char *author = sut_xasprintf("suture scan on %s", host);
	struct json j;
	json_init(&j, stdout);
	json_obj_begin(&j, NULL);
	json_str(&j, "@context", "https://openvex.dev/ns/v0.2.0");
	json_str(&j, "@id", id);
	json_str(&j, "author", author);
	json_str(&j, "timestamp", now);
	json_int(&j, "version", 1);
	json_str(&j, "tooling", "suture 0.1.0 (scan)");
	json_arr_begin(&j, "statements");
	for (size_t i = 0; i < n; i++) {
		const struct sut_vex_stmt *s = &st[i];
		const struct sut_vuln *v = &db->v[s->vuln];
		json_obj_begin(&j, NULL);
		json_obj_begin(&j, "vulnerability");
		json_str(&j, "name", v->cve);
		if (v->summary)
			json_str(&j, "description", v->summary);
		size_t nal = 0;
		for (size_t k = 0; k < v->naliases; k++)
			nal += strcmp(v->aliases[k], v->cve) != 0;
		if (nal || strcmp(v->id, v->cve)) {
			json_arr_begin(&j, "aliases");
			if (strcmp(v->id, v->cve))
				json_str(&j, NULL, v->id);
			for (size_t k = 0; k < v->naliases; k++)
				if (strcmp(v->aliases[k], v->cve) && strcmp(v->aliases[k], v->id))
					json_str(&j, NULL, v->aliases[k]);
			json_arr_end(&j);
		}
		json_obj_end(&j);
		json_str(&j, "timestamp", now);
		if (s->file >= 0) {
			const struct sut_inv_file *f = &inv->files[s->file];
			char purl[512], hex[2 * SUT_BUILD_ID_MAX + 1];
			purl_of(f, purl, sizeof purl);
			hexid(f->build_id, f->build_id_len, hex);
			json_arr_begin(&j, "products");
			json_obj_begin(&j, NULL);
			char *pid = sut_xasprintf("%s#build-id=%s", purl, hex);
			json_str(&j, "@id", pid);
			free(pid);
			json_obj_begin(&j, "identifiers");
			json_str(&j, "purl", purl);
			json_obj_end(&j);
			/* the GNU build-id: a SHA-1 the linker computes over the object */
			if (f->build_id_len == 20) {
				json_obj_begin(&j, "hashes");
				json_str(&j, "sha1", hex);
				json_obj_end(&j);
			}
			json_obj_end(&j);
			json_arr_end(&j);
		}
		char note[1024];
		switch (s->status) {
		case SUT_VEX_MITIGATED:
			json_str(&j, "status", "not_affected");
			json_str(&j, "justification", "inline_mitigations_already_exist");
			{
				char hex[2 * SUT_BUILD_ID_MAX + 1];
				const struct sut_inv_file *f = &inv->files[s->file];
				hexid(f->build_id, f->build_id_len, hex);
				snprintf(note, sizeof note,
					 "every process mapping build-id %s (%zu) runs live patch %s, "
					 "verified by suture against the signed patch",
					 hex, s->nprocs, s->patches);
			}
			json_str(&j, "status_notes", note);
			break;
		case SUT_VEX_AFFECTED:
			json_str(&j, "status", "affected");
			if (s->action[0])
				snprintf(note, sizeof note,
					 "apply live patch %s to the %zu unpatched process%s (suture "
					 "apply --all), or update the package and restart them",
					 s->action, s->nprocs - s->npatched,
					 s->nprocs - s->npatched == 1 ? "" : "es");
			else
				snprintf(note, sizeof note,
					 "%zu of %zu processes mapping this build run the vulnerable "
					 "code: update the package and restart them, or build and "
					 "apply a live patch",
					 s->nprocs - s->npatched, s->nprocs);
			json_str(&j, "action_statement", note);
			if (s->npatched) {
				snprintf(note, sizeof note, "live patch %s verified in %zu of %zu "
					 "processes", s->patches, s->npatched, s->nprocs);
				json_str(&j, "status_notes", note);
			}
			break;
		case SUT_VEX_FIXED:
			json_str(&j, "status", "fixed");
			break;
		case SUT_VEX_NOT_PRESENT:
			json_str(&j, "status", "not_affected");
			json_str(&j, "justification", "component_not_present");
			json_str(&j, "status_notes", "no running process maps an affected package");
			break;
		}
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_end(&j);
	free(id);
	free(author);
}

int cmd_scan(int argc, char **argv)
{
	enum { OPT_NO_DPKG = 1000 };
	static const struct option lo[] = {
		{"feed", required_argument, 0, 'f'},	    {"import-debian", required_argument, 0, 'D'},
		{"pid", required_argument, 0, 'p'},	    {"patch", required_argument, 0, 'P'},
		{"trusted-key", required_argument, 0, 'k'}, {"inventory", no_argument, 0, 'i'},
		{"no-dpkg", no_argument, 0, OPT_NO_DPKG},   {"json", no_argument, 0, 'j'},
		{"openvex", no_argument, 0, 'x'},	    {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	struct pidlist pids = {0};
	char **feeds = NULL, **debian = NULL, **files = NULL;
	struct cli_keys keys = {0};
	size_t nfeeds = 0, ndebian = 0, nfiles = 0;
	bool json = false, vex = false, inventory = false, dpkg = true;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:D:p:P:k:ijxh", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			feeds = sut_xrealloc(feeds, (nfeeds + 1) * sizeof *feeds);
			feeds[nfeeds++] = optarg;
			break;
		case 'D':
			debian = sut_xrealloc(debian, (ndebian + 1) * sizeof *debian);
			debian[ndebian++] = optarg;
			break;
		case 'p':
			if (cli_pid_arg(&pids, optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'P':
			files = sut_xrealloc(files, (nfiles + 1) * sizeof *files);
			files[nfiles++] = optarg;
			break;
		case 'k': cli_keys_add(&keys, optarg); break;
		case 'i': inventory = true; break;
		case OPT_NO_DPKG: dpkg = false; break;
		case 'j': json = true; break;
		case 'x': vex = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (json && vex) {
		cli_error("--json and --openvex are two documents: choose one");
		return EXIT_USAGE;
	}
	int rc = 0;
	struct sut_err err;
	struct sut_vulndb db = {0};
	const char *env = getenv("SUTURE_FEED_DIRS");
	char *dirs = sut_xstrdup(env ? env : "/var/lib/suture/feeds");
	for (char *s = dirs, *tok; (tok = strsep(&s, ":")) != NULL;)
		if (*tok && access(tok, R_OK) == 0 && sut_osv_load(&db, tok, &err) < 0) {
			cli_error("feed %s", err.msg);
			rc = EXIT_USAGE;
		}
	free(dirs);
	for (size_t i = 0; i < nfeeds && rc == 0; i++)
		if (sut_osv_load(&db, feeds[i], &err) < 0) {
			cli_error("feed %s", err.msg);
			rc = EXIT_USAGE;
		}
	for (size_t i = 0; i < ndebian && rc == 0; i++)
		if (sut_debian_tracker_load(&db, debian[i], &err) < 0) {
			cli_error("Debian tracker %s", err.msg);
			rc = EXIT_USAGE;
		}
	if (rc == 0 && vex && !db.n) {
		cli_error("--openvex: no vulnerability records to speak of (use --feed)");
		rc = EXIT_USAGE;
	}
	struct sut_patch_set store = {0};
	struct sut_inventory inv = {0};
	struct sut_assessment as = {0};
	if (rc)
		goto out;
	cli_load_patch_set(files, nfiles, keys.v, keys.n, &store);
	struct sut_inv_opts o = {.pids = pids.v, .npids = pids.n, .dpkg = dpkg};
	if (sut_inventory_build(&o, &store, &inv, &err) < 0 ||
	    sut_assess(&inv, &db, &store, &as, &err) < 0) {
		cli_error("%s", err.msg);
		rc = EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < pids.n; i++) {
		bool seen = false;
		for (size_t k = 0; k < inv.nprocs; k++)
			seen |= inv.procs[k].pid == pids.v[i];
		const char *why = "no such process";
		for (size_t k = 0; k < inv.nskipped; k++)
			if (inv.skipped[k].pid == pids.v[i])
				why = inv.skipped[k].reason;
		if (!seen) {
			cli_error("pid %d: cannot be scanned: %s", (int)pids.v[i], why);
			rc = EXIT_USAGE;
		}
	}
	size_t exposed = 0;
	for (size_t i = 0; i < as.n; i++)
		exposed += as.v[i].verdict == SUT_V_EXPOSED || as.v[i].verdict == SUT_V_FIXED_ON_DISK;
	if (vex) {
		struct sut_vex_stmt *st;
		size_t n;
		sut_vex_statements(&inv, &db, &store, &st, &n);
		print_openvex(&inv, &db, st, n);
		free(st);
	} else if (json) {
		print_json(&inv, &db, &as, exposed);
	} else {
		print_human(&inv, &db, &as, inventory, exposed);
	}
	if (rc == 0 && exposed)
		rc = 1;
out:
	sut_assessment_free(&as);
	sut_inventory_free(&inv);
	cli_free_patch_set(&store);
	sut_vulndb_free(&db);
	pidlist_free(&pids);
	free(feeds);
	free(debian);
	free(files);
	free(keys.v);
	return rc;
}
