/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/trust.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "patch/sign.h"
#include "util/buf.h"
#include "util/env.h"

static void warn(struct cli_trust *t, char *msg)
{
	t->warnings = sut_xrealloc(t->warnings, (t->nwarnings + 1) * sizeof *t->warnings);
	t->warnings[t->nwarnings++] = msg;
}

static bool owner_ok(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == geteuid();
}

int cli_trust_safe_file(const char *path, char *resolved, size_t cap, struct sut_err *err)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		return sut_errno(err, "%s", path);
	if (strlen(real) >= cap)
		return sut_errf(err, "%s: path too long", path);
	struct stat st;
	if (lstat(real, &st) < 0)
		return sut_errno(err, "%s", real);
	if (!S_ISREG(st.st_mode))
		return sut_errf(err, "%s is not a regular file", real);
	if (!owner_ok(&st))
		return sut_errf(err, "%s is owned by uid %u (neither root nor uid %u)", real,
				(unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return sut_errf(err, "%s is writable by %s (mode %04o)", real,
				st.st_mode & S_IWOTH ? "others" : "its group",
				(unsigned)(st.st_mode & 07777));
	/* every directory above: whoever can write one can swap what is below it */
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", real);
	for (char *slash = strrchr(dir, '/'); slash; slash = strrchr(dir, '/')) {
		if (slash == dir)
			slash[1] = 0; /* "/" itself, last */
		else
			*slash = 0;
		if (lstat(dir, &st) < 0)
			return sut_errno(err, "%s", dir);
		if (!owner_ok(&st))
			return sut_errf(err, "%s: directory %s is owned by uid %u", real, dir,
					(unsigned)st.st_uid);
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
			return sut_errf(err, "%s: directory %s is writable by %s (mode %04o)", real, dir,
					st.st_mode & S_IWOTH ? "others" : "its group",
					(unsigned)(st.st_mode & 07777));
		if (slash == dir)
			break;
	}
	memcpy(resolved, real, strlen(real) + 1);
	return 0;
}

static void add(struct cli_trust *t, const char *path, const char *from)
{
	char real[PATH_MAX], id[32];
	struct sut_err err;
	if (cli_trust_safe_file(path, real, sizeof real, &err) < 0) {
		warn(t, sut_xasprintf("trusted key %s (%s) ignored: %s", path, from, err.msg));
		return;
	}
	if (sut_key_id_of_file(real, id, &err) < 0) {
		warn(t, sut_xasprintf("trusted key %s (%s) ignored: %s", path, from, err.msg));
		return;
	}
	t->keys = sut_xrealloc(t->keys, (t->nkeys + 1) * sizeof *t->keys);
	t->keys[t->nkeys++] = sut_xstrdup(real);
}

void cli_trust_load(struct cli_trust *t, const char *const *extra, size_t nextra)
{
	memset(t, 0, sizeof *t);
	for (size_t i = 0; i < nextra; i++)
		add(t, extra[i], "--trusted-key");
	const char *env = sut_env("SUTURE_TRUSTED_KEYS");
	if (env) {
		char *dup = sut_xstrdup(env), *s = dup, *tok;
		while ((tok = strsep(&s, ":")) != NULL)
			if (*tok)
				add(t, tok, "SUTURE_TRUSTED_KEYS");
		free(dup);
	}
	DIR *d = opendir(SUT_TRUST_DIR);
	if (!d) {
		if (errno != ENOENT)
			warn(t, sut_xasprintf("trusted keys in %s ignored: %s", SUT_TRUST_DIR,
					      strerror(errno)));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l > 4 && !strcmp(e->d_name + l - 4, ".pem")) {
			char *path = sut_xasprintf("%s/%s", SUT_TRUST_DIR, e->d_name);
			add(t, path, SUT_TRUST_DIR);
			free(path);
		}
	}
	closedir(d);
}

int cli_trust_check(const struct cli_trust *t, const struct sut_patch *p, char *key_id_out,
		    struct sut_err *err)
{
	return sut_patch_verify(p, (const char *const *)t->keys, t->nkeys, key_id_out, err);
}

void cli_trust_print_warnings(const struct cli_trust *t)
{
	for (size_t i = 0; i < t->nwarnings; i++)
		cli_error("warning: %s", t->warnings[i]);
}

void cli_trust_free(struct cli_trust *t)
{
	for (size_t i = 0; i < t->nkeys; i++)
		free(t->keys[i]);
	for (size_t i = 0; i < t->nwarnings; i++)
		free(t->warnings[i]);
	free(t->keys);
	free(t->warnings);
	memset(t, 0, sizeof *t);
}

const char *cli_default_signing_key(void)
{
	return sut_env("SUTURE_SIGNING_KEY");
}
