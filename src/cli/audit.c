/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "proc/proc.h"
#include "util/buf.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool warned;

static const char *log_path(void)
{
	const char *p = getenv("SUTURE_AUDIT_LOG");
	if (p && !strcmp(p, "off"))
		return NULL;
	return p && *p ? p : SUT_AUDIT_DEFAULT;
}

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 && errno == ENOENT) {
		/* first use on this machine: create the directory (one level) */
		char *dir = sut_xstrdup(path), *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = 0;
			mkdir(dir, 0750);
		}
		free(dir);
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	}
	return fd;
}

void cli_audit(const char *action, const struct sut_txn_result *r, const char *patch_id,
	       const char *error)
{
	const char *path = log_path();
	if (!path)
		return;
	char *line = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&line, &len);
	if (!m)
		return;
	char when[32], comm[64] = "?";
	cli_time((unsigned long long)time(NULL), when, sizeof when);
	sut_proc_comm(r->pid, comm, sizeof comm);
	struct json j;
	json_init(&j, m);
	json_obj_begin(&j, NULL);
	json_str(&j, "time", when);
	json_str(&j, "action", action);
	json_int(&j, "pid", r->pid);
	json_str(&j, "comm", comm);
	json_str(&j, "patch", patch_id);
	json_bool(&j, "ok", error == NULL);
	if (error)
		json_str(&j, "error", error);
	if (r->repaired)
		json_str(&j, "repaired", r->repair_note);
	if (r->repaired && r->repair_claimed_id[0]) /* text that came from the process */
		json_str(&j, "repair_id_from_process", r->repair_claimed_id);
	json_uint(&j, "functions", r->nfuncs);
	json_int(&j, "attempts", r->attempts);
	json_uint(&j, "freeze_us", r->freeze_ns / 1000);
	json_uint(&j, "uid", (unsigned long long)getuid());
	json_int(&j, "suture_pid", getpid());
	json_obj_end(&j);
	json_end(&j);
	fclose(m);
	pthread_mutex_lock(&lock);
	int fd = open_log(path);
	/* one write per line: O_APPEND keeps lines of concurrent suture runs whole */
	if (fd < 0 || write(fd, line, len) != (ssize_t)len) {
		if (!warned)
			cli_error("warning: audit trail %s not written: %s", path, strerror(errno));
		warned = true;
	}
	if (fd >= 0)
		close(fd);
	pthread_mutex_unlock(&lock);
	free(line);
}
