/* SPDX-License-Identifier: Apache-2.0 */
/* suture audit verify: checks the hash chain of the audit trail. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/audit.h"
#include "cli/cli.h"
#include "cli/json.h"

static const char usage[] =
	"usage: suture audit verify [--log FILE] [--json]\n"
	"\n"
	"Checks the hash chain of the audit trail: every line must carry in \"prev\" the\n"
	"SHA-256 of the line before it, and the first line the anchor (64 zeros). A line that\n"
	"was changed, inserted or removed breaks the chain at the line after it; the first\n"
	"such line is reported. Removing lines from the end cannot be seen in the file itself:\n"
	"compare the last hash printed with one kept elsewhere. The format is described in\n"
	"docs/audit.md.\n"
	"\n"
	"Options:\n"
	"  -l, --log FILE  the trail to check (default: the one suture writes, "
	SUT_AUDIT_DEFAULT "\n"
	"                  or $SUTURE_AUDIT_LOG when the environment is believed)\n"
	"  -j, --json      one JSON document on standard output: {log, lines, ok,\n"
	"                  broken_line, reason, last_hash}\n"
	"  -h, --help      this text\n"
	"\n"
	"Exit status: 0 the chain is intact, 1 it is broken or the file cannot be read,\n"
	"2 a wrong command line.\n";

int cmd_audit(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "verify") != 0)) {
		if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			fputs(usage, stdout);
			return 0;
		}
		cli_error("audit wants a subcommand: verify");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	static const struct option lo[] = {{"log", required_argument, 0, 'l'},
					   {"json", no_argument, 0, 'j'},
					   {"help", no_argument, 0, 'h'},
					   {0, 0, 0, 0}};
	const char *path = NULL;
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "l:jh", lo, NULL)) != -1) {
		switch (c) {
		case 'l': path = optarg; break;
		case 'j': json = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("audit verify takes no operands ('%s')", argv[optind]);
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (!path)
		path = cli_audit_path();
	if (!path) {
		cli_error("the audit trail is off (SUTURE_AUDIT_LOG=off): name one with --log");
		return EXIT_USAGE;
	}
	struct sut_audit_check chk;
	struct sut_err err;
	int rc = sut_audit_verify(path, &chk, &err);
	if (rc < 0) {
		cli_error("%s", err.msg);
		return 1;
	}
	if (json) {
		struct json j;
		json_init(&j, stdout);
		json_obj_begin(&j, NULL);
		json_str(&j, "log", path);
		json_uint(&j, "lines", chk.lines);
		json_bool(&j, "ok", rc == 0);
		if (rc) {
			json_uint(&j, "broken_line", chk.broken_line);
			json_str(&j, "reason", chk.reason);
		}
		json_str(&j, "last_hash", chk.last_hash);
		json_obj_end(&j);
		json_end(&j);
	}
	if (rc)
		cli_error("audit trail %s: chain broken at line %zu: %s (%zu line%s before it "
			  "verified)",
			  path, chk.broken_line, chk.reason, chk.lines, chk.lines == 1 ? "" : "s");
	else
		cli_info("audit trail %s: %zu line%s, chain intact (last hash %s)", path, chk.lines,
			 chk.lines == 1 ? "" : "s", chk.last_hash);
	return rc ? 1 : 0;
}
