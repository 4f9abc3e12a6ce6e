/* SPDX-License-Identifier: Apache-2.0 */
/* Process and thread enumeration from /proc: which pids exist, their names, their threads.
 * Read-only snapshots; the ptrace layer re-reads them to reach a stable thread set. */
#include "proc/proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"

bool sut_proc_exists(pid_t pid)
{
	char path[64];
	struct stat st;
	if (pid <= 0)
		return false;
	snprintf(path, sizeof path, "/proc/%d", (int)pid);
	return stat(path, &st) == 0;
}

int sut_proc_comm(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	if (!cap)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f || !fgets(buf, (int)cap, f)) {
		if (f)
			fclose(f);
		snprintf(buf, cap, "?");
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* The stat file at path (relative to dirfd, or absolute with AT_FDCWD) read into buf in
 * one read: a pointer to the fields after "(comm) ", or NULL. */
static const char *stat_fields_at(int dirfd, const char *path, char *buf, size_t cap)
{
	int fd = cap > 1 ? openat(dirfd, path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] ? p + 2 : NULL;
}

const char *sut_proc_stat_fields(pid_t pid, pid_t tid, char *buf, size_t cap)
{
	char path[96];
	if (tid)
		snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	else
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	return stat_fields_at(AT_FDCWD, path, buf, cap);
}

const char *sut_proc_task_stat_at(int dirfd, pid_t pid, pid_t tid, char *buf, size_t cap)
{
	if (dirfd < 0)
		return sut_proc_stat_fields(pid, tid, buf, cap);
	char name[32];
	snprintf(name, sizeof name, "%d/stat", (int)tid);
	return stat_fields_at(dirfd, name, buf, cap);
}

long sut_proc_num_threads(int dirfd, pid_t pid, pid_t tid)
{
	char buf[1024];
	const char *p = sut_proc_task_stat_at(dirfd, pid, tid, buf, sizeof buf);
	/* num_threads is field 20; the state letter after the name is field 3 */
	for (int field = 3; p && field < 20; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return -1;
	long v = 0;
	int digits = 0;
	for (; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
		v = v * 10 + (*p - '0');
	return digits && (*p == ' ' || *p == '\n' || !*p) ? v : -1;
}

/* Collects the all-digit entries of a /proc directory as pids. */
static int numeric_entries(const char *dir, pid_t **out, size_t *n, struct sut_err *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return sut_errno(err, "%s", dir);
	pid_t *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		const char *s = de->d_name;
		if (!isdigit((unsigned char)s[0]))
			continue;
		char *end;
		long id = strtol(s, &end, 10);
		if (*end || id <= 0)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			v = sut_xrealloc(v, cap * sizeof *v);
		}
		v[cnt++] = (pid_t)id;
	}
	int rerr = errno;
	closedir(d);
	if (rerr) {
		free(v);
		errno = rerr;
		return sut_errno(err, "%s: readdir", dir);
	}
	*out = v ? v : sut_xmalloc(sizeof *v);
	*n = cnt;
	return 0;
}

int sut_proc_threads(pid_t pid, pid_t **tids, size_t *n, struct sut_err *err)
{
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
	if (numeric_entries(dir, tids, n, err) < 0) {
		if (errno == ENOENT) /* sut_errno keeps errno: the pid is gone */
			return sut_errf(err, "pid %d: no such process", (int)pid);
		return sut_err_wrap(err, "pid %d: threads", (int)pid);
	}
	return 0;
}

int sut_proc_list(pid_t **pids, size_t *n, struct sut_err *err)
{
	return numeric_entries("/proc", pids, n, err);
}
