/* SPDX-License-Identifier: Apache-2.0 */
/* suture report: the document an auditor or a change board reads, in Markdown or as one
 * self-contained HTML file, from the audit trail (chain verified first) and the current
 * state of the processes it names. */
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "assess/assess.h"
#include "cli/audit.h"
#include "cli/cli.h"
#include "cli/escape.h"
#include "cli/trust.h"
#include "patch/patch.h"
#include "patch/sign.h"
#include "report/report.h"

static const char usage[] =
	"usage: suture report [--since TIME] [--format md|html] [-o FILE] [--audit-log FILE]\n"
	"                     [--trusted-key PEM]...\n"
	"\n"
	"Writes the document an auditor reads: the suture version and the keys this machine\n"
	"trusts (with their key ids), the trusted patches of the store folders (id, CVEs,\n"
	"signer, functions replaced, target build), every event of the audit trail (apply,\n"
	"revert, repair, refusal, and rollout actions) with its time, process and freeze\n"
	"time, what is patched now (each patch the trail says is in and each patch a running\n"
	"process's registry records, confirmed live there and proved by verify), what is still\n"
	"exposed (processes mapping a store patch's build that verify does not prove it in)\n"
	"and the rollback plan: the exact `suture revert` command for every live patch. The\n"
	"trail's hash chain is verified first; a broken chain is stated at the top of the\n"
	"document. Text that came from processes is escaped.\n"
	"\n"
	"Options:\n"
	"  -s, --since TIME      only events at or after TIME (ISO-8601 UTC or a prefix of\n"
	"                        one: 2026-12-01, 2026-12-01T22:00); what is live is still\n"
	"                        worked out from the whole trail\n"
	"  -f, --format FMT      md (default) or html (one file, inline CSS, no scripts)\n"
	"  -o, --output FILE     write there instead of standard output\n"
	"  -l, --audit-log FILE  the trail to read (default: the one suture writes)\n"
	"  -k, --trusted-key PEM a key to trust besides the configured ones (repeatable)\n"
	"  -h, --help            this text\n"
	"\n"
	"Exit status: 0 written with the chain intact, 1 written with the chain broken or not\n"
	"written (the trail cannot be read), 2 a wrong command line.\n";

struct out {
	FILE *f;
	bool html;
};

/* Writes s escaped for the format: terminal escaping first (controls, bidi, bad UTF-8),
 * then HTML entities, or Markdown's table/inline specials. */
static void put(struct out *o, const char *s)
{
	if (!s)
		s = "";
	size_t n = strlen(s);
	char *e = malloc(CLI_ESC_SIZE(n));
	if (!e)
		return;
	cli_esc(s, e, CLI_ESC_SIZE(n));
	for (const char *p = e; *p; p++) {
		if (o->html) {
			switch (*p) {
			case '<': fputs("&lt;", o->f); break;
			case '>': fputs("&gt;", o->f); break;
			case '&': fputs("&amp;", o->f); break;
			case '"': fputs("&quot;", o->f); break;
			case '\'': fputs("&#39;", o->f); break;
			default: fputc(*p, o->f);
			}
		} else {
			if (strchr("|`*_<>[]#\\", *p))
				fputc('\\', o->f);
			fputc(*p, o->f);
		}
	}
	free(e);
}

static void heading(struct out *o, const char *h)
{
	if (o->html)
		fprintf(o->f, "<h2>%s</h2>\n", h);
	else
		fprintf(o->f, "\n## %s\n\n", h);
}

static void para(struct out *o, const char *cls, const char *text)
{
	if (o->html)
		fprintf(o->f, "<p class=\"%s\">", cls);
	put(o, text);
	fputs(o->html ? "</p>\n" : "\n\n", o->f);
}

static void row_begin(struct out *o) { fputs(o->html ? "<tr>" : "|", o->f); }
static void row_end(struct out *o) { fputs(o->html ? "</tr>\n" : "\n", o->f); }
static void cell(struct out *o, const char *s)
{
	fputs(o->html ? "<td>" : " ", o->f);
	put(o, s);
	fputs(o->html ? "</td>" : " |", o->f);
}

static void table_begin(struct out *o, const char *const *cols, size_t n)
{
	if (o->html) {
		fputs("<table><tr>", o->f);
		for (size_t i = 0; i < n; i++)
			fprintf(o->f, "<th>%s</th>", cols[i]);
		fputs("</tr>\n", o->f);
		return;
	}
	fputs("|", o->f);
	for (size_t i = 0; i < n; i++)
		fprintf(o->f, " %s |", cols[i]);
	fputs("\n|", o->f);
	for (size_t i = 0; i < n; i++)
		fputs("---|", o->f);
	fputs("\n", o->f);
}

static void table_end(struct out *o) { fputs(o->html ? "</table>\n" : "\n", o->f); }

static const char css[] =
	"body{font-family:sans-serif;margin:2em;color:#222;background:#fff}"
	"h1{color:#123a6b}h2{color:#123a6b;border-bottom:2px solid #123a6b}"
	"table{border-collapse:collapse;margin:1em 0}"
	"th{background:#123a6b;color:#fff}th,td{border:1px solid #999;padding:4px 8px;"
	"font-size:90%}"
	"tr.fail td{background:#fde2e2}tr.ok td{background:#e6f4e6}"
	".broken{background:#c62828;color:#fff;padding:1em;font-weight:bold}"
	".intact{background:#2e7d32;color:#fff;padding:.5em}"
	"pre{background:#f3f3f3;padding:1em;border:1px solid #ccc}";

static void keys_section(struct out *o, const struct cli_trust *t)
{
	heading(o, "Trusted keys");
	static const char *const cols[] = {"Key id", "File"};
	table_begin(o, cols, 2);
	for (size_t i = 0; i < t->nkeys; i++) {
		char id[32] = "";
		struct sut_err err;
		if (sut_key_id_of_file(t->keys[i], id, &err) < 0)
			snprintf(id, sizeof id, "unreadable");
		row_begin(o);
		cell(o, id);
		cell(o, t->keys[i]);
		row_end(o);
	}
	table_end(o);
	if (!t->nkeys)
		para(o, "note", "No key is trusted: no patch can be applied on this machine.");
}

static void patches_section(struct out *o, const struct sut_patch_set *s)
{
	heading(o, "Patches in the store");
	static const char *const cols[] = {"Id", "Version", "CVEs", "Signer", "Functions",
					   "Target", "Build id", "File"};
	table_begin(o, cols, 8);
	for (size_t i = 0; i < s->n; i++) {
		const struct sut_patch *p = s->v[i];
		char buf[2048] = "", bid[2 * SUT_BUILD_ID_MAX + 1] = "", ver[16];
		row_begin(o);
		cell(o, p->id);
		snprintf(ver, sizeof ver, "%u", p->version);
		cell(o, ver);
		for (size_t c = 0; c < p->ncves; c++)
			snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", c ? ", " : "",
				 p->cves[c]);
		cell(o, buf);
		cell(o, p->sig_key_id);
		buf[0] = 0;
		for (size_t f = 0; f < p->nfuncs; f++)
			snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", f ? ", " : "",
				 p->funcs[f].name);
		cell(o, buf);
		cell(o, p->target_name);
		for (size_t b = 0; b < p->build_id_len && b < SUT_BUILD_ID_MAX; b++)
			sprintf(bid + 2 * b, "%02x", p->build_id[b]);
		cell(o, bid);
		cell(o, s->paths[i]);
		row_end(o);
	}
	table_end(o);
	if (!s->n)
		para(o, "note", "No trusted patch file in the store folders.");
}

static void events_section(struct out *o, const struct sut_report *r, bool rollouts)
{
	heading(o, rollouts ? "Rollouts, waves and health checks"
			    : "Applies, reverts, repairs and refusals");
	static const char *const cols[] = {"Line", "Time", "Action", "Result", "PID",
					   "Process", "Patch", "Signer", "Functions",
					   "Freeze (us)", "uid/loginuid", "Detail"};
	table_begin(o, cols, 12);
	size_t shown = 0;
	for (size_t i = 0; i < r->nevents; i++) {
		const struct sut_report_event *e = &r->events[i];
		bool is_rollout = e->action && !strncmp(e->action, "rollout", 7);
		if (is_rollout != rollouts)
			continue;
		shown++;
		char n[32], pid[16], fn[24], fr[24], who[48];
		if (o->html)
			fprintf(o->f, "<tr class=\"%s\">", e->ok ? "ok" : "fail");
		else
			row_begin(o);
		snprintf(n, sizeof n, "%zu", e->line);
		cell(o, n);
		cell(o, e->time);
		cell(o, e->action);
		cell(o, e->ok ? "ok" : (e->action && !strcmp(e->action, "refuse") ? "refused"
										 : "FAILED"));
		snprintf(pid, sizeof pid, "%d", (int)e->pid);
		cell(o, e->pid ? pid : "");
		cell(o, e->comm);
		cell(o, e->patch);
		cell(o, e->signer);
		snprintf(fn, sizeof fn, "%llu", (unsigned long long)e->functions);
		cell(o, e->functions ? fn : "");
		snprintf(fr, sizeof fr, "%llu", (unsigned long long)e->freeze_us);
		cell(o, e->freeze_us ? fr : "");
		if (e->has_loginuid)
			snprintf(who, sizeof who, "%llu/%llu", (unsigned long long)e->uid,
				 (unsigned long long)e->loginuid);
		else
			snprintf(who, sizeof who, "%llu", (unsigned long long)e->uid);
		cell(o, who);
		char det[2048], ro[192] = "";
		if (e->rollout) /* rollout lines: which rollout and wave, then what it says */
			snprintf(ro, sizeof ro, "rollout %.100s%s%.0d: ", e->rollout,
				 e->wave ? ", wave " : "", e->wave);
		snprintf(det, sizeof det, "%s%.700s%s%.600s%s%.300s%s%.200s", ro,
			 e->detail ? e->detail : "", e->detail && e->error ? "; " : "",
			 e->error ? e->error : "",
			 (e->detail || e->error) && (e->file || e->repaired) ? "; " : "",
			 e->file ? e->file : "", e->file && e->repaired ? "; " : "",
			 e->repaired ? e->repaired : "");
		cell(o, det);
		row_end(o);
	}
	table_end(o);
	if (!shown)
		para(o, "note", rollouts ? "No rollout in the trail for this period."
					 : "No transaction in the trail for this period.");
}

static void live_section(struct out *o, const struct sut_report *r)
{
	heading(o, "Patched now");
	para(o, "note", "Every patch the audit trail says is in a process, and every patch a running "
			"process's registry records: confirmed live in the registry and proved by "
			"verify against the trusted patch files.");
	static const char *const cols[] = {"PID", "Process", "Patch", "Signer", "Known from", "State"};
	table_begin(o, cols, 6);
	for (size_t i = 0; i < r->nlive; i++) {
		const struct sut_report_live *l = &r->live[i];
		char pid[16];
		snprintf(pid, sizeof pid, "%d", (int)l->pid);
		if (o->html)
			fprintf(o->f, "<tr class=\"%s\">", l->proved ? "ok" : "fail");
		else
			row_begin(o);
		cell(o, pid);
		cell(o, l->comm);
		cell(o, l->patch);
		cell(o, l->signer);
		cell(o, l->in_trail ? "audit trail and registry"
				    : "registry only (not in this trail)");
		cell(o, l->proved ? "live (confirmed in the process's registry, proved by verify)"
				  : l->why);
		row_end(o);
	}
	table_end(o);
	if (!r->nlive)
		para(o, "note", "No process has a patch in, by the trail or by its registry.");
}

static void exposed_section(struct out *o, const struct sut_report *r, const struct sut_patch_set *s)
{
	heading(o, "Still exposed");
	if (!r->has_inv) {
		para(o, "note", r->inv_error);
		return;
	}
	const struct sut_inventory *inv = &r->inv;
	para(o, "note", "Every running process that maps the build a trusted store patch fixes, "
			"where verify does not prove that patch in force.");
	static const char *const cols[] = {"PID", "Process", "Object", "Patch it lacks", "CVEs"};
	table_begin(o, cols, 5);
	size_t shown = 0;
	for (size_t i = 0; i < inv->nprocs; i++) {
		const struct sut_inv_proc *p = &inv->procs[i];
		for (size_t j = 0; j < p->nobjs; j++) {
			const struct sut_inv_obj *ob = &p->objs[j];
			const struct sut_inv_file *fl = &inv->files[ob->file];
			for (size_t k = 0; k < s->n; k++) {
				const struct sut_patch *pa = s->v[k];
				if (pa->build_id_len != fl->build_id_len ||
				    memcmp(pa->build_id, fl->build_id, fl->build_id_len) ||
				    sut_vfy_proved(&p->vfy, pa->id))
					continue;
				char pid[16], cves[1024] = "";
				snprintf(pid, sizeof pid, "%d", (int)p->pid);
				for (size_t c = 0; c < pa->ncves; c++)
					snprintf(cves + strlen(cves), sizeof cves - strlen(cves),
						 "%s%s", c ? ", " : "", pa->cves[c]);
				if (o->html)
					fputs("<tr class=\"fail\">", o->f);
				else
					row_begin(o);
				cell(o, pid);
				cell(o, p->comm);
				cell(o, ob->path);
				cell(o, pa->id);
				cell(o, cves);
				row_end(o);
				shown++;
			}
		}
	}
	table_end(o);
	if (!shown)
		para(o, "note", "No process maps a build that a store patch fixes without it.");
}

static void plan_section(struct out *o, const struct sut_report *r)
{
	heading(o, "Rollback plan");
	para(o, "note", "Run these to take every live patch back out (newest first):");
	fputs(o->html ? "<pre>" : "```\n", o->f);
	size_t n = 0;
	for (size_t i = r->nlive; i-- > 0;) {
		if (!r->live[i].confirmed)
			continue;
		fprintf(o->f, "suture revert -p %d ", (int)r->live[i].pid);
		if (o->html)
			put(o, r->live[i].patch);
		else
			fputs(r->live[i].patch, o->f); /* ids are [A-Za-z0-9._+-] once applied */
		fputc('\n', o->f);
		n++;
	}
	if (!n)
		fputs("# nothing to revert\n", o->f);
	fputs(o->html ? "</pre>\n" : "```\n", o->f);
}

int cmd_report(int argc, char **argv)
{
	static const struct option lo[] = {{"since", required_argument, 0, 's'},
					   {"format", required_argument, 0, 'f'},
					   {"output", required_argument, 0, 'o'},
					   {"audit-log", required_argument, 0, 'l'},
					   {"trusted-key", required_argument, 0, 'k'},
					   {"help", no_argument, 0, 'h'},
					   {0, 0, 0, 0}};
	const char *since = NULL, *format = "md", *output = NULL, *log = NULL;
	const char *keys[32];
	size_t nkeys = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:f:o:l:k:h", lo, NULL)) != -1) {
		switch (c) {
		case 's': since = optarg; break;
		case 'f': format = optarg; break;
		case 'o': output = optarg; break;
		case 'l': log = optarg; break;
		case 'k':
			if (nkeys == 32) {
				cli_error("at most 32 --trusted-key options");
				return EXIT_USAGE;
			}
			keys[nkeys++] = optarg;
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("report takes no operands ('%s')", argv[optind]);
		return EXIT_USAGE;
	}
	if (strcmp(format, "md") && strcmp(format, "html")) {
		cli_error("--format wants md or html, not '%s'", format);
		return EXIT_USAGE;
	}
	if (!log)
		log = cli_audit_path();
	if (!log) {
		cli_error("the audit trail is off (SUTURE_AUDIT_LOG=off): name one with --audit-log");
		return EXIT_USAGE;
	}
	struct cli_trust t;
	cli_trust_load(&t, keys, nkeys);
	cli_trust_print_warnings(&t);
	struct sut_patch_set ps;
	cli_load_patch_set(NULL, 0, keys, nkeys, &ps);
	struct sut_report r;
	struct sut_err err;
	if (sut_report_load(log, since, &ps, &r, &err) < 0) {
		cli_error("%s", err.msg);
		cli_free_patch_set(&ps);
		cli_trust_free(&t);
		return 1;
	}
	struct out o = {.f = stdout, .html = !strcmp(format, "html")};
	if (output && !(o.f = fopen(output, "we"))) {
		cli_error("cannot write %s: %m", output);
		sut_report_free(&r);
		cli_free_patch_set(&ps);
		cli_trust_free(&t);
		return 1;
	}

	char now[40];
	cli_time((unsigned long long)time(NULL), now, sizeof now);
	if (o.html)
		fprintf(o.f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			     "<title>suture report</title><style>%s</style></head><body>\n"
			     "<h1>suture live-patching report</h1>\n",
			css);
	else
		fputs("# suture live-patching report\n\n", o.f);
	char line[1024];
	if (r.chain)
		snprintf(line, sizeof line,
			 "AUDIT TRAIL CHAIN BROKEN at line %zu: %s. Lines from there on cannot be "
			 "trusted.",
			 r.check.broken_line, r.check.reason);
	else
		snprintf(line, sizeof line, "Audit trail hash chain intact: %zu lines, last hash %s.",
			 r.check.lines, r.check.last_hash);
	para(&o, r.chain ? "broken" : "intact", line);
	snprintf(line, sizeof line, "Generated %s by suture 0.1.0 from %s%s%s.", now, log,
		 since ? ", events since " : "", since ? since : "");
	para(&o, "meta", line);
	if (r.skipped) {
		snprintf(line, sizeof line, "%zu line(s) of the trail are not JSON objects.",
			 r.skipped);
		para(&o, "broken", line);
	}
	keys_section(&o, &t);
	patches_section(&o, &ps);
	events_section(&o, &r, true);
	events_section(&o, &r, false);
	live_section(&o, &r);
	exposed_section(&o, &r, &ps);
	plan_section(&o, &r);
	if (o.html)
		fputs("</body></html>\n", o.f);
	int rc = r.chain ? 1 : 0;
	if (output && fclose(o.f) != 0) {
		cli_error("writing %s: %m", output);
		rc = 1;
	}
	cli_free_patch_set(&ps);
	cli_trust_free(&t);
	sut_report_free(&r);
	return rc;
}
