/* SPDX-License-Identifier: Apache-2.0 */
/* Verdicts: for each process and vulnerability, the truth of what the process runs.
 *
 * An object is affected when its package version (Debian) or reported OpenSSL version
 * (upstream build) is in an affected range. It is then fixed by a live patch only when a
 * patch naming the CVE, on that object or on another object of the same package in the
 * same process, was proved by verify (registry sound, jump in place, code equal to the
 * signed patch): a registry's word alone never counts. Otherwise, when the file now at its
 * path is a different, unaffected file, it is fixed on disk and the process still runs the
 * old code; otherwise exposed. A process's verdict is its worst object's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assess/assess_internal.h"
#include "util/buf.h"

const char *sut_verdict_name(enum sut_verdict v)
{
	switch (v) {
	case SUT_V_NOT_AFFECTED: return "not-affected";
	case SUT_V_FIXED_LIVE: return "fixed-live";
	case SUT_V_FIXED_ON_DISK: return "fixed-on-disk";
	case SUT_V_EXPOSED: return "exposed";
	}
	return "?";
}

/* Does the comma-separated list name the vulnerability (its CVE, id or an alias)? */
static bool names_vuln(const char *list, const struct sut_vuln *v)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", list);
	for (char *s = buf, *tok; (tok = strsep(&s, ", ")) != NULL;) {
		if (!*tok)
			continue;
		if (!strcmp(tok, v->cve) || !strcmp(tok, v->id))
			return true;
		for (size_t i = 0; i < v->naliases; i++)
			if (!strcmp(tok, v->aliases[i]))
				return true;
	}
	return false;
}

/* The family a file belongs to for "same package": its source package, else "openssl"
 * for a build that reports an OpenSSL version. */
static const char *family(const struct sut_inv_file *f)
{
	return f->source ? f->source : f->openssl ? "openssl" : NULL;
}

/* A proved live patch in process p fixing v for object o; NULL when none. */
static const char *live_fix(const struct sut_inventory *inv, const struct sut_inv_proc *p,
			    const struct sut_inv_obj *o, const struct sut_vuln *v)
{
	const struct sut_inv_file *f = &inv->files[o->file];
	const char *fam = family(f);
	if (!p->vfy.registry_ok)
		return NULL;
	for (size_t i = 0; i < p->vfy.npatches; i++) {
		const struct sut_vfy_patch *vp = &p->vfy.patches[i];
		if (!vp->verified || !names_vuln(vp->cves, v))
			continue;
		for (size_t k = 0; k < p->nobjs; k++) {
			const struct sut_inv_file *g = &inv->files[p->objs[k].file];
			if (g->build_id_len != vp->build_id_len ||
			    memcmp(g->build_id, vp->build_id, vp->build_id_len))
				continue;
			const char *gf = family(g);
			if (g == f || (fam && gf && !strcmp(fam, gf)))
				return vp->id;
		}
	}
	return NULL;
}

/* A patch the process records as naming v that verify did not prove, or NULL. */
static const char *unproven_fix(const struct sut_inv_proc *p, const struct sut_vuln *v)
{
	for (size_t i = 0; i < p->vfy.npatches; i++)
		if (names_vuln(p->vfy.patches[i].cves, v) &&
		    (!p->vfy.patches[i].verified || !p->vfy.registry_ok))
			return p->vfy.patches[i].id;
	return NULL;
}

/* A store patch for this object's build naming v, or NULL. */
static const char *store_fix(const struct sut_patch_set *store, const struct sut_inv_file *f,
			     const struct sut_vuln *v)
{
	for (size_t i = 0; store && i < store->n; i++) {
		const struct sut_patch *p = store->v[i];
		if (p->build_id_len != f->build_id_len ||
		    memcmp(p->build_id, f->build_id, f->build_id_len))
			continue;
		for (size_t k = 0; k < p->ncves; k++)
			if (names_vuln(p->cves[k], v))
				return p->id;
	}
	return NULL;
}

static enum sut_verdict object_verdict(const struct sut_inventory *inv,
				       const struct sut_inv_proc *p, const struct sut_inv_obj *o,
				       const struct sut_vuln *v, const char **patch)
{
	*patch = NULL;
	if (sut_vuln_affects(v, &inv->files[o->file]) != 1)
		return SUT_V_NOT_AFFECTED;
	if ((*patch = live_fix(inv, p, o, v)) != NULL)
		return SUT_V_FIXED_LIVE;
	if (o->disk_file >= 0 && sut_vuln_affects(v, &inv->files[o->disk_file]) == 0)
		return SUT_V_FIXED_ON_DISK;
	return SUT_V_EXPOSED;
}

static int exposure_of(const struct sut_inv_proc *p)
{
	return (p->listening || p->established ? 2 : 0) + (p->external ? 2 : 0) +
	       (p->euid == 0 ? 1 : 0);
}

static const struct sut_inventory *g_inv;
static const struct sut_vulndb *g_db;

static int rank(enum sut_verdict v)
{
	return v == SUT_V_EXPOSED ? 3 : v == SUT_V_FIXED_ON_DISK ? 2 : v == SUT_V_FIXED_LIVE ? 1 : 0;
}

static int cmp_finding(const void *pa, const void *pb)
{
	const struct sut_finding *a = pa, *b = pb;
	bool act_a = a->verdict >= SUT_V_FIXED_ON_DISK, act_b = b->verdict >= SUT_V_FIXED_ON_DISK;
	if (act_a != act_b)
		return act_a ? -1 : 1;
	const struct sut_vuln *va = &g_db->v[a->vuln], *vb = &g_db->v[b->vuln];
	double sa = va->cvss ? va->cvss : va->severity * 2.5, sb = vb->cvss ? vb->cvss : vb->severity * 2.5;
	if (sa != sb)
		return sa > sb ? -1 : 1;
	if (a->exposure != b->exposure)
		return b->exposure - a->exposure;
	/* older first: known longer, more likely exploited; undated last */
	const char *pa_ = va->published, *pb_ = vb->published;
	if (pa_ && pb_ && strcmp(pa_, pb_))
		return strcmp(pa_, pb_);
	if (!pa_ != !pb_)
		return pa_ ? -1 : 1;
	if (rank(a->verdict) != rank(b->verdict))
		return rank(b->verdict) - rank(a->verdict);
	int c = strcmp(va->cve, vb->cve);
	if (c)
		return c;
	return (int)g_inv->procs[a->proc].pid - (int)g_inv->procs[b->proc].pid;
}

int sut_assess(const struct sut_inventory *inv, const struct sut_vulndb *db,
	       const struct sut_patch_set *store, struct sut_assessment *out, struct sut_err *err)
{
	memset(out, 0, sizeof *out);
	size_t cap = 0;
	for (size_t pi = 0; pi < inv->nprocs; pi++) {
		const struct sut_inv_proc *p = &inv->procs[pi];
		for (size_t vi = 0; vi < db->n; vi++) {
			const struct sut_vuln *v = &db->v[vi];
			enum sut_verdict worst = SUT_V_NOT_AFFECTED;
			size_t wobj = 0;
			const char *wpatch = NULL;
			for (size_t oi = 0; oi < p->nobjs; oi++) {
				const char *patch;
				enum sut_verdict r = object_verdict(inv, p, &p->objs[oi], v, &patch);
				/* the worst object; of equals, the one that reports an OpenSSL
				 * version (libcrypto rather than the openssl executable) */
				bool better = rank(r) > rank(worst) ||
					      (r != SUT_V_NOT_AFFECTED && rank(r) == rank(worst) &&
					       inv->files[p->objs[oi].file].openssl &&
					       !inv->files[p->objs[wobj].file].openssl);
				if (better) {
					worst = r;
					wobj = oi;
					wpatch = patch;
				}
			}
			if (worst == SUT_V_NOT_AFFECTED)
				continue;
			if (out->n == cap) {
				cap = cap ? 2 * cap : 64;
				out->v = sut_xrealloc(out->v, cap * sizeof *out->v);
			}
			struct sut_finding *f = &out->v[out->n++];
			memset(f, 0, sizeof *f);
			f->proc = pi;
			f->vuln = vi;
			f->obj = wobj;
			f->verdict = worst;
			f->exposure = exposure_of(p);
			if (worst != SUT_V_FIXED_LIVE)
				wpatch = store_fix(store, &inv->files[p->objs[wobj].file], v);
			snprintf(f->live_patch, sizeof f->live_patch, "%s", wpatch ? wpatch : "");
			const char *un = worst == SUT_V_FIXED_LIVE ? NULL : unproven_fix(p, v);
			snprintf(f->unproven, sizeof f->unproven, "%s", un ? un : "");
		}
	}
	g_inv = inv;
	g_db = db;
	qsort(out->v, out->n, sizeof *out->v, cmp_finding);
	return 0;
}

void sut_assessment_free(struct sut_assessment *a)
{
	free(a->v);
	memset(a, 0, sizeof *a);
}

static void append(char *buf, size_t cap, const char *s)
{
	size_t l = strlen(buf);
	if (strstr(buf, s))
		return;
	snprintf(buf + l, cap - l, "%s%s", l ? "," : "", s);
}

int sut_vex_statements(const struct sut_inventory *inv, const struct sut_vulndb *db,
		       const struct sut_patch_set *store, struct sut_vex_stmt **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	for (size_t vi = 0; vi < db->n; vi++) {
		const struct sut_vuln *v = &db->v[vi];
		bool any = false;
		for (size_t fi = 0; fi < inv->nfiles; fi++) {
			const struct sut_inv_file *file = &inv->files[fi];
			if (file->on_disk)
				continue; /* products are what runs */
			int a = sut_vuln_affects(v, file);
			if (a < 0)
				continue;
			struct sut_vex_stmt s = {.vuln = vi, .file = (long)fi};
			any = true;
			if (a == 0) {
				s.status = SUT_VEX_FIXED;
			} else {
				for (size_t pi = 0; pi < inv->nprocs; pi++) {
					const struct sut_inv_proc *p = &inv->procs[pi];
					for (size_t oi = 0; oi < p->nobjs; oi++) {
						if (p->objs[oi].file != fi)
							continue;
						s.nprocs++;
						const char *id = live_fix(inv, p, &p->objs[oi], v);
						if (id) {
							s.npatched++;
							append(s.patches, sizeof s.patches, id);
						}
						break;
					}
				}
				s.status = s.nprocs && s.npatched == s.nprocs ? SUT_VEX_MITIGATED
									     : SUT_VEX_AFFECTED;
				const char *act = store_fix(store, file, v);
				snprintf(s.action, sizeof s.action, "%s", act ? act : "");
			}
			if (*n == cap) {
				cap = cap ? 2 * cap : 32;
				*out = sut_xrealloc(*out, cap * sizeof **out);
			}
			(*out)[(*n)++] = s;
		}
		if (!any) {
			if (*n == cap) {
				cap = cap ? 2 * cap : 32;
				*out = sut_xrealloc(*out, cap * sizeof **out);
			}
			(*out)[(*n)++] = (struct sut_vex_stmt){.vuln = vi, .file = -1,
							      .status = SUT_VEX_NOT_PRESENT};
		}
	}
	return 0;
}
