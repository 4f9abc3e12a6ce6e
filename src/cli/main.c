/* SPDX-License-Identifier: Apache-2.0 */
/* suture: live-patch running processes. Entry point and subcommand dispatch. */
#include <libelf.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

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
	"  keygen   make a key pair for signing patches\n"
	"  store    the patches sutured keeps applied (add, list, remove, policy)\n"
	"  daemon   ask sutured for its status, or to reload the store\n"
	"  package  make a Debian package that installs a patch into the store\n"
	"\n"
	"Run `suture COMMAND --help` for the options of a command. Exit status: 0 when every\n"
	"named process ended in the asked state; 1 when at least one did not (those are left\n"
	"exactly as they were); 2 for a wrong command line. With --json, one JSON document is\n"
	"written to standard output; messages always go to standard error.\n";

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
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {{"build", cmd_build},   {"inspect", cmd_inspect}, {"apply", cmd_apply},
		    {"revert", cmd_revert}, {"status", cmd_status}, {"keygen", cmd_keygen},
		    {"exposure", cmd_exposure}, {"store", cmd_store},
		    {"daemon", cmd_daemon}, {"package", cmd_package}};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(cmd, cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	cli_error("unknown command '%s'", cmd);
	fputs(usage, stderr);
	return EXIT_USAGE;
}
