/* SPDX-License-Identifier: Apache-2.0 */
/* The decoded status view (apply.h): a process's registry, validated, grouped by object,
 * each record checked to be true now; and process discovery. Nothing here stops or
 * writes a process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/apply.h"
#include "apply/registry.h"
#include "apply/txn.h"
#include "util/buf.h"

static void decode_patch(const struct sut_reg_patch *p, const struct sut_reg_liveness *l,
			 const bool *superseded, struct sut_status_patch *out)
{
	memset(out, 0, sizeof *out);
	/* the decoder checked every string is NUL-terminated inside its field */
	snprintf(out->id, sizeof out->id, "%s", p->id);
	snprintf(out->target, sizeof out->target, "%s", p->target);
	out->version = p->version;
	out->consistency = p->flags & SUT_REG_FLAG_PER_CALL ? SUT_CONS_PER_CALL : SUT_CONS_STRICT;
	out->applied_at = p->applied_at;
	out->bias = p->bias;
	out->region = p->region;
	out->region_size = p->region_size;
	out->live = l->live;
	snprintf(out->stale_why, sizeof out->stale_why, "%s", l->why);
	char cves[sizeof p->cves];
	memcpy(cves, p->cves, sizeof cves);
	for (char *s = cves, *tok; (tok = strsep(&s, ",")) != NULL;) {
		if (!*tok)
			continue;
		out->cves = sut_xrealloc(out->cves, (out->ncves + 1) * sizeof *out->cves);
		out->cves[out->ncves++] = sut_xstrdup(tok);
	}
	out->nfuncs = p->nfuncs;
	out->funcs = sut_xcalloc(p->nfuncs, sizeof *out->funcs);
	for (uint32_t k = 0; k < p->nfuncs; k++) {
		const struct sut_reg_func *f = &sut_reg_funcs(p)[k];
		struct sut_status_func *o = &out->funcs[k];
		snprintf(o->name, sizeof o->name, "%s", f->name);
		o->addr = f->addr;
		o->size = f->size;
		o->repl = f->repl;
		o->repl_size = f->repl_size;
		o->superseded = superseded[k];
		memcpy(o->saved, f->saved, sizeof o->saved);
		memcpy(o->written, f->written, sizeof o->written);
	}
}

struct rec_ref {
	const struct sut_reg_patch *p;
	size_t index, first_func;
};

static int cmp_object(const struct sut_reg_patch *a, const struct sut_reg_patch *b)
{
	if (a->build_id_len != b->build_id_len)
		return a->build_id_len < b->build_id_len ? -1 : 1;
	return memcmp(a->build_id, b->build_id, a->build_id_len);
}

/* Orders records by build-id, then application order: one pass then groups them. */
static int cmp_by_object(const void *a, const void *b)
{
	const struct rec_ref *x = a, *y = b;
	int c = cmp_object(x->p, y->p);
	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Objects in the order their first patch was applied. */
struct obj_order {
	size_t first;
	struct sut_status_object o;
};

static int cmp_first(const void *a, const void *b)
{
	const struct obj_order *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

static int build_view(pid_t pid, const struct sut_registry *reg, const struct sut_maps *maps,
		      const struct sut_objects *objs, struct sut_status *st, struct sut_err *err)
{
	size_t n = reg->hdr.npatches, nf = sut_registry_nfuncs(reg);
	struct sut_reg_liveness *live = sut_xcalloc(n ? n : 1, sizeof *live);
	bool *sup = sut_xcalloc(nf ? nf : 1, sizeof *sup);
	struct rec_ref *refs = sut_xcalloc(n ? n : 1, sizeof *refs);
	size_t *first = sut_xcalloc(n ? n : 1, sizeof *first);
	int rc = sut_registry_liveness(pid, reg, maps, objs, live, sup, err);
	if (rc < 0)
		goto out;
	size_t i = 0, flat = 0;
	for (const struct sut_reg_patch *p = sut_registry_next(reg, NULL); p && i < n;
	     p = sut_registry_next(reg, p), i++) {
		refs[i] = (struct rec_ref){p, i, flat};
		flat += p->nfuncs;
	}
	qsort(refs, n, sizeof *refs, cmp_by_object);
	st->objects = sut_xcalloc(n ? n : 1, sizeof *st->objects);
	for (i = 0; i < n; i++) {
		const struct sut_reg_patch *p = refs[i].p;
		struct sut_status_object *o = st->nobjects ? &st->objects[st->nobjects - 1] : NULL;
		if (!o || o->build_id_len != p->build_id_len ||
		    memcmp(o->build_id, p->build_id, p->build_id_len)) {
			o = &st->objects[st->nobjects];
			first[st->nobjects++] = refs[i].index;
			memcpy(o->build_id, p->build_id, p->build_id_len);
			o->build_id_len = p->build_id_len;
			const struct sut_object *m =
				sut_objects_find_build_id(objs, p->build_id, p->build_id_len);
			o->mapped = m != NULL;
			o->path = sut_xstrdup(m ? m->path : p->target);
			size_t group = 1; /* records of this object: they follow, sorted */
			while (i + group < n && !cmp_object(refs[i + group].p, p))
				group++;
			o->patches = sut_xcalloc(group, sizeof *o->patches);
		}
		decode_patch(p, &live[refs[i].index], &sup[refs[i].first_func],
			     &o->patches[o->npatches++]);
		if (live[refs[i].index].live) {
			st->nlive++;
		} else {
			st->nstale++;
			/* the old code runs where the object is still mapped */
			st->exposed |= o->mapped;
		}
	}
	/* objects in the order their first patch was applied (a stable, meaningful order) */
	struct obj_order *ord = sut_xcalloc(st->nobjects ? st->nobjects : 1, sizeof *ord);
	for (i = 0; i < st->nobjects; i++)
		ord[i] = (struct obj_order){first[i], st->objects[i]};
	qsort(ord, st->nobjects, sizeof *ord, cmp_first);
	for (i = 0; i < st->nobjects; i++)
		st->objects[i] = ord[i].o;
	free(ord);
out:
	free(live);
	free(sup);
	free(refs);
	free(first);
	return rc;
}

int sut_status_decode(pid_t pid, const struct sut_registry *reg, const struct sut_maps *maps,
		      const struct sut_objects *objs, struct sut_status *st, struct sut_err *err)
{
	st->registry_addr = reg->addr;
	st->txn = reg->hdr.state == SUT_REG_APPLYING	  ? SUT_STATUS_TXN_INTERRUPTED_APPLY
		  : reg->hdr.state == SUT_REG_REVERTING ? SUT_STATUS_TXN_INTERRUPTED_REVERT
							: SUT_STATUS_TXN_NONE;
	st->txn_tool_pid = st->txn ? reg->hdr.tool_pid : 0;
	return build_view(pid, reg, maps, objs, st, err);
}

int sut_status_read(pid_t pid, struct sut_status *st, struct sut_err *err)
{
	memset(st, 0, sizeof *st);
	st->pid = pid;
	struct sut_process_view *v;
	if (sut_process_view_read(pid, &v, err) < 0)
		return -1;
	/* the status is the view's: taken over, the rest freed */
	*st = v->status;
	memset(&v->status, 0, sizeof v->status);
	sut_process_view_free(v);
	return 0;
}

void sut_status_free(struct sut_status *st)
{
	for (size_t i = 0; i < st->nobjects; i++) {
		struct sut_status_object *o = &st->objects[i];
		for (size_t k = 0; k < o->npatches; k++) {
			for (size_t c = 0; c < o->patches[k].ncves; c++)
				free(o->patches[k].cves[c]);
			free(o->patches[k].cves);
			free(o->patches[k].funcs);
		}
		free(o->patches);
		free(o->path);
	}
	free(st->objects);
	st->objects = NULL;
	st->nobjects = 0;
}

const struct sut_status_patch *sut_status_find(const struct sut_status *st, const char *id)
{
	for (size_t i = 0; i < st->nobjects; i++)
		for (size_t k = 0; k < st->objects[i].npatches; k++)
			if (!strcmp(st->objects[i].patches[k].id, id))
				return &st->objects[i].patches[k];
	return NULL;
}

int sut_discover_processes(enum sut_discover what, const uint8_t *build_id, size_t len,
			   struct sut_found_process **out, size_t *n, struct sut_err *err)
{
	pid_t *all = NULL;
	size_t na = 0;
	*out = NULL;
	*n = 0;
	if (sut_proc_list(&all, &na, err) < 0)
		return -1;
	struct sut_found_process *v = sut_xcalloc(na ? na : 1, sizeof *v);
	size_t k = 0;
	for (size_t i = 0; i < na; i++) {
		if (all[i] == getpid())
			continue;
		if (what == SUT_DISCOVER_ALL) {
			v[k++].pid = all[i];
			continue;
		}
		struct sut_err e;
		if (what == SUT_DISCOVER_WITH_REGISTRY) {
			struct sut_maps m;
			if (sut_proc_maps(all[i], &m, &e) < 0)
				continue;
			if (sut_maps_find_memfd(&m, SUT_REG_NAME))
				v[k++].pid = all[i];
			sut_proc_maps_free(&m);
			continue;
		}
		/* the process's one read: kept, with its status, for the caller */
		struct sut_process_view *pv;
		if (sut_process_view_read(all[i], &pv, &e) < 0)
			continue;
		const struct sut_object *o = sut_process_view_object(pv, build_id, len);
		if (!o) {
			sut_process_view_free(pv);
			continue;
		}
		v[k++] = (struct sut_found_process){all[i], sut_xstrdup(o->path), pv};
	}
	free(all);
	*out = v;
	*n = k;
	return 0;
}

void sut_found_processes_free(struct sut_found_process *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].path);
		sut_process_view_free(v[i].view);
	}
	free(v);
}
