/* SPDX-License-Identifier: Apache-2.0 */
/* The store's patch files: listing both folders, refusing what is not signed by a trusted
 * key, adding to and removing from the operator's folder. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "util/buf.h"

#define SUFFIX ".suture"

const char *sut_store_origin_name(enum sut_store_origin o)
{
	return o == SUT_STORE_PACKAGE ? "package" : "operator";
}

static void entry_refuse(struct sut_store_entry *e, const char *why)
{
	if (e->patch)
		sut_patch_free(e->patch);
	e->patch = NULL;
	e->refused = sut_xstrdup(why);
}

static struct sut_store_entry *push(struct sut_store *s)
{
	s->v = sut_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
	struct sut_store_entry *e = &s->v[s->n++];
	memset(e, 0, sizeof *e);
	return e;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One folder, in name order so that listings and the daemon's order are stable. */
static int load_dir(struct sut_store *s, const char *dir, enum sut_store_origin origin,
		    const struct sut_conf *conf, sut_store_verify_fn verify, void *ctx,
		    struct sut_err *err)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return sut_errno(err, "store folder %s", dir);
	}
	char **names = NULL;
	size_t nn = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue; /* ., .., and the temporary files of add */
		names = sut_xrealloc(names, (nn + 1) * sizeof *names);
		names[nn++] = sut_xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, nn, sizeof *names, name_cmp);
	for (size_t i = 0; i < nn; i++) {
		struct sut_store_entry *e = push(s);
		e->origin = origin;
		e->path = sut_xasprintf("%s/%s", dir, names[i]);
		size_t l = strlen(names[i]);
		struct stat st;
		struct sut_err perr;
		if (l <= strlen(SUFFIX) || strcmp(names[i] + l - strlen(SUFFIX), SUFFIX)) {
			entry_refuse(e, "not a patch file (the store holds only ID" SUFFIX " files)");
		} else if (lstat(e->path, &st) < 0 || !S_ISREG(st.st_mode)) {
			entry_refuse(e, "not a regular file");
		} else if (sut_patch_read_file(e->path, &e->patch, &perr) < 0) {
			e->patch = NULL;
			entry_refuse(e, perr.msg);
		} else if (verify(e->patch, ctx, e->signer, sizeof e->signer, &perr) < 0) {
			char *why = sut_xasprintf("patch %s: signature refused: %s", e->patch->id,
						  perr.msg);
			entry_refuse(e, why);
			free(why);
		} else if (strncmp(names[i], e->patch->id, l - strlen(SUFFIX)) ||
			   strlen(e->patch->id) != l - strlen(SUFFIX)) {
			char *why = sut_xasprintf("holds patch %s: the file must be named %s" SUFFIX,
						  e->patch->id, e->patch->id);
			entry_refuse(e, why);
			free(why);
		} else {
			const struct sut_store_entry *dup = sut_store_find(s, e->patch->id);
			if (dup && dup != e) {
				char *why = sut_xasprintf("patch %s is already in the store as %s",
							  e->patch->id, dup->path);
				entry_refuse(e, why);
				free(why);
			} else {
				e->policy = sut_conf_policy(conf, e->patch->id);
			}
		}
		free(names[i]);
	}
	free(names);
	return 0;
}

int sut_store_load(const struct sut_store_paths *paths, const struct sut_conf *conf,
		   sut_store_verify_fn verify, void *ctx, struct sut_store *out,
		   struct sut_err *err)
{
	memset(out, 0, sizeof *out);
	if (load_dir(out, paths->operator_dir, SUT_STORE_OPERATOR, conf, verify, ctx, err) < 0 ||
	    load_dir(out, paths->package_dir, SUT_STORE_PACKAGE, conf, verify, ctx, err) < 0) {
		sut_store_free(out);
		return -1;
	}
	return 0;
}

void sut_store_free(struct sut_store *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].path);
		free(s->v[i].refused);
		if (s->v[i].patch)
			sut_patch_free(s->v[i].patch);
	}
	free(s->v);
	memset(s, 0, sizeof *s);
}

const struct sut_store_entry *sut_store_find(const struct sut_store *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].patch && !s->v[i].refused && !strcmp(s->v[i].patch->id, id))
			return &s->v[i];
	return NULL;
}

/* Creates dir and its parents (0755). */
static int make_dirs(const char *dir, struct sut_err *err)
{
	char *p = sut_xstrdup(dir);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		mkdir(p, 0755);
		*s = '/';
	}
	int rc = 0;
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		rc = sut_errno(err, "store folder %s", p);
	free(p);
	return rc;
}

/* Whether a patch of the same id may already be there. */
enum store_mode { STORE_NEW, STORE_REPLACE };

static int store_patch(const struct sut_store_paths *paths, const char *src, enum store_mode mode,
		       sut_store_verify_fn verify, void *ctx, char **id_out, struct sut_err *err)
{
	*id_out = NULL;
	/* read once, verify those bytes, store those bytes: what is stored is what was verified */
	uint8_t *data = NULL;
	size_t len = 0;
	struct sut_patch *p = NULL;
	if (sut_read_file(src, &data, &len, err) < 0)
		return -1;
	if (sut_patch_read_mem(data, len, &p, err) < 0) {
		sut_err_wrap(err, "%s", src);
		free(data);
		return -1;
	}
	int rc = -1;
	char *dst = sut_xasprintf("%s/%s" SUFFIX, paths->operator_dir, p->id);
	char signer[32];
	struct stat st;
	if (verify(p, ctx, signer, sizeof signer, err) < 0) {
		sut_err_wrap(err, "%s: patch %s refused", src, p->id);
		goto out;
	}
	if (make_dirs(paths->operator_dir, err) < 0)
		goto out;
	if (mode == STORE_NEW && stat(dst, &st) == 0) {
		sut_errf(err, "patch %s is already in the store (%s); use --replace", p->id, dst);
		goto out;
	}
	if (sut_write_file(dst, data, len, err) < 0)
		goto out;
	*id_out = sut_xstrdup(p->id);
	rc = 0;
out:
	free(dst);
	free(data);
	sut_patch_free(p);
	return rc;
}

int sut_store_add(const struct sut_store_paths *paths, const char *src,
		  sut_store_verify_fn verify, void *ctx, char **id_out, struct sut_err *err)
{
	return store_patch(paths, src, STORE_NEW, verify, ctx, id_out, err);
}

int sut_store_replace(const struct sut_store_paths *paths, const char *src,
		      sut_store_verify_fn verify, void *ctx, char **id_out, struct sut_err *err)
{
	return store_patch(paths, src, STORE_REPLACE, verify, ctx, id_out, err);
}

int sut_store_remove(const struct sut_store_paths *paths, const char *id, struct sut_err *err)
{
	/* ids are [A-Za-z0-9._+-]: no path can be made of one */
	if (!*id || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, ".."))
		return sut_errf(err, "'%s' is not a patch id", id);
	char *path = sut_xasprintf("%s/%s" SUFFIX, paths->operator_dir, id);
	int rc = 0;
	if (unlink(path) < 0) {
		char *pkg = sut_xasprintf("%s/%s" SUFFIX, paths->package_dir, id);
		struct stat st;
		if (errno == ENOENT && stat(pkg, &st) == 0)
			rc = sut_errf(err, "patch %s was installed by a package (%s): remove the "
				      "package, or set its policy to manual", id, pkg);
		else if (errno == ENOENT)
			rc = sut_errf(err, "patch %s is not in the store (%s)", id, paths->operator_dir);
		else
			rc = sut_errno(err, "%s", path);
		free(pkg);
	}
	free(path);
	return rc;
}
