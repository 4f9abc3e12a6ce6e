/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/PID/maps parsing and lookups on the parsed list.
 *
 * The path column is kept exactly as the kernel shows it, spaces and " (deleted)" included:
 * callers that identify objects use (dev, inode) and the build-id, never the path. */
#include "proc/proc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* Parses one line "START-END PERMS OFFSET MAJ:MIN INODE [PATH]". The path starts after the
 * whitespace that pads the inode column and runs to the end of the line, so embedded
 * spaces survive. Returns 0, or -1 when the line is malformed. */
static int parse_line(char *line, struct sut_map *m)
{
	unsigned long long start, end, off, inode;
	unsigned maj, min;
	char perms[8];
	int pos = 0;
	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu%n", &start, &end, perms, &off, &maj, &min,
		   &inode, &pos) != 7)
		return -1;
	const char *path = line + pos;
	while (*path == ' ' || *path == '\t')
		path++;
	m->start = start;
	m->end = end;
	m->offset = off;
	snprintf(m->perms, sizeof m->perms, "%.4s", perms);
	m->dev_major = maj;
	m->dev_minor = min;
	m->inode = inode;
	m->path = sut_xstrdup(path);
	return 0;
}

int sut_proc_maps(pid_t pid, struct sut_maps *out, struct sut_err *err)
{
	char path[64];
	uint8_t *data;
	size_t len;
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	out->v = NULL;
	out->n = 0;
	if (sut_read_file(path, &data, &len, err) < 0) {
		if (errno == ENOENT || errno == ESRCH)
			return sut_errf(err, "pid %d: no such process", (int)pid);
		return sut_err_wrap(err, "pid %d: maps", (int)pid);
	}
	size_t cap = 0;
	char *text = sut_xmalloc(len + 1);
	memcpy(text, data, len);
	text[len] = 0;
	free(data);
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			out->v = sut_xrealloc(out->v, cap * sizeof *out->v);
		}
		if (parse_line(line, &out->v[out->n]) < 0) {
			sut_errf(err, "pid %d: maps: cannot parse line \"%.80s\"", (int)pid, line);
			free(text);
			sut_proc_maps_free(out);
			return -1;
		}
		out->n++;
	}
	free(text);
	return 0;
}

void sut_proc_maps_free(struct sut_maps *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* Binary search: the kernel lists mappings in ascending, non-overlapping order. */
const struct sut_map *sut_maps_find(const struct sut_maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct sut_map *x = &m->v[mid];
		if (addr < x->start)
			hi = mid;
		else if (addr >= x->end)
			lo = mid + 1;
		else
			return x;
	}
	return NULL;
}

const struct sut_map *sut_maps_find_memfd(const struct sut_maps *m, const char *name)
{
	char want[512], want_deleted[530];
	snprintf(want, sizeof want, "/memfd:%s", name);
	snprintf(want_deleted, sizeof want_deleted, "%s (deleted)", want);
	for (size_t i = 0; i < m->n; i++) {
		const char *p = m->v[i].path;
		if (strcmp(p, want) == 0 || strcmp(p, want_deleted) == 0)
			return &m->v[i];
	}
	return NULL;
}
