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

/* Reads hex digits at *p up to the byte `stop` (consumed). At most 16 digits, at least one.
 * Returns 0, or -1 (anything else, or too long). */
static int hex_field(const char **p, char stop, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int n = 0;
	for (;; s++, n++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			break;
		if (n == 16)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	if (!n || *s != stop)
		return -1;
	*p = s + 1;
	*out = v;
	return 0;
}

/* Parses one line "START-END PERMS OFFSET MAJ:MIN INODE [PATH]". The path starts after the
 * whitespace that pads the inode column and runs to the end of the line, so embedded
 * spaces survive. Strict, field by field (the freeze re-reads a thousand-thread process's
 * two thousand lines while every thread is held: sscanf took 1 ms of it). Returns 0, or
 * -1 when the line is malformed. */
static int parse_line(char *line, struct sut_map *m)
{
	const char *p = line;
	uint64_t start, end, off, maj, min, inode = 0;
	if (hex_field(&p, '-', &start) < 0 || hex_field(&p, ' ', &end) < 0)
		return -1;
	for (int i = 0; i < 4; i++)
		if (!p[i] || p[i] == ' ')
			return -1;
	memcpy(m->perms, p, 4);
	m->perms[4] = 0;
	p += 4;
	if (*p++ != ' ' || hex_field(&p, ' ', &off) < 0 || hex_field(&p, ':', &maj) < 0 ||
	    hex_field(&p, ' ', &min) < 0)
		return -1;
	int digits = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (inode > (UINT64_MAX - 9) / 10)
			return -1;
		inode = inode * 10 + (uint64_t)(*p - '0');
	}
	if (!digits || (*p && *p != ' ' && *p != '\t') || maj > UINT32_MAX || min > UINT32_MAX)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	m->start = start;
	m->end = end;
	m->offset = off;
	m->dev_major = (unsigned)maj;
	m->dev_minor = (unsigned)min;
	m->inode = inode;
	m->path = sut_xstrdup(p);
	return 0;
}

int sut_proc_maps_parse(const char *data, size_t len, struct sut_maps *out, struct sut_err *err)
{
	out->v = NULL;
	out->n = 0;
	size_t cap = 0;
	char *text = sut_xmalloc(len + 1);
	if (len)
		memcpy(text, data, len);
	text[len] = 0;
	if (strlen(text) != len) {
		free(text);
		return sut_errf(err, "maps: a NUL byte in the text");
	}
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			out->v = sut_xrealloc(out->v, cap * sizeof *out->v);
		}
		if (parse_line(line, &out->v[out->n]) < 0) {
			sut_errf(err, "maps: cannot parse line \"%.80s\"", line);
			free(text);
			sut_proc_maps_free(out);
			return -1;
		}
		out->n++;
	}
	free(text);
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
	int rc = sut_proc_maps_parse((const char *)data, len, out, err);
	free(data);
	if (rc < 0)
		return sut_err_wrap(err, "pid %d", (int)pid);
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
