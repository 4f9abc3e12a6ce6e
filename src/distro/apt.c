/* SPDX-License-Identifier: Apache-2.0 */
/* apt-get with a private configuration. APT_CONFIG names our apt.conf, which apt reads
 * before anything else; it points every Dir::Etc and Dir::State::Lists / Dir::Cache setting
 * into CACHE/debian/apt/, so the machine's sources, preferences and apt.conf.d are neither
 * read nor changed. The sources list has deb and deb-src entries for the machine's release
 * (VERSION_CODENAME of /etc/os-release) and its -updates and -security suites, signed by
 * Debian's archive keyring: apt checks every downloaded file against the signed indexes.
 * scripts/debian-fetch.sh (the tests' downloads) writes the same apt.conf into the same
 * folder and takes the same lock (docs/debian.md, "Two download paths"): a change here is
 * made there too. */
#include "distro/distro_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#include "util/buf.h"

#define KEYRING "/usr/share/keyrings/debian-archive-keyring.gpg"

static char *os_codename(void)
{
	FILE *f = fopen("/etc/os-release", "re");
	if (!f)
		return NULL;
	char line[256];
	char *r = NULL;
	while (!r && fgets(line, sizeof line, f)) {
		if (strncmp(line, "VERSION_CODENAME=", 17))
			continue;
		char *v = line + 17;
		v[strcspn(v, "\"\n")] = 0;
		if (*v == '"')
			v++;
		v[strcspn(v, "\"")] = 0;
		bool ok = *v != 0;
		for (char *c = v; *c; c++)
			ok = ok && ((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'));
		if (ok)
			r = sut_xstrdup(v);
	}
	fclose(f);
	return r;
}

static int write_text(const char *path, const char *text, struct sut_err *err)
{
	return sut_write_file(path, text, strlen(text), err);
}

int dst_apt_init(struct dst_apt *a, const char *debian_dir, const char *log, struct sut_err *err)
{
	memset(a, 0, sizeof *a);
	char *code = getenv("SUTURE_DEBIAN_SUITE") ? sut_xstrdup(getenv("SUTURE_DEBIAN_SUITE"))
						    : os_codename();
	if (!code)
		return sut_errf(err, "cannot tell this machine's Debian release (no VERSION_CODENAME in /etc/os-release; set SUTURE_DEBIAN_SUITE, e.g. bookworm)");
	const char *mirror = getenv("SUTURE_DEBIAN_MIRROR");
	const char *security = getenv("SUTURE_DEBIAN_SECURITY_MIRROR");
	if (!mirror || !*mirror)
		mirror = "http://deb.debian.org/debian";
	if (!security || !*security)
		security = "http://deb.debian.org/debian-security";
	a->dir = sut_xasprintf("%s/apt", debian_dir);
	a->conf = sut_xasprintf("%s/apt.conf", a->dir);
	a->env = sut_xasprintf("APT_CONFIG=%s", a->conf);
	a->log = sut_xstrdup(log);
	static const char *const dirs[] = { "", "/sources.list.d", "/apt.conf.d", "/preferences.d",
					    "/lists/partial", "/cache/archives/partial" };
	int rc = 0;
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs && rc == 0; i++) {
		char *d = sut_xasprintf("%s%s", a->dir, dirs[i]);
		rc = dst_mkdirs(d, err);
		free(d);
	}
	char *list = NULL, *conf = NULL, *path = NULL;
	if (rc == 0) {
		list = sut_xasprintf("# written by suture: the sources its Debian rebuilds use\n"
				     "deb [signed-by=" KEYRING "] %1$s %2$s main\n"
				     "deb-src [signed-by=" KEYRING "] %1$s %2$s main\n"
				     "deb [signed-by=" KEYRING "] %1$s %2$s-updates main\n"
				     "deb-src [signed-by=" KEYRING "] %1$s %2$s-updates main\n"
				     "deb [signed-by=" KEYRING "] %3$s %2$s-security main\n"
				     "deb-src [signed-by=" KEYRING "] %3$s %2$s-security main\n",
				     mirror, code, security);
		path = sut_xasprintf("%s/sources.list", a->dir);
		rc = write_text(path, list, err);
		free(path);
	}
	if (rc == 0) {
		conf = sut_xasprintf(
			"// written by suture: a private apt configuration (nothing from /etc/apt)\n"
			"Dir::Etc::main \"%1$s/empty.conf\";\n"
			"Dir::Etc::Parts \"%1$s/apt.conf.d\";\n"
			"Dir::Etc::SourceList \"%1$s/sources.list\";\n"
			"Dir::Etc::SourceParts \"%1$s/sources.list.d\";\n"
			"Dir::Etc::Preferences \"%1$s/preferences\";\n"
			"Dir::Etc::PreferencesParts \"%1$s/preferences.d\";\n"
			"Dir::State::Lists \"%1$s/lists\";\n"
			"Dir::Cache \"%1$s/cache\";\n"
			"Dir::Cache::Archives \"%1$s/cache/archives\";\n"
			"Dir::Cache::pkgcache \"\";\n"
			"Dir::Cache::srcpkgcache \"\";\n"
			"APT::Sandbox::User \"root\";\n"
			"Acquire::Languages \"none\";\n"
			"APT::Get::Assume-Yes \"true\";\n"
			"APT::Install-Recommends \"false\";\n"
			"DPkg::Lock::Timeout \"600\";\n",
			a->dir);
		rc = write_text(a->conf, conf, err);
	}
	if (rc == 0) {
		path = sut_xasprintf("%s/empty.conf", a->dir);
		rc = write_text(path, "", err);
		free(path);
	}
	free(list);
	free(conf);
	free(code);
	if (rc)
		dst_apt_free(a);
	return rc;
}

void dst_apt_free(struct dst_apt *a)
{
	free(a->dir);
	free(a->conf);
	free(a->env);
	free(a->log);
	memset(a, 0, sizeof *a);
}

static int apt(struct dst_apt *a, const char *dir, char **argv, const char *what,
	       struct sut_err *err)
{
	char *env[] = { a->env, "DEBIAN_FRONTEND=noninteractive", NULL };
	return dst_run_ok(dir, argv, env, a->log, what, err);
}

int dst_apt_update(struct dst_apt *a, struct sut_err *err)
{
	char *argv[] = { "apt-get", "-q", "update", NULL };
	return apt(a, NULL, argv, "downloading the package lists (apt-get update, private lists)", err);
}

/* The versions of SOURCE in the archive, ", "-separated; NULL when none. */
static char *source_versions(struct dst_apt *a, const char *source, struct sut_err *err)
{
	char *env[] = { a->env, NULL };
	char *argv[] = { "apt-cache", "showsrc", "--only-source", (char *)source, NULL };
	char *out = NULL;
	if (dst_capture(NULL, argv, env, &out, err) != 0)
		return NULL;
	char *list = NULL;
	char *save;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "Version: ", 9))
			continue;
		char *n = sut_xasprintf("%s%s%s", list ? list : "", list ? ", " : "", line + 9);
		free(list);
		list = n;
	}
	free(out);
	return list;
}

int dst_apt_check_source(struct dst_apt *a, const char *source, const char *version,
			 struct sut_err *err)
{
	char *have = source_versions(a, source, err);
	if (!have)
		return sut_errf(err, "source package %s is not in the archive's source indexes", source);
	int rc = 0;
	bool found = false;
	char *copy = sut_xstrdup(have);
	char *save;
	for (char *v = strtok_r(copy, ", ", &save); v && !found; v = strtok_r(NULL, ", ", &save))
		found = !strcmp(v, version);
	free(copy);
	if (!found)
		rc = sut_errf(err, "%s %s is not in the archive, which has %s %s: name one of those with --debian %s=VERSION (a patch is for exactly one build, so the processes to patch must run that version's libraries), or upgrade the machine to one of them",
			      source, version, source, have, source);
	free(have);
	return rc;
}

int dst_apt_source(struct dst_apt *a, const char *source, const char *version, const char *dir,
		   struct sut_err *err)
{
	char *spec = sut_xasprintf("%s=%s", source, version);
	char *argv[] = { "apt-get", "-q", "source", "--download-only", spec, NULL };
	char *what = sut_xasprintf("downloading source package %s", spec);
	int rc = dst_mkdirs(dir, err) ? -1 : apt(a, dir, argv, what, err);
	free(what);
	free(spec);
	return rc;
}

/* The first file in dir named PREFIX*SUFFIX; allocated, NULL when none. */
static char *find_file(const char *dir, const char *prefix, const char *suffix)
{
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	struct dirent *e;
	char *r = NULL;
	size_t lp = strlen(prefix), ls = strlen(suffix);
	while (!r && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l >= lp + ls && !strncmp(e->d_name, prefix, lp) &&
		    !strcmp(e->d_name + l - ls, suffix))
			r = sut_xasprintf("%s/%s", dir, e->d_name);
	}
	closedir(d);
	return r;
}

int dst_apt_download(struct dst_apt *a, const char *pkg, const char *version, const char *dir,
		     char **deb, struct sut_err *err)
{
	char *spec = sut_xasprintf("%s=%s", pkg, version);
	char *argv[] = { "apt-get", "-q", "download", spec, NULL };
	char *what = sut_xasprintf("downloading binary package %s", spec);
	int rc = dst_mkdirs(dir, err) ? -1 : apt(a, dir, argv, what, err);
	if (rc == 0) {
		char *prefix = sut_xasprintf("%s_", pkg);
		*deb = find_file(dir, prefix, ".deb");
		free(prefix);
		if (!*deb)
			rc = sut_errf(err, "apt-get download %s left no %s_*.deb in %s", spec, pkg, dir);
	}
	free(what);
	free(spec);
	return rc;
}

int dst_apt_build_dep(struct dst_apt *a, const char *source, const char *version,
		      struct sut_err *err)
{
	char *spec = sut_xasprintf("%s=%s", source, version);
	char *argv[] = { "apt-get", "-q", "-y", "--no-install-recommends", "build-dep", spec, NULL };
	char *what = sut_xasprintf("installing the build dependencies of %s (apt-get build-dep)", spec);
	int rc = apt(a, NULL, argv, what, err);
	free(what);
	free(spec);
	return rc;
}

int dst_installed_version(const char *binary, char **version, struct sut_err *err)
{
	char *argv[] = { "dpkg-query", "-W", "-f", "${db:Status-Status} ${Version}", (char *)binary,
			 NULL };
	char *out = NULL;
	int st = dst_capture(NULL, argv, NULL, &out, err);
	if (st < 0)
		return -1;
	if (st > 0 || strncmp(out, "installed ", 10) || !out[10]) {
		free(out);
		return sut_errf(err, "%s is not installed on this machine: name the version to rebuild with --debian SOURCE=VERSION",
				binary);
	}
	*version = sut_xstrdup(out + 10);
	free(out);
	return 0;
}
