/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the distro layer: the recipe table, the private apt configuration, running
 * tools. Not a contract: only the files of src/distro include it. */
#ifndef SUTURE_DISTRO_DISTRO_INT_H
#define SUTURE_DISTRO_DISTRO_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "distro/distro.h"

/* What suture knows about rebuilding part of one source package the way its debian/rules
 * does: which binary package ships each target, where in it, which build folder makes it,
 * and the make goals that build only what the target needs. Configuration is always
 * debian/rules' own override_dh_auto_configure (so CONFARGS come from that version's
 * rules), run with the flags dpkg-buildflags gives under the rules' exported options. */
struct dst_target {
	const char *name;        /* libcrypto.so.3 */
	const char *binary;      /* libssl3 */
	const char *deb_path;    /* usr/lib/x86_64-linux-gnu/libcrypto.so.3, in the binary .deb */
	const char *tree_path;   /* build_shared/libcrypto.so.3, in the built tree */
};
struct dst_recipe {
	const char *source;
	const char *build_dir;           /* build_shared: make runs there */
	const char *const *make_first;   /* goals built first, serially (generated headers) */
	const char *const *make_goals;   /* then these, in parallel */
	const struct dst_target *targets;
	size_t ntargets;
	const char *minutes;             /* how long the build takes, for progress */
};
const struct dst_recipe *dst_recipe_for(const char *source);
const struct dst_target *dst_recipe_target(const struct dst_recipe *r, const char *name);
/* "libcrypto.so.3, libssl.so.3" for messages; allocated. */
char *dst_recipe_target_list(const struct dst_recipe *r);

/* The private apt configuration under CACHE/debian/apt/: a sources list (deb and deb-src
 * of the machine's Debian release, its -updates and -security suites), lists, archive
 * cache, no parts from /etc/apt. apt-get runs with APT_CONFIG pointing at it. */
struct dst_apt {
	char *dir;       /* CACHE/debian/apt */
	char *conf;      /* dir/apt.conf */
	char *env;       /* "APT_CONFIG=..." */
	char *log;       /* log file of the current step */
};
int dst_apt_init(struct dst_apt *a, const char *debian_dir, const char *log, struct sut_err *err);
void dst_apt_free(struct dst_apt *a);
/* apt-get update with the private lists (once per run). */
int dst_apt_update(struct dst_apt *a, struct sut_err *err);
/* Is SOURCE=VERSION in the archive? 0 yes; otherwise an error naming the versions that are. */
int dst_apt_check_source(struct dst_apt *a, const char *source, const char *version,
			 struct sut_err *err);
/* apt-get source --download-only SOURCE=VERSION into dir. */
int dst_apt_source(struct dst_apt *a, const char *source, const char *version, const char *dir,
		   struct sut_err *err);
/* apt-get download PKG=VERSION into dir; *deb is the file's path. */
int dst_apt_download(struct dst_apt *a, const char *pkg, const char *version, const char *dir,
		     char **deb, struct sut_err *err);
/* apt-get build-dep SOURCE=VERSION (installs packages on this machine). */
int dst_apt_build_dep(struct dst_apt *a, const char *source, const char *version,
		      struct sut_err *err);
/* The installed version of the binary package that holds the target (dpkg-query). */
int dst_installed_version(const char *binary, char **version, struct sut_err *err);

/* Tools. dst_run: exit status (>= 0) or -1; output appended to log (NULL: discarded). */
int dst_run(const char *dir, char *const argv[], char *const env[], const char *log,
	    struct sut_err *err);
int dst_run_ok(const char *dir, char *const argv[], char *const env[], const char *log,
	       const char *what, struct sut_err *err);
/* dst_run_ok reporting progress every 20 seconds (files compiled so far). */
int dst_run_progress(const struct sut_distro_opts *o, const char *dir, char *const argv[],
		     char *const env[], const char *log, const char *what, struct sut_err *err);
/* Standard output of a command that must succeed, trailing newlines dropped; returns its
 * exit status (> 0: *out unset, err unset) or -1. */
int dst_capture(const char *dir, char *const argv[], char *const env[], char **out,
		struct sut_err *err);
char *dst_file_tail(const char *path, size_t max);
int dst_mkdirs(const char *path, struct sut_err *err);
int dst_remove_tree(const char *path, struct sut_err *err);
bool dst_exists(const char *path);
void dst_progress(const struct sut_distro_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* facts file of a cache entry: key=value lines */
int dst_facts_write(const char *path, const char *const *kv, size_t n, struct sut_err *err);
/* value of key in a facts file, allocated; NULL when absent. */
char *dst_facts_get(const char *path, const char *key);

/* rebuild.c: the upstream part of a Debian version (no epoch, no revision); allocated. */
char *dst_upstream_version(const char *version);
/* Unpacks the .dsc in srcdir into tree (which must not exist), configures with debian/rules
 * and builds the recipe's goals with Debian's flags; *sde = SOURCE_DATE_EPOCH used. */
int dst_rebuild(const struct sut_distro_opts *o, const struct dst_recipe *r,
		const char *srcdir, const char *tree, const char *log, int jobs,
		long long *sde, struct sut_err *err);
/* Moves a built tree (rename, or copy across file systems) and fixes the paths Configure
 * wrote into it, keeping every mtime. */
int dst_move_tree(const struct dst_recipe *r, const char *from, const char *to, const char *log,
		  struct sut_err *err);
void dst_env_free(char **env);

/* GNU build-id of an ELF file as lower-case hex ("" when none). */
int dst_build_id_hex(const char *path, char hex[129], struct sut_err *err);

#endif
