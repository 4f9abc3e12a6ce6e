/* SPDX-License-Identifier: Apache-2.0 */
/* The policy file, /etc/suture/suture.conf, read and edited with GLib's GKeyFile (see
 * store.h for its groups and keys). */
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "util/buf.h"

#define PATCH_GROUP_PREFIX "patch "

const char *sut_policy_name(enum sut_policy p)
{
	return p == SUT_POLICY_MANUAL ? "manual" : "auto";
}

int sut_policy_parse(const char *s, enum sut_policy *out)
{
	if (!strcmp(s, "auto"))
		*out = SUT_POLICY_AUTO;
	else if (!strcmp(s, "manual"))
		*out = SUT_POLICY_MANUAL;
	else
		return -1;
	return 0;
}

static char **dup_list(GKeyFile *kf, const char *group, const char *key)
{
	gsize n = 0;
	gchar **l = g_key_file_get_string_list(kf, group, key, &n, NULL);
	char **out = sut_xcalloc(n + 1, sizeof *out);
	size_t k = 0;
	for (gsize i = 0; i < n; i++)
		if (l[i][0])
			out[k++] = sut_xstrdup(g_strstrip(l[i]));
	g_strfreev(l);
	return out;
}

static int get_int(GKeyFile *kf, const char *path, const char *group, const char *key,
		   int dflt, int lo, int hi, int *out, struct sut_err *err)
{
	*out = dflt;
	if (!g_key_file_has_key(kf, group, key, NULL))
		return 0;
	GError *ge = NULL;
	gint v = g_key_file_get_integer(kf, group, key, &ge);
	if (ge) {
		sut_errf(err, "%s: [%s] %s: %s", path, group, key, ge->message);
		g_error_free(ge);
		return -1;
	}
	if (v < lo || v > hi)
		return sut_errf(err, "%s: [%s] %s=%d is out of range (%d to %d)", path, group, key,
				v, lo, hi);
	*out = v;
	return 0;
}

static int get_bool(GKeyFile *kf, const char *path, const char *group, const char *key,
		    bool dflt, bool *out, struct sut_err *err)
{
	*out = dflt;
	if (!g_key_file_has_key(kf, group, key, NULL))
		return 0;
	GError *ge = NULL;
	gboolean v = g_key_file_get_boolean(kf, group, key, &ge);
	if (ge) {
		sut_errf(err, "%s: [%s] %s: %s", path, group, key, ge->message);
		g_error_free(ge);
		return -1;
	}
	*out = v;
	return 0;
}

/* Opens the file into a key file; a missing file is an empty one. */
static GKeyFile *open_kf(const char *path, bool keep_comments, struct sut_err *err)
{
	GKeyFile *kf = g_key_file_new();
	GError *ge = NULL;
	GKeyFileFlags fl = keep_comments ? G_KEY_FILE_KEEP_COMMENTS : G_KEY_FILE_NONE;
	if (!g_key_file_load_from_file(kf, path, fl, &ge)) {
		bool missing = g_error_matches(ge, G_FILE_ERROR, G_FILE_ERROR_NOENT);
		if (!missing)
			sut_errf(err, "policy file %s: %s", path, ge->message);
		g_error_free(ge);
		if (!missing) {
			g_key_file_free(kf);
			return NULL;
		}
	}
	return kf;
}

int sut_conf_load(const char *path, struct sut_conf *c, struct sut_err *err)
{
	memset(c, 0, sizeof *c);
	GKeyFile *kf = open_kf(path, false, err);
	if (!kf)
		return -1;
	int rc = 0;
	gsize ng = 0;
	gchar **groups = g_key_file_get_groups(kf, &ng);
	for (gsize i = 0; i < ng && rc == 0; i++) {
		const char *g = groups[i];
		if (!strncmp(g, PATCH_GROUP_PREFIX, strlen(PATCH_GROUP_PREFIX))) {
			const char *id = g + strlen(PATCH_GROUP_PREFIX);
			gchar *v = g_key_file_get_string(kf, g, "policy", NULL);
			enum sut_policy p = SUT_POLICY_AUTO;
			if (v && sut_policy_parse(g_strstrip(v), &p) < 0)
				rc = sut_errf(err, "%s: [%s] policy=%s: want auto or manual", path, g,
					      v);
			g_free(v);
			c->patches = sut_xrealloc(c->patches, (c->npatches + 1) * sizeof *c->patches);
			c->patches[c->npatches++] = (struct sut_policy_entry){sut_xstrdup(id), p};
		} else if (strcmp(g, "exclude") && strcmp(g, "daemon")) {
			rc = sut_errf(err, "%s: unknown group [%s] (known: [patch ID], [exclude], "
				      "[daemon])", path, g);
		}
	}
	g_strfreev(groups);
	c->exe_patterns = dup_list(kf, "exclude", "executables");
	c->unit_patterns = dup_list(kf, "exclude", "units");
	c->cgroup_patterns = dup_list(kf, "exclude", "cgroups");
	if (rc == 0)
		rc = get_int(kf, path, "daemon", "rescan-ms", 1000, 50, 3600000, &c->rescan_ms,
			     err);
	if (rc == 0)
		rc = get_int(kf, path, "daemon", "timeout-ms", 5000, 10, 3600000, &c->timeout_ms,
			     err);
	if (rc == 0)
		rc = get_bool(kf, path, "daemon", "kernel-hold", true, &c->kernel_hold, err);
	if (rc == 0)
		rc = get_bool(kf, path, "daemon", "hold-terminal", false, &c->hold_terminal, err);
	c->hold_paths = dup_list(kf, "daemon", "hold-paths");
	g_key_file_free(kf);
	if (rc < 0)
		sut_conf_free(c);
	return rc;
}

static void free_list(char **l)
{
	for (size_t i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

void sut_conf_free(struct sut_conf *c)
{
	for (size_t i = 0; i < c->npatches; i++)
		free(c->patches[i].id);
	free(c->patches);
	free_list(c->exe_patterns);
	free_list(c->unit_patterns);
	free_list(c->cgroup_patterns);
	free_list(c->hold_paths);
	memset(c, 0, sizeof *c);
}

enum sut_policy sut_conf_policy(const struct sut_conf *c, const char *id)
{
	for (size_t i = 0; i < c->npatches; i++)
		if (!strcmp(c->patches[i].id, id))
			return c->patches[i].policy;
	return SUT_POLICY_AUTO;
}

/* Writes kf over path: temporary file in the same folder, then rename. */
static int save_kf(GKeyFile *kf, const char *path, struct sut_err *err)
{
	char *dir = sut_xstrdup(path), *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		g_mkdir_with_parents(dir, 0755);
	}
	free(dir);
	GError *ge = NULL;
	/* g_key_file_save_to_file writes a temporary file and renames it */
	if (!g_key_file_save_to_file(kf, path, &ge)) {
		sut_errf(err, "policy file %s: %s", path, ge->message);
		g_error_free(ge);
		return -1;
	}
	chmod(path, 0644);
	return 0;
}

int sut_conf_set_policy(const char *path, const char *id, enum sut_policy p,
			struct sut_err *err)
{
	GKeyFile *kf = open_kf(path, true, err);
	if (!kf)
		return -1;
	char *g = sut_xasprintf(PATCH_GROUP_PREFIX "%s", id);
	g_key_file_set_string(kf, g, "policy", sut_policy_name(p));
	free(g);
	int rc = save_kf(kf, path, err);
	g_key_file_free(kf);
	return rc;
}

int sut_conf_forget_patch(const char *path, const char *id, struct sut_err *err)
{
	GKeyFile *kf = open_kf(path, true, err);
	if (!kf)
		return -1;
	char *g = sut_xasprintf(PATCH_GROUP_PREFIX "%s", id);
	int rc = 0;
	if (g_key_file_has_group(kf, g)) {
		g_key_file_remove_group(kf, g, NULL);
		rc = save_kf(kf, path, err);
	}
	free(g);
	g_key_file_free(kf);
	return rc;
}
