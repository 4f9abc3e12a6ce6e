/* SPDX-License-Identifier: Apache-2.0 */
/* suture: live-patch running processes. Entry point and subcommand dispatch. */
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/stop.h"
#include "util/env.h"

static const char usage[] =
	"usage: suture COMMAND [OPTIONS] [ARGS]\n"
	"\n"
	"Live-patch functions of executables and shared libraries inside running processes.\n"
	"\n"
	"Commands:\n"
	"  build    make a patch file from a source tree and a unified diff\n"
	"  inspect  show what a patch file contains and which build it is for\n"
	"  apply    apply patches to running processes (-p PID or --all)\n"
	"  revert   take applied patches back out of running processes\n"
	"  status   show the patches applied in running processes\n"
	"  exposure which running processes map a patch's build and are not patched yet\n"
	"  repair   finish or roll back what a killed suture left in a process\n"
	"  keygen   make a key pair for signing patches\n"
	"  audit    check the audit trail's hash chain (audit verify)\n"
	"  verify   prove that every patched process runs exactly the signed code\n"
	"  scan     which processes are exposed to which CVE, most urgent first\n"
	"  store    the patches sutured keeps applied (add, list, remove, policy)\n"
	"  daemon   ask sutured for its status, or to reload the store\n"
	"  package  make a Debian package that installs a patch into the store\n"
	"  report   the document an auditor reads: trail, patches, live state, rollback plan\n"
	"  rollout  patch a host's processes in waves, with health checks and rollback\n"
	"\n"
	"Run `suture COMMAND --help` for the options of a command. Exit status: 0 when every\n"
	"named process ended in the asked state; 1 when at least one did not (those are left\n"
	"exactly as they were); 2 for a wrong command line. With --json, one JSON document is\n"
	"written to standard output; messages always go to standard error.\n"
	"\n"
	"When suture runs with privileges another user handed it (sudo from another user,\n"
	"or a set-id start), the SUTURE_* environment variables are ignored, with a note:\n"
	"options say the same things.\n";

/* Says once which SUTURE_* variables are ignored, and why (util/env.h). */
static void note_ignored_environment(void)
{
	size_t n;
	const char **v = sut_env_ignored(&n);
	if (!n)
		return;
	const char *sudo = getenv("SUDO_UID");
	fprintf(stderr, "suture: note: running with privileges handed over by %s%s; ignoring",
		sudo ? "uid " : "a set-id start", sudo ? sudo : "");
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(v[i], '=');
		fprintf(stderr, " %.*s", (int)(eq ? eq - v[i] : (long)strlen(v[i])), v[i]);
	}
	fputs(" (use the command-line options instead)\n", stderr);
	free(v);
}

int main(int argc, char **argv)
{
	/* libelf's one-time initialisation, before any worker thread may open a file */
	elf_version(EV_CURRENT);
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		puts("suture 0.1.0");
		return 0;
	}
	/* changes: commands whose transactions no signal may cut short (cli/stop.h) */
	static const struct {
		const char *name;
		int (*fn)(int, char **);
		bool changes;
	} cmds[] = {{"build", cmd_build, false},     {"inspect", cmd_inspect, false},
		    {"apply", cmd_apply, true},	     {"revert", cmd_revert, true},
		    {"status", cmd_status, false},   {"keygen", cmd_keygen, false},
		    {"exposure", cmd_exposure, false}, {"audit", cmd_audit, false},
		    {"repair", cmd_repair, true},   {"verify", cmd_verify, false},
		    {"scan", cmd_scan, false},	     {"store", cmd_store, false},
		    {"daemon", cmd_daemon, false},   {"package", cmd_package, false},
		    {"report", cmd_report, false},  {"rollout", cmd_rollout, true}};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(cmd, cmds[i].name)) {
			note_ignored_environment();
			if (cmds[i].changes)
				cli_stop_init();
			return cmds[i].fn(argc - 1, argv + 1);
		}
	cli_error("unknown command '%s'", cmd);
	fputs(usage, stderr);
	return EXIT_USAGE;
}
