/* SPDX-License-Identifier: Apache-2.0 */
/* The processes of the read-only commands and their per-process lines (cli/procs.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/procs.h"

int cli_pids_discover(struct pidlist *l, enum sut_discover what)
{
	struct sut_found_process *found;
	size_t n = 0;
	struct sut_err err;
	if (sut_discover_processes(what, NULL, 0, &found, &n, &err) < 0) {
		cli_error("%s", err.msg);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		pidlist_add(l, found[i].pid);
	sut_found_processes_free(found, n);
	return 0;
}

const char *cli_proc_label(pid_t pid, const char *comm, char *buf, size_t cap)
{
	char esc[CLI_ESC_SIZE(64)];
	snprintf(buf, cap, "pid %d (%s)", (int)pid, cli_esc(comm, esc, sizeof esc));
	return buf;
}

const char *cli_vfy_issue_text(const struct sut_vfy_issue *i, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s%s%s", i->patch_id, i->patch_id[0] ? ": " : "", i->function,
		 i->function[0] ? ": " : "", i->msg);
	return buf;
}

void cli_json_vfy_issues(struct json *j, const char *key, const struct sut_vfy_result *r)
{
	json_arr_begin(j, key);
	for (size_t i = 0; i < r->nissues; i++) {
		const struct sut_vfy_issue *s = &r->issues[i];
		json_obj_begin(j, NULL);
		json_str(j, "kind", sut_vfy_kind_name(s->kind));
		json_str(j, "patch", s->patch_id[0] ? s->patch_id : NULL);
		json_str(j, "function", s->function[0] ? s->function : NULL);
		json_str(j, "message", s->msg);
		json_obj_end(j);
	}
	json_arr_end(j);
}
