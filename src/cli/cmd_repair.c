/* SPDX-License-Identifier: Apache-2.0 */
/* suture repair: finish or roll back what a killed suture left in a process, on request.
 * apply and revert repair first on their own; status, exposure and apply --dry-run never
 * do (they only read), so this is the way to repair without changing anything else. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"
#include "cli/audit.h"
#include "cli/cli.h"
#include "cli/json.h"

static const char usage[] =
	"usage: suture repair -p PID... [--timeout MS] [--json]\n"
	"\n"
	"Repairs what a suture that was killed mid-transaction left in each named process:\n"
	"an interrupted apply is rolled back (every jump it wrote is taken back), an\n"
	"interrupted revert is finished, and patch memory that no record accounts for is\n"
	"released once no thread executes in it. The process is stopped for the repair\n"
	"only when there is something to repair. A process with nothing to repair is left\n"
	"untouched (not even stopped).\n"
	"\n"
	"The journal that says what to repair is the process's own memory: suture acts on\n"
	"it only when it passes validation and every address it names lies in the code of\n"
	"the object it names, mapped where it says. A journal naming anything else is\n"
	"refused and the process left alone (the error says why); one whose object is not\n"
	"mapped any more has no live jump, so it is cleared without writing any code. The\n"
	"patch id a journal names is reported (and written to the audit trail) as text\n"
	"from the process.\n"
	"\n"
	"apply and revert do the same repair before their own transaction; status,\n"
	"exposure and apply --dry-run never repair, they report an interrupted transaction.\n"
	"\n"
	"Options:\n"
	"  -p, --pid PID     a process to repair (repeatable)\n"
	"  -t, --timeout MS  how long to wait for another suture working on the process\n"
	"                    (default 5000)\n"
	"  -j, --json        one JSON document on standard output\n"
	"  -h, --help        this text\n"
	"\n"
	"Exit status: 0 when every process was repaired or needed nothing, 1 otherwise.\n";

int cmd_repair(int argc, char **argv)
{
	static const struct option lo[] = {{"pid", required_argument, 0, 'p'},
					   {"timeout", required_argument, 0, 't'},
					   {"json", no_argument, 0, 'j'},
					   {"help", no_argument, 0, 'h'},
					   {0, 0, 0, 0}};
	struct pidlist pids = {0};
	bool json = false;
	int timeout_ms = 5000, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:t:jh", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli_pid_arg(&pids, optarg) < 0)
				goto usage;
			break;
		case 't':
			if ((timeout_ms = cli_parse_timeout(optarg)) < 0)
				goto usage;
			break;
		case 'j': json = true; break;
		case 'h': fputs(usage, stdout); pidlist_free(&pids); return 0;
		default: goto usage;
		}
	}
	if (optind < argc) {
		cli_error("unexpected argument '%s'", argv[optind]);
		goto usage;
	}
	if (pids.n == 0) {
		cli_error("name the processes to repair with -p PID");
		goto usage;
	}
	struct json j;
	json_init(&j, stdout);
	if (json) {
		json_obj_begin(&j, NULL);
		json_arr_begin(&j, "results");
	}
	int rc = 0;
	for (size_t i = 0; i < pids.n; i++) {
		struct sut_txn_result r;
		struct sut_err err;
		bool ok = sut_repair_process(pids.v[i], timeout_ms, &r, &err) == 0;
		if (!ok) {
			cli_error("%s", err.msg);
			rc = 1;
		} else if (!json) {
			if (r.repaired)
				cli_info("pid %d: %s", (int)r.pid, r.repair_note);
			else
				cli_info("pid %d: nothing to repair", (int)r.pid);
		}
		if (!ok || r.repaired)
			cli_audit("repair", &r, NULL, ok ? NULL : err.msg);
		if (json) {
			json_obj_begin(&j, NULL);
			json_int(&j, "pid", pids.v[i]);
			json_bool(&j, "ok", ok);
			if (!ok)
				json_str(&j, "error", err.msg);
			json_bool(&j, "repaired", ok && r.repaired);
			if (ok && r.repaired) {
				json_str(&j, "note", r.repair_note);
				if (r.repair_claimed_id[0])
					json_str(&j, "journal_patch_id", r.repair_claimed_id);
			}
			json_obj_end(&j);
		}
	}
	if (json) {
		json_arr_end(&j);
		json_obj_end(&j);
		json_end(&j);
	}
	pidlist_free(&pids);
	return rc;
usage:
	fputs(usage, stderr);
	pidlist_free(&pids);
	return EXIT_USAGE;
}
