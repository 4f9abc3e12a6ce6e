/* SPDX-License-Identifier: Apache-2.0 */
/* Rebuilding part of a source package as Debian's build daemons did: the source unpacked by
 * dpkg-source -x (Debian's patches applied) in /build/reproducible-path/SOURCE-UPSTREAM,
 * debian/rules' own configure step, the flags dpkg-buildflags prints under the options the
 * rules export (read by running dpkg-buildflags inside make with debian/rules loaded), and
 * SOURCE_DATE_EPOCH from debian/changelog. Then only the recipe's make goals. */
#include "distro/distro_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"

/* The upstream part of a Debian version: no epoch, no Debian revision. */
char *dst_upstream_version(const char *version)
{
	const char *colon = strchr(version, ':');
	const char *v = colon ? colon + 1 : version;
	const char *dash = strrchr(v, '-');
	return dash ? sut_xasprintf("%.*s", (int)(dash - v), v) : sut_xstrdup(v);
}

static char *find_dsc(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	struct dirent *e;
	char *r = NULL;
	while (!r && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 4 && !strcmp(e->d_name + l - 4, ".dsc"))
			r = sut_xasprintf("%s/%s", dir, e->d_name);
	}
	closedir(d);
	return r;
}

/* "export NAME="VALUE"" lines of dpkg-buildflags --export=sh into NAME=VALUE entries. */
static char **parse_exports(char *text, size_t *n)
{
	char **env = NULL;
	*n = 0;
	char *save;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "export ", 7))
			continue;
		char *name = line + 7, *eq = strchr(name, '=');
		if (!eq)
			continue;
		*eq = 0;
		char *val = eq + 1;
		size_t l = strlen(val);
		if (l >= 2 && val[0] == '"' && val[l - 1] == '"') {
			val[l - 1] = 0;
			val++;
		}
		env = sut_xrealloc(env, (*n + 2) * sizeof *env);
		env[(*n)++] = sut_xasprintf("%s=%s", name, val);
		env[*n] = NULL;
	}
	return env;
}

void dst_env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* Runs make with a tick every few seconds for progress; returns like dst_run_ok. */
static int make_goals(const struct sut_distro_opts *o, const char *dir,
		      const char *const *goals, int jobs, char **env, const char *log,
		      const char *what, struct sut_err *err)
{
	char **argv = NULL;
	size_t n = 0;
	argv = sut_xrealloc(argv, 4 * sizeof *argv);
	argv[n++] = sut_xstrdup("make");
	argv[n++] = jobs > 1 ? sut_xasprintf("-j%d", jobs) : sut_xstrdup("-j1");
	for (size_t i = 0; goals[i]; i++) {
		argv = sut_xrealloc(argv, (n + 2) * sizeof *argv);
		argv[n++] = sut_xstrdup(goals[i]);
	}
	argv[n] = NULL;
	int rc = dst_run_progress(o, dir, argv, env, log, what, err);
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	free(argv);
	return rc;
}

int dst_rebuild(const struct sut_distro_opts *o, const struct dst_recipe *r,
		const char *srcdir, const char *tree, const char *log, int jobs,
		long long *sde, struct sut_err *err)
{
	char *dsc = find_dsc(srcdir);
	if (!dsc)
		return sut_errf(err, "no .dsc file in %s", srcdir);
	dst_progress(o, "unpacking the source with Debian's patches (dpkg-source -x) into %s", tree);
	char *argv_x[] = { "dpkg-source", "--no-check", "-x", dsc, (char *)tree, NULL };
	int rc = dst_run_ok(NULL, argv_x, NULL, log, "dpkg-source -x", err);
	free(dsc);
	if (rc)
		return -1;

	char *stamp = NULL;
	char *argv_c[] = { "dpkg-parsechangelog", "-l", "debian/changelog", "-STimestamp", NULL };
	rc = dst_capture(tree, argv_c, NULL, &stamp, err);
	if (rc != 0)
		return rc < 0 ? -1 : sut_errf(err, "%s/debian/changelog: dpkg-parsechangelog failed (exit status %d)", tree, rc);
	char *end;
	errno = 0;
	*sde = strtoll(stamp, &end, 10);
	if (errno || *end || *sde <= 0) {
		rc = sut_errf(err, "%s/debian/changelog: timestamp \"%s\" is not a date", tree, stamp);
		free(stamp);
		return rc;
	}
	free(stamp);

	/* Debian's flags as debian/rules sees them: make loads the rules (which export
	 * DEB_BUILD_MAINT_OPTIONS and friends) and runs dpkg-buildflags in that environment. */
	char *flags = NULL;
	char *argv_f[] = { "make", "-s", "--no-print-directory", "-f", "debian/rules", "--eval",
			   "suture-buildflags: ; @dpkg-buildflags --export=sh", "suture-buildflags",
			   NULL };
	rc = dst_capture(tree, argv_f, NULL, &flags, err);
	if (rc != 0)
		return rc < 0 ? -1 : sut_errf(err, "%s: reading Debian's build flags through debian/rules failed (exit status %d)", tree, rc);
	size_t nenv;
	char **env = parse_exports(flags, &nenv);
	free(flags);
	env = sut_xrealloc(env, (nenv + 3) * sizeof *env);
	env[nenv++] = sut_xasprintf("SOURCE_DATE_EPOCH=%lld", *sde);
	env[nenv++] = sut_xstrdup("DEB_BUILD_OPTIONS=nocheck");
	env[nenv] = NULL;
	for (size_t i = 0; env[i]; i++)
		if (!strncmp(env[i], "CFLAGS=", 7))
			dst_progress(o, "Debian's flags: %s; SOURCE_DATE_EPOCH=%lld", env[i], *sde);

	dst_progress(o, "configuring as debian/rules does (debian/rules override_dh_auto_configure)");
	char *argv_r[] = { "debian/rules", "override_dh_auto_configure", NULL };
	rc = dst_run_ok(tree, argv_r, env, log, "debian/rules override_dh_auto_configure", err);
	char *bdir = sut_xasprintf("%s/%s", tree, r->build_dir);
	if (rc == 0 && !dst_exists(bdir))
		rc = sut_errf(err, "debian/rules override_dh_auto_configure made no %s", bdir);
	if (rc == 0) {
		dst_progress(o, "generating headers in %s (make build_generated)", r->build_dir);
		rc = make_goals(o, bdir, r->make_first, 1, env, log, "make build_generated", err);
	}
	if (rc == 0) {
		char *list = dst_recipe_target_list(r);
		dst_progress(o, "compiling %s with %d job%s (%s on 2 cores)", list, jobs,
			     jobs == 1 ? "" : "s", r->minutes);
		char *what = sut_xasprintf("building %s in %s", list, bdir);
		rc = make_goals(o, bdir, r->make_goals, jobs, env, log, what, err);
		free(what);
		free(list);
	}
	free(bdir);
	dst_env_free(env);
	return rc;
}

/* Configure wrote the build path into configdata.pm (perl library paths for the generator
 * scripts); point them at the tree's new place. The mtime is kept: generated headers depend
 * on configdata.pm and must not be regenerated in the copies suture builds patches in. */
static int relocate_file(const char *path, const char *from, const char *to, struct sut_err *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : sut_errno(err, "%s", path);
	uint8_t *data;
	size_t len;
	if (sut_read_file(path, &data, &len, err))
		return -1;
	struct sut_buf out = {0};
	size_t lf = strlen(from), lt = strlen(to);
	const uint8_t *p = data, *end = data + len;
	bool changed = false;
	while (p < end) {
		const uint8_t *m = memmem(p, (size_t)(end - p), from, lf);
		if (!m) {
			sut_buf_append(&out, p, (size_t)(end - p));
			break;
		}
		/* leave -ffile-prefix-map=FROM=. alone: it is one of Debian's flags */
		bool flag = m - data >= 17 && !memcmp(m - 17, "-ffile-prefix-map", 17);
		sut_buf_append(&out, p, (size_t)(m - p));
		sut_buf_append(&out, flag ? from : to, flag ? lf : lt);
		changed |= !flag;
		p = m + lf;
	}
	int rc = 0;
	if (changed) {
		rc = sut_write_file(path, out.data, out.len, err);
		struct timespec ts[2] = { st.st_atim, st.st_mtim };
		if (rc == 0 && utimensat(AT_FDCWD, path, ts, 0) < 0)
			rc = sut_errno(err, "%s: restoring its time", path);
	}
	free(data);
	sut_buf_free(&out);
	return rc;
}

int dst_move_tree(const struct dst_recipe *r, const char *from, const char *to, const char *log,
		  struct sut_err *err)
{
	if (rename(from, to) < 0) {
		if (errno != EXDEV)
			return sut_errno(err, "moving %s to %s", from, to);
		char *argv[] = { "cp", "-a", "--", (char *)from, (char *)to, NULL };
		if (dst_run_ok(NULL, argv, NULL, log, "copying the built tree into the cache", err) ||
		    dst_remove_tree(from, err))
			return -1;
	}
	char *cfg = sut_xasprintf("%s/%s/configdata.pm", to, r->build_dir);
	int rc = relocate_file(cfg, from, to, err);
	free(cfg);
	return rc;
}
