/* SPDX-License-Identifier: Apache-2.0 */
/* Making processes as the store says: apply the auto patches a process's objects need,
 * revert those no longer enforced, and keep the list of processes that could not be
 * patched, with the reason. Everything read from a process (maps, registry, build-ids)
 * goes through the proc and apply layers, which validate it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/apply.h"
#include "daemon/daemon_internal.h"
#include "proc/proc.h"
#include "util/buf.h"

#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS (5 * 60 * 1000)

/* The negative cache holds at most this many files; past it, it starts again empty. */
#define NOT_TARGET_MAX 65536

static bool file_exec_map(const struct sut_map *e)
{
	return e->perms[2] == 'x' && e->inode != 0;
}

/* FNV-1a over the file-backed executable mappings: a dlopen (or an munmap) changes it. */
static uint64_t maps_signature(const struct sut_maps *m, unsigned *nexec)
{
	uint64_t h = 1469598103934665603ull;
	*nexec = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct sut_map *e = &m->v[i];
		if (!file_exec_map(e))
			continue;
		(*nexec)++;
		uint64_t f[3] = {e->start, e->inode, ((uint64_t)e->dev_major << 32) | e->dev_minor};
		const uint8_t *b = (const uint8_t *)f;
		for (size_t k = 0; k < sizeof f; k++)
			h = (h ^ b[k]) * 1099511628211ull;
	}
	return h;
}

/* The file of a mapping, exactly: device and inode. */
static char *file_key(const struct sut_map *e)
{
	return sut_xasprintf("%x:%x:%llu", e->dev_major, e->dev_minor,
			     (unsigned long long)e->inode);
}

/* Are all the process's executable files known to be no target of an auto patch? Then its
 * objects need not be opened (opening and parsing them is most of the cost of a look). */
static bool all_known_not_target(struct sut_daemon *d, const struct sut_maps *m)
{
	for (size_t i = 0; i < m->n; i++) {
		if (!file_exec_map(&m->v[i]))
			continue;
		char *k = file_key(&m->v[i]);
		bool known = g_hash_table_contains(d->not_target, k);
		free(k);
		if (!known)
			return false;
	}
	return true;
}

/* Records the executable files of objects that are no target. */
static void learn_not_targets(struct sut_daemon *d, const struct sut_maps *m,
			      const struct sut_objects *objs)
{
	if (g_hash_table_size(d->not_target) > NOT_TARGET_MAX)
		g_hash_table_remove_all(d->not_target);
	for (size_t i = 0; i < m->n; i++) {
		const struct sut_map *e = &m->v[i];
		if (!file_exec_map(e))
			continue;
		const struct sut_object *o = NULL;
		for (size_t k = 0; k < objs->n && !o; k++)
			if (e->start >= objs->v[k].lo && e->start < objs->v[k].hi)
				o = &objs->v[k];
		/* Only a mapping of an object whose build-id was read is known. A mapping of
		 * no object is not learned: besides a patch image (whose process maps a
		 * target anyway) that is what a look sees when the process exits or execs
		 * between the read of its maps and the read of its objects' headers, and
		 * learning the target library's file from such a look would release every
		 * later process that maps it unpatched. An object whose build-id could not
		 * be read is looked at again next time too. */
		if (!o || o->build_id_len == 0)
			continue;
		bool target = false;
		for (size_t a = 0; a < d->nauto; a++)
			if (o->build_id_len == d->auto_v[a]->build_id_len &&
			    !memcmp(o->build_id, d->auto_v[a]->build_id, o->build_id_len))
				target = true;
		if (target)
			continue;
		g_hash_table_add(d->not_target, file_key(e));
	}
}

void dm_forget_pid(struct sut_daemon *d, pid_t pid)
{
	g_hash_table_remove(d->seen, GINT_TO_POINTER(pid));
	g_hash_table_remove(d->problems, GINT_TO_POINTER(pid));
}

static void problem_set(struct sut_daemon *d, pid_t pid, const char *patch, const char *reason,
			bool excluded)
{
	struct dm_problem *p = g_hash_table_lookup(d->problems, GINT_TO_POINTER(pid));
	bool is_new = p == NULL;
	if (!p) {
		p = sut_xcalloc(1, sizeof *p);
		p->pid = pid;
		g_hash_table_insert(d->problems, GINT_TO_POINTER(pid), p);
	}
	bool same = !is_new && p->reason && !strcmp(p->reason, reason);
	free(p->patch);
	free(p->reason);
	p->patch = patch ? sut_xstrdup(patch) : NULL;
	p->reason = sut_xstrdup(reason);
	p->excluded = excluded;
	sut_proc_comm(pid, p->comm, sizeof p->comm);
	if (excluded) {
		p->retry_ms = UINT64_MAX; /* until the policy changes (dm_reload resets it) */
	} else {
		p->failures++;
		uint64_t back = RETRY_FIRST_MS;
		for (unsigned i = 1; i < p->failures && back < RETRY_MAX_MS; i++)
			back *= 2;
		if (back > RETRY_MAX_MS)
			back = RETRY_MAX_MS;
		p->retry_ms = dm_now_ns() / 1000000 + back;
	}
	if (!same)
		dm_log(d, excluded ? 6 : 4, pid, patch, "pid %d (%s): %s%s", (int)pid, p->comm,
		       excluded ? "not patched: excluded: " : "", reason);
}

static bool problem_wait(struct sut_daemon *d, pid_t pid)
{
	struct dm_problem *p = g_hash_table_lookup(d->problems, GINT_TO_POINTER(pid));
	return p && dm_now_ns() / 1000000 < p->retry_ms;
}

/* Applies the patches of one target object (all or nothing) and reports each transaction. */
static bool apply_group(struct sut_daemon *d, pid_t pid, struct sut_patch **v, size_t n)
{
	struct sut_multi_opts o = {.txn = {.timeout_ms = d->conf.timeout_ms}, .skip_applied = true};
	struct sut_multi_result r;
	sut_apply_patches(pid, v, n, &o, &r);
	bool ok = !r.failed;
	for (size_t i = 0; i < r.ntxns; i++) {
		const struct sut_multi_txn *t = &r.txns[i];
		if (d->h.audit)
			d->h.audit(d->h.ctx, "apply", &t->res, t->id, t->error);
		if (t->res.repaired)
			dm_log(d, 5, pid, t->id, "pid %d: %s", (int)pid, t->res.repair_note);
		if (t->res.warning[0])
			dm_log(d, 4, pid, t->id, "warning: %s", t->res.warning);
		if (t->error) {
			d->c.failed++;
			problem_set(d, pid, t->id, t->error, false);
		} else {
			d->c.applied++;
			dm_log(d, 6, pid, t->id, "pid %d: applied %s (%zu function%s, freeze %.3f ms)",
			       (int)pid, t->id, t->res.nfuncs, t->res.nfuncs == 1 ? "" : "s",
			       t->res.freeze_ns / 1e6);
		}
	}
	for (size_t i = 0; i < r.nnotes; i++)
		dm_log(d, 4, pid, NULL, "%s", r.notes[i]);
	bool did = r.ntxns > 0;
	sut_multi_result_free(&r);
	return ok && did;
}

/* Does the object's executable mapping cover every function the patch replaces? While
 * the dynamic linker maps a library, its whole span is first mapped read-only from the
 * file and the text segment is mapped over it afterwards (MAP_FIXED): a jump written in
 * between would be replaced by the file's bytes. */
static bool text_mapped(const struct sut_object *o, const struct sut_patch *p)
{
	for (size_t f = 0; f < p->nfuncs; f++) {
		uint64_t a = o->bias + p->funcs[f].target_addr;
		if (a < o->text_lo || a + p->funcs[f].target_size > o->text_hi)
			return false;
	}
	return true;
}

enum dm_verdict dm_ensure(struct sut_daemon *d, pid_t pid, unsigned flags)
{
	bool fresh = flags & DM_FRESH;
	if (pid == getpid() || d->nauto == 0)
		return DM_NONE;
	struct sut_maps m;
	struct sut_err err;
	if (sut_proc_maps(pid, &m, &err) < 0)
		return DM_GONE;
	unsigned nexec;
	uint64_t sig = maps_signature(&m, &nexec);
	struct dm_seen *s = g_hash_table_lookup(d->seen, GINT_TO_POINTER(pid));
	if (!s) {
		s = sut_xcalloc(1, sizeof *s);
		g_hash_table_insert(d->seen, GINT_TO_POINTER(pid), s);
	}
	s->prev_sig = s->sig;
	bool same = s->gen == d->gen && s->sig == sig;
	s->sig = sig;
	s->gen = d->gen;
	s->nexec = nexec;
	if (!fresh && same && !s->candidate) {
		sut_proc_maps_free(&m);
		return DM_NONE;
	}
	if (!fresh && same && s->candidate &&
	    !g_hash_table_contains(d->problems, GINT_TO_POINTER(pid))) {
		sut_proc_maps_free(&m);
		return DM_DONE; /* patched at the last look, nothing mapped since */
	}
	if (all_known_not_target(d, &m)) {
		sut_proc_maps_free(&m);
		s->candidate = false;
		g_hash_table_remove(d->problems, GINT_TO_POINTER(pid));
		return DM_NONE;
	}
	struct sut_objects objs;
	if (sut_proc_objects(pid, &m, &objs, &err) < 0) {
		sut_proc_maps_free(&m);
		return DM_GONE;
	}
	struct sut_patch **want = NULL;
	size_t nwant = 0, nmapping = 0;
	for (size_t i = 0; i < d->nauto; i++) {
		const struct sut_object *o = sut_objects_find_build_id(
			&objs, d->auto_v[i]->build_id, d->auto_v[i]->build_id_len);
		/* a target file seen for the first time gets its probe (kernel hold) */
		if (o)
			dm_khold_note_object(d, pid, o->open_path);
		/* a library the dynamic linker is still mapping is left for the next look */
		if (o && text_mapped(o, d->auto_v[i])) {
			want = sut_xrealloc(want, (nwant + 1) * sizeof *want);
			want[nwant++] = d->auto_v[i];
		} else if (o) {
			nmapping++;
		}
	}
	learn_not_targets(d, &m, &objs);
	sut_proc_objects_free(&objs);
	sut_proc_maps_free(&m);
	s->candidate = nwant > 0;
	if (nwant == 0) {
		g_hash_table_remove(d->problems, GINT_TO_POINTER(pid));
		return nmapping ? DM_WAIT : DM_NONE;
	}
	enum dm_verdict v = DM_DONE;
	char why[512];
	int ex = sut_conf_excludes(&d->conf, pid, why, sizeof why);
	if (ex < 0) {
		v = DM_GONE;
	} else if (ex > 0) {
		problem_set(d, pid, NULL, why, true);
		v = DM_EXCLUDED;
	} else if (!(flags & DM_NOW) && problem_wait(d, pid)) {
		v = DM_FAILED;
	} else {
		/* one all-or-nothing group per target object, in store order */
		bool any = false, failed = false;
		for (size_t i = 0; i < nwant; i++) {
			if (!want[i])
				continue;
			struct sut_patch *grp[64];
			size_t ng = 0;
			for (size_t k = i; k < nwant && ng < 64; k++)
				if (want[k] && want[k]->build_id_len == want[i]->build_id_len &&
				    !memcmp(want[k]->build_id, want[i]->build_id,
					    want[i]->build_id_len)) {
					grp[ng++] = want[k];
					if (k != i)
						want[k] = NULL;
				}
			size_t before = d->c.failed;
			if (apply_group(d, pid, grp, ng))
				any = true;
			if (d->c.failed != before)
				failed = true;
		}
		if (failed) {
			v = DM_FAILED;
		} else {
			g_hash_table_remove(d->problems, GINT_TO_POINTER(pid));
			v = any ? DM_APPLIED : DM_DONE;
		}
	}
	free(want);
	return v;
}

/* Of the ids to revert, those this process may have from this daemon, into out: an id
 * whose target build is known only where the process maps that build (a patch of the
 * same id for another build, applied by someone else, is left alone), an id of unknown
 * build (a managed file of an older sutured) wherever it is applied. */
static size_t revert_ids_of(struct sut_daemon *d, pid_t pid, const char **ids, size_t nids,
			    const char **out)
{
	struct sut_process_view *v = NULL;
	bool tried = false;
	size_t n = 0;
	for (size_t j = 0; j < nids; j++) {
		const char *hex = g_hash_table_lookup(d->managed_bid, ids[j]);
		if (!hex) {
			out[n++] = ids[j];
			continue;
		}
		if (!tried) {
			tried = true;
			struct sut_err err;
			sut_process_view_read(pid, &v, &err);
		}
		uint8_t bid[64];
		int len = sut_unhex(hex, bid, sizeof bid);
		if (v && len > 0 && sut_process_view_object(v, bid, (size_t)len))
			out[n++] = ids[j];
	}
	sut_process_view_free(v);
	return n;
}

/* Ids the daemon enforced and no longer does: reverted wherever they are applied. Those
 * reverted everywhere (no process has them any more) leave the managed list. */
static void revert_pass(struct sut_daemon *d, const pid_t *pids, size_t n)
{
	const char **ids = NULL;
	size_t nids = 0;
	for (guint i = 0; i < d->managed->len; i++) {
		const char *id = g_ptr_array_index(d->managed, i);
		if (!dm_is_auto(d, id)) {
			ids = sut_xrealloc(ids, (nids + 1) * sizeof *ids);
			ids[nids++] = id;
		}
	}
	if (nids == 0)
		return;
	bool *left = sut_xcalloc(nids, sizeof *left);
	const char **mine = sut_xcalloc(nids, sizeof *mine);
	struct sut_multi_opts o = {.txn = {.timeout_ms = d->conf.timeout_ms}, .skip_applied = true};
	for (size_t k = 0; k < n; k++) {
		if (pids[k] == getpid())
			continue;
		size_t nmine = revert_ids_of(d, pids[k], ids, nids, mine);
		if (nmine == 0)
			continue;
		struct sut_multi_result r;
		sut_revert_patches(pids[k], mine, nmine, &o, &r);
		for (size_t i = 0; i < r.ntxns; i++) {
			const struct sut_multi_txn *t = &r.txns[i];
			if (d->h.audit)
				d->h.audit(d->h.ctx, "revert", &t->res, t->id, t->error);
			if (t->res.warning[0])
				dm_log(d, 4, pids[k], t->id, "warning: %s", t->res.warning);
			if (t->error) {
				d->c.failed++;
				for (size_t j = 0; j < nids; j++)
					if (!strcmp(ids[j], t->id))
						left[j] = true;
				char *why = sut_xasprintf("could not revert: %s", t->error);
				problem_set(d, pids[k], t->id, why, false);
				free(why);
			} else {
				d->c.reverted++;
				dm_log(d, 6, pids[k], t->id, "pid %d: reverted %s", (int)pids[k], t->id);
			}
		}
		if (r.failed) /* the ids after the failing one were not tried in this process */
			for (size_t j = 0; j < nids; j++)
				for (size_t m = 0; m < nmine; m++)
					if (mine[m] == ids[j])
						left[j] = true;
		sut_multi_result_free(&r);
	}
	bool changed = false;
	for (size_t j = 0; j < nids; j++) {
		if (left[j])
			continue;
		for (guint i = 0; i < d->managed->len; i++)
			if (!strcmp(g_ptr_array_index(d->managed, i), ids[j])) {
				g_hash_table_remove(d->managed_bid, ids[j]);
				g_ptr_array_remove_index(d->managed, i); /* frees ids[j] */
				changed = true;
				break;
			}
	}
	if (changed)
		dm_managed_save(d);
	free(mine);
	free(left);
	free(ids);
}

void dm_full_pass(struct sut_daemon *d)
{
	pid_t *pids = NULL;
	size_t n = 0;
	struct sut_err err;
	if (sut_proc_list(&pids, &n, &err) < 0) {
		dm_log(d, 3, 0, NULL, "%s", err.msg);
		return;
	}
	d->c.full_passes++;
	dm_khold_scan_paths(d);
	dm_khold_untold(d);
	revert_pass(d, pids, n);
	GHashTable *alive = g_hash_table_new(NULL, NULL);
	for (size_t k = 0; k < n; k++) {
		g_hash_table_add(alive, GINT_TO_POINTER(pids[k]));
		dm_ensure(d, pids[k], 0);
		/* a pass over many processes to patch takes a while: processes the kernel
		 * hold stopped meanwhile are patched and continued first */
		if (k % 8 == 7) {
			dm_khold_read(d);
			while (dm_khold_work(d))
				;
			dm_khold_beat(d);
		}
	}
	/* forget what the connector's exit messages did not tell (or when it is off) */
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, d->seen);
	while (g_hash_table_iter_next(&it, &key, NULL))
		if (!g_hash_table_contains(alive, key))
			g_hash_table_iter_remove(&it);
	g_hash_table_iter_init(&it, d->problems);
	while (g_hash_table_iter_next(&it, &key, NULL))
		if (!g_hash_table_contains(alive, key))
			g_hash_table_iter_remove(&it);
	g_hash_table_destroy(alive);
	free(pids);
}
