/* SPDX-License-Identifier: Apache-2.0 */
/* Which Debian package owns a file, asked of dpkg-query (the well-kept reader of dpkg's
 * database) once for all paths: `dpkg-query -S` for owners, then `dpkg-query -W` for the
 * version and source package of each owner. Merged /usr: a library mapped from
 * /usr/lib/... may be listed by its package under /lib/..., so a path dpkg does not know
 * is asked again under its other name. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assess/assess_internal.h"
#include "util/buf.h"
#include "util/run.h"

/* Runs argv with stdout into a buffer (stderr discarded). Returns the NUL-terminated output
 * (malloc'd), whatever the exit status (dpkg-query fails when one path has no owner), or
 * NULL when it could not run. */
static char *run(char *const *argv)
{
	int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct sut_run_opts o = {.in_fd = -1, .out_fd = -1, .err_fd = nul};
	char *out;
	struct sut_err err;
	sut_run_capture(argv, &o, &out, NULL, &err);
	if (nul >= 0)
		close(nul);
	return out;
}

static bool plain_path(const char *p)
{
	return p[0] == '/' && !strpbrk(p, "*?[]\\\n");
}

/* dpkg-query -S on the paths (indices idx[0..n)); fills pkg[idx[i]] when found. */
static void query_owners(char *const *paths, const size_t *idx, size_t n, char **pkg)
{
	if (!n)
		return;
	char **argv = sut_xcalloc(n + 3, sizeof *argv);
	argv[0] = "dpkg-query";
	argv[1] = "-S";
	for (size_t i = 0; i < n; i++)
		argv[2 + i] = paths[idx[i]];
	char *out = run(argv);
	free(argv);
	if (!out)
		return;
	/* "pkg1:arch, pkg2:arch: /path" per line; "diversion by ..." lines skipped */
	for (char *line = out, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (!strncmp(line, "diversion ", 10))
			continue;
		char *sep = strstr(line, ": /");
		if (!sep)
			continue;
		*sep = 0;
		const char *path = sep + 2;
		char *comma = strchr(line, ',');
		if (comma)
			*comma = 0; /* a shared path: the first owner */
		for (size_t i = 0; i < n; i++)
			if (!pkg[idx[i]] && !strcmp(paths[idx[i]], path))
				pkg[idx[i]] = sut_xstrdup(line);
	}
	free(out);
}

/* The other spelling of a path under merged /usr ("/usr/lib/x" <-> "/lib/x"), or NULL. */
static char *other_spelling(const char *p)
{
	if (!strncmp(p, "/usr/lib/", 9) || !strncmp(p, "/usr/bin/", 9) || !strncmp(p, "/usr/sbin/", 10))
		return sut_xstrdup(p + 4);
	if (!strncmp(p, "/lib/", 5) || !strncmp(p, "/bin/", 5) || !strncmp(p, "/sbin/", 6))
		return sut_xasprintf("/usr%s", p);
	return NULL;
}

void sut_dpkg_owners(char *const *paths, size_t n, char **pkg, char **ver, char **src)
{
	/* one dpkg-query -S for every path and its other spelling (each call reads the whole
	 * database: about 0.2 s) */
	char **all = sut_xcalloc(2 * n + 1, sizeof *all);
	size_t *idx = sut_xcalloc(2 * n + 1, sizeof *idx), m = 0;
	for (size_t i = 0; i < n; i++) {
		pkg[i] = ver[i] = src[i] = NULL;
		if (!plain_path(paths[i]))
			continue;
		all[m] = sut_xstrdup(paths[i]);
		idx[m] = m;
		m++;
		char *alt = other_spelling(paths[i]);
		if (alt) {
			all[m] = alt;
			idx[m] = m;
			m++;
		}
	}
	char **found = sut_xcalloc(m + 1, sizeof *found);
	query_owners(all, idx, m, found);
	for (size_t i = 0, k = 0; i < n; i++) {
		if (!plain_path(paths[i]))
			continue;
		char *alt = other_spelling(paths[i]);
		char *a = found[k], *b = alt ? found[k + 1] : NULL;
		pkg[i] = a ? a : b;
		if (a && b)
			free(b);
		k += alt ? 2 : 1;
		free(alt);
	}
	for (size_t i = 0; i < m; i++)
		free(all[i]);
	free(all);
	free(found);
	/* versions and sources, one call for the distinct packages */
	char **argv = sut_xcalloc(n + 4, sizeof *argv);
	size_t na = 0;
	argv[na++] = "dpkg-query";
	argv[na++] = "-W";
	argv[na++] = "-f=${binary:Package}\\t${Version}\\t${source:Package}\\n";
	size_t first = na;
	for (size_t i = 0; i < n; i++) {
		if (!pkg[i])
			continue;
		bool dup = false;
		for (size_t a = first; a < na; a++)
			dup |= !strcmp(argv[a], pkg[i]);
		if (!dup)
			argv[na++] = pkg[i];
	}
	char *out = na > first ? run(argv) : NULL;
	free(argv);
	for (char *line = out, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2)
			continue;
		*t1 = *t2 = 0;
		for (size_t i = 0; i < n; i++) {
			if (!pkg[i] || ver[i])
				continue;
			/* dpkg -S names "libssl3:amd64"; binary:Package is the same spelling */
			if (!strcmp(pkg[i], line)) {
				ver[i] = sut_xstrdup(t1 + 1);
				src[i] = sut_xstrdup(t2 + 1);
			}
		}
	}
	free(out);
	free(idx);
}
