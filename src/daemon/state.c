/* SPDX-License-Identifier: Apache-2.0 */
/* The store as the daemon sees it (reloaded on change), and the list of patch ids it
 * enforces, kept on disk so that a patch removed while the daemon was down is still
 * reverted when it comes back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon_internal.h"
#include "util/buf.h"

static char *managed_path(const struct sut_daemon *d)
{
	return sut_xasprintf("%s/sutured.managed", d->paths.state_dir);
}

static bool managed_has(const struct sut_daemon *d, const char *id)
{
	for (guint i = 0; i < d->managed->len; i++)
		if (!strcmp(g_ptr_array_index(d->managed, i), id))
			return true;
	return false;
}

void dm_managed_load(struct sut_daemon *d)
{
	char *path = managed_path(d);
	gchar *text = NULL;
	if (g_file_get_contents(path, &text, NULL, NULL)) {
		gchar **lines = g_strsplit(text, "\n", -1);
		for (gchar **l = lines; *l; l++) {
			/* "ID BUILD-ID": a file of an older sutured has the id alone */
			char *sp = strchr(*l, ' ');
			if (sp)
				*sp++ = 0;
			if (!**l || strlen(*l) >= SUT_PATCH_ID_MAX || managed_has(d, *l))
				continue;
			g_ptr_array_add(d->managed, sut_xstrdup(*l));
			if (sp && *sp && strlen(sp) <= 128 && strspn(sp, "0123456789abcdef") == strlen(sp))
				g_hash_table_insert(d->managed_bid, sut_xstrdup(*l), sut_xstrdup(sp));
		}
		g_strfreev(lines);
		g_free(text);
	}
	free(path);
}

void dm_managed_save(struct sut_daemon *d)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < d->managed->len; i++) {
		const char *id = g_ptr_array_index(d->managed, i);
		const char *bid = g_hash_table_lookup(d->managed_bid, id);
		g_string_append_printf(s, "%s%s%s\n", id, bid ? " " : "", bid ? bid : "");
	}
	char *path = managed_path(d);
	GError *ge = NULL;
	g_mkdir_with_parents(d->paths.state_dir, 0755);
	if (!g_file_set_contents(path, s->str, (gssize)s->len, &ge)) {
		dm_log(d, 4, 0, NULL, "could not write %s: %s (a patch removed while sutured is "
		       "down may then not be reverted)", path, ge->message);
		g_error_free(ge);
	}
	free(path);
	g_string_free(s, TRUE);
}

bool dm_is_auto(const struct sut_daemon *d, const char *id)
{
	for (size_t i = 0; i < d->nauto; i++)
		if (!strcmp(d->auto_v[i]->id, id))
			return true;
	return false;
}

/* Same auto set (ids and versions, in order)? */
static bool same_auto(struct sut_patch **a, size_t na, struct sut_patch **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i]->id, b[i]->id) || a[i]->version != b[i]->version)
			return false;
	return true;
}

/* Was this file refused, for the same reason, at the last reload? (said once) */
static bool refused_before(const struct sut_daemon *d, const struct sut_store_entry *e)
{
	for (size_t i = 0; d->store_ok && i < d->store.n; i++)
		if (d->store.v[i].refused && !strcmp(d->store.v[i].path, e->path) &&
		    !strcmp(d->store.v[i].refused, e->refused))
			return true;
	return false;
}

void dm_store_drop(struct sut_daemon *d)
{
	if (d->store_ok)
		sut_store_free(&d->store);
	d->store_ok = false;
	sut_conf_free(&d->conf);
	free(d->auto_v);
	d->auto_v = NULL;
	d->nauto = 0;
}

int dm_reload(struct sut_daemon *d)
{
	struct sut_conf conf;
	struct sut_store store;
	struct sut_err err;
	if (sut_conf_load(d->paths.config, &conf, &err) < 0) {
		/* keep enforcing the last good policy rather than none */
		dm_log(d, 3, 0, NULL, "%s; keeping the previous policy", err.msg);
		return -1;
	}
	if (sut_store_load(&d->paths, &conf, d->h.verify, d->h.verify_ctx, &store, &err) < 0) {
		dm_log(d, 3, 0, NULL, "%s; keeping the previous store", err.msg);
		sut_conf_free(&conf);
		return -1;
	}
	for (size_t i = 0; i < store.n; i++) {
		const struct sut_store_entry *e = &store.v[i];
		if (e->refused && !refused_before(d, e))
			dm_log(d, 3, 0, NULL, "refused %s: %s", e->path, e->refused);
	}
	struct sut_patch **v = NULL;
	size_t n = 0;
	for (size_t i = 0; i < store.n; i++)
		if (store.v[i].patch && !store.v[i].refused &&
		    store.v[i].policy == SUT_POLICY_AUTO) {
			v = sut_xrealloc(v, (n + 1) * sizeof *v);
			v[n++] = store.v[i].patch;
		}
	bool changed = !d->store_ok || !same_auto(d->auto_v, d->nauto, v, n);
	/* any change of the store or the policy file: every process is looked at again (an
	 * excluded one may now be patched) */
	dm_store_drop(d);
	d->store = store;
	d->conf = conf;
	d->store_ok = true;
	d->auto_v = v;
	d->nauto = n;
	d->gen++;
	g_hash_table_remove_all(d->seen);
	g_hash_table_remove_all(d->not_target);
	GHashTableIter it;
	gpointer k, val;
	g_hash_table_iter_init(&it, d->problems);
	while (g_hash_table_iter_next(&it, &k, &val)) {
		struct dm_problem *p = val;
		p->retry_ms = 0;
	}
	/* the managed set grows with every auto patch; ids leave it only once reverted
	 * everywhere (reconcile.c) */
	bool grew = false;
	for (size_t i = 0; i < n; i++) {
		if (!managed_has(d, v[i]->id)) {
			g_ptr_array_add(d->managed, sut_xstrdup(v[i]->id));
			grew = true;
		}
		/* the build it targets: only that build's processes are reverted when it
		 * leaves (another build's patch of the same id is not this daemon's) */
		char hex[2 * sizeof v[i]->build_id + 1];
		sut_hex(v[i]->build_id, v[i]->build_id_len, hex);
		const char *had = g_hash_table_lookup(d->managed_bid, v[i]->id);
		if (v[i]->build_id_len && (!had || strcmp(had, hex))) {
			g_hash_table_insert(d->managed_bid, sut_xstrdup(v[i]->id), sut_xstrdup(hex));
			grew = true;
		}
	}
	if (grew)
		dm_managed_save(d);
	if (changed)
		dm_log(d, 6, 0, NULL, "store: %zu auto patch%s", n, n == 1 ? "" : "es");
	dm_khold_set_terminal(d);
	dm_khold_sync(d);
	return 0;
}
