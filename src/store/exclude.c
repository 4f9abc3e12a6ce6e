/* SPDX-License-Identifier: Apache-2.0 */
/* Exclusion rules: by executable path and by systemd unit or cgroup. What is read from
 * /proc/PID/ is the target's to shape (its cgroup path may be named by a delegated
 * user, its exe path by whoever made the file), so it is bounded here and only ever
 * compared, never interpreted. */
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc/proc.h"
#include "store/store.h"

#define CGROUP_READ_MAX 4096

static const char *const unit_suffixes[] = {".service", ".scope", ".socket", ".mount",
					    ".swap", ".slice"};

static bool is_unit(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof unit_suffixes / sizeof unit_suffixes[0]; i++) {
		size_t l = strlen(unit_suffixes[i]);
		if (len > l && !memcmp(s + len - l, unit_suffixes[i], l))
			return true;
	}
	return false;
}

void sut_cgroup_unit(const char *cg, char *out, size_t cap)
{
	/* the innermost unit wins, except that a slice only counts when nothing inside it
	 * is a unit (a service within system.slice is that service) */
	const char *best = NULL, *slice = NULL;
	size_t best_len = 0, slice_len = 0;
	for (const char *s = cg; *s;) {
		while (*s == '/')
			s++;
		const char *e = strchrnul(s, '/');
		size_t len = (size_t)(e - s);
		if (len && is_unit(s, len)) {
			if (len > 6 && !memcmp(s + len - 6, ".slice", 6)) {
				slice = s;
				slice_len = len;
			} else {
				best = s;
				best_len = len;
			}
		}
		s = e;
	}
	if (!best) {
		best = slice;
		best_len = slice_len;
	}
	if (!best || cap == 0) {
		if (cap)
			out[0] = 0;
		return;
	}
	snprintf(out, cap, "%.*s", (int)best_len, best);
}

/* The process's cgroup path: the unified hierarchy's ("0::/..."), else systemd's v1 one. */
static int read_cgroup(pid_t pid, char *out, size_t cap)
{
	char path[64], buf[CGROUP_READ_MAX + 1];
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, CGROUP_READ_MAX);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	out[0] = 0;
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (!strncmp(line, "0::", 3)) {
			snprintf(out, cap, "%s", line + 3);
			return 0;
		}
		char *p = strstr(line, ":name=systemd:");
		if (p)
			snprintf(out, cap, "%s", p + strlen(":name=systemd:"));
	}
	return 0;
}

static const char *match_any(char *const *patterns, const char *s)
{
	for (size_t i = 0; patterns && patterns[i]; i++)
		if (fnmatch(patterns[i], s, 0) == 0)
			return patterns[i];
	return NULL;
}

int sut_conf_excludes(const struct sut_conf *c, pid_t pid, char *why, size_t cap)
{
	const char *m;
	if (c->exe_patterns && c->exe_patterns[0]) {
		char link[64], exe[4096];
		snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
		ssize_t n = readlink(link, exe, sizeof exe - 1);
		if (n >= 0) {
			exe[n] = 0;
			/* a replaced executable reads "PATH (deleted)": match the path */
			char *del = strstr(exe, " (deleted)");
			if (del && del[10] == 0)
				*del = 0;
			if ((m = match_any(c->exe_patterns, exe)) != NULL) {
				snprintf(why, cap, "executable %s matches '%s'", exe, m);
				return 1;
			}
		} else if (!sut_proc_exists(pid)) {
			return -1;
		}
	}
	bool units = c->unit_patterns && c->unit_patterns[0];
	bool cgroups = c->cgroup_patterns && c->cgroup_patterns[0];
	if (!units && !cgroups)
		return 0;
	char cg[CGROUP_READ_MAX + 1];
	if (read_cgroup(pid, cg, sizeof cg) < 0)
		return -1;
	if (cgroups && (m = match_any(c->cgroup_patterns, cg)) != NULL) {
		snprintf(why, cap, "cgroup %s matches '%s'", cg, m);
		return 1;
	}
	char unit[256];
	sut_cgroup_unit(cg, unit, sizeof unit);
	if (units && unit[0] && (m = match_any(c->unit_patterns, unit)) != NULL) {
		snprintf(why, cap, "unit %s matches '%s'", unit, m);
		return 1;
	}
	return 0;
}
