/* SPDX-License-Identifier: Apache-2.0 */
/* Per-function comparison of two compilations of one translation unit (both built with
 * -ffunction-sections -fdata-sections).
 *
 * A function is unchanged when its size, its bytes and its relocations are the same, where a
 * relocation is compared by what it designates rather than by symbol indices or label
 * numbers (which any edit renumbers): a named symbol by name (after matching compiler-suffixed
 * names such as foo.constprop.1 to foo.constprop.0), a string or constant of a mergeable
 * section by its bytes, an anonymous section by its bytes and relocations. This is what makes
 * the patch small: only what the fix really changed is carried. */
#include "build/build_internal.h"

#include <ctype.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* The name with every all-digit dot-separated component replaced by "N":
 * "foo.constprop.3" -> "foo.constprop.N", "calls.12" -> "calls.N". */
static char *normalise(const char *name)
{
	struct sut_buf b = {0};
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		bool digits = l > 0 && p != name;
		for (size_t k = 0; k < l && digits; k++)
			digits = isdigit((unsigned char)p[k]);
		if (digits)
			sut_buf_append(&b, "N", 1);
		else
			sut_buf_append(&b, p, l);
		if (!dot)
			break;
		sut_buf_append(&b, ".", 1);
		p = dot + 1;
	}
	sut_buf_append(&b, "", 1);
	return (char *)b.data;
}

static bool comparable(const struct bld_obj *o, size_t i)
{
	return bld_sym_is_func(o, i) || bld_sym_is_object(o, i);
}

/* Same kind: a function matches a function, an object an object. */
static bool same_kind(const struct bld_obj *a, size_t i, const struct bld_obj *b, size_t k)
{
	return bld_sym_is_func(a, i) == bld_sym_is_func(b, k) &&
	       bld_sym_is_object(a, i) == bld_sym_is_object(b, k);
}

static size_t count_normalised(const struct bld_obj *o, const char *norm, long *which)
{
	size_t n = 0;
	for (size_t i = 0; i < o->nsyms; i++) {
		if (!comparable(o, i))
			continue;
		char *m = normalise(o->syms[i].name);
		if (!strcmp(m, norm)) {
			n++;
			*which = (long)i;
		}
		free(m);
	}
	return n;
}

/* Exact name first; else the name with suffix numbers stripped when it is unique in both
 * objects (a new static local or clone renumbers the others). */
static long match_symbol(const struct bld_obj *orig, const struct bld_obj *patched, size_t i)
{
	const char *name = patched->syms[i].name;
	for (size_t k = 0; k < orig->nsyms; k++)
		if (comparable(orig, k) && same_kind(patched, i, orig, k) &&
		    !strcmp(orig->syms[k].name, name))
			return (long)k;
	char *norm = normalise(name);
	long found = -1, self = -1;
	if (!strcmp(norm, name) || count_normalised(patched, norm, &self) != 1 ||
	    count_normalised(orig, norm, &found) != 1 || !same_kind(patched, i, orig, (size_t)found))
		found = -1;
	free(norm);
	return found;
}

/* Whether function f of o references symbol `sym` (directly or through its section). */
static bool references(const struct bld_obj *o, size_t f, size_t sym)
{
	const struct bld_sym *fs = &o->syms[f];
	const struct bld_sec *s = &o->secs[fs->shndx];
	for (size_t r = 0; r < s->nrelas; r++) {
		if (s->relas[r].offset < fs->value || s->relas[r].offset >= fs->value + fs->size)
			continue;
		struct bld_ref ref;
		bld_resolve_ref(o, &s->relas[r], &ref);
		if (ref.kind == BLD_REF_SYM && ref.sym == sym)
			return true;
	}
	return false;
}

/* The object of o referenced by function f whose name normalises to norm, if exactly one. */
static long referenced_by(const struct bld_obj *o, size_t f, const char *norm)
{
	long found = -1;
	for (size_t k = 0; k < o->nsyms; k++) {
		if (!bld_sym_is_object(o, k) || o->syms[k].bind != STB_LOCAL)
			continue;
		char *m = normalise(o->syms[k].name);
		bool same = !strcmp(m, norm);
		free(m);
		if (same && references(o, f, k)) {
			if (found >= 0)
				return -1;
			found = (long)k;
		}
	}
	return found;
}

/* A numbered local object (a static local "n.1", "__func__.0") is named by the compiler in
 * the order it meets them, so an added function renumbers the others and the same name may
 * designate another function's variable. It is matched through the first function that uses
 * it (alone among its objects of that base name): to the object of that base name the
 * matched original function uses, or to none. Binding a static local counter to another
 * function's counter would corrupt the program. -2: no such user, keep the name match. */
static long match_by_user(const struct bld_obj *orig, const struct bld_obj *patched, long *match,
			  size_t i)
{
	char *norm = normalise(patched->syms[i].name);
	long found = -2; /* no user found: keep the name match */
	for (size_t f = 0; f < patched->nsyms; f++) {
		if (!bld_sym_is_func(patched, f) || !references(patched, f, i))
			continue;
		if (match[f] < 0) { /* used by a new function: its own new variable */
			found = -1;
			continue;
		}
		/* -1 when the original user has no such object: a new variable, never
		 * another function's */
		if (referenced_by(patched, f, norm) == (long)i) {
			found = referenced_by(orig, (size_t)match[f], norm);
			break;
		}
	}
	free(norm);
	return found;
}

/* A numbered read-only local ("__func__.3", "CSWTCH.12") is a constant: its identity is its
 * bytes. Two __func__ strings in one function (one of an inlined callee) defeat matching
 * through the user, and matching by name binds another function's string. The original
 * object of the same base name with the same size and bytes, when there is exactly one;
 * -2 when there is none or several (other rules decide). Objects with relocations (tables
 * of pointers) are left to the other rules. */
static long match_by_content(const struct bld_obj *orig, const struct bld_obj *patched, size_t i,
			     const char *norm)
{
	const struct bld_sym *ps = &patched->syms[i];
	const struct bld_sec *psec = &patched->secs[ps->shndx];
	if (bld_sym_is_writable(patched, i) || !psec->data || psec->nrelas ||
	    ps->value + ps->size > psec->size)
		return -2;
	long found = -2;
	for (size_t k = 0; k < orig->nsyms; k++) {
		const struct bld_sym *os = &orig->syms[k];
		if (!bld_sym_is_object(orig, k) || os->bind != STB_LOCAL || os->size != ps->size ||
		    bld_sym_is_writable(orig, k))
			continue;
		const struct bld_sec *osec = &orig->secs[os->shndx];
		if (!osec->data || osec->nrelas || os->value + os->size > osec->size ||
		    memcmp(osec->data + os->value, psec->data + ps->value, ps->size))
			continue;
		char *m = normalise(os->name);
		bool same = !strcmp(m, norm);
		free(m);
		if (!same)
			continue;
		if (found != -2)
			return -2; /* several identical constants: any would do, but be exact */
		found = (long)k;
	}
	return found;
}

const char *bld_orig_name(const struct bld_obj *patched, const struct bld_obj *orig,
			  const struct bld_objdiff *d, size_t i)
{
	if (orig && i < d->nsyms && d->match[i] >= 0)
		return orig->syms[d->match[i]].name;
	return patched->syms[i].name;
}

struct cmp_ctx {
	const struct bld_obj *o, *p; /* orig, patched */
	const struct bld_objdiff *d;
};

static bool same_range(const struct cmp_ctx *c, const struct bld_sec *os, uint64_t ov,
		       const struct bld_sec *ps, uint64_t pv, uint64_t size, int depth);

static bool same_ref(const struct cmp_ctx *c, const struct bld_rela *ro, const struct bld_rela *rp,
		     int depth)
{
	struct bld_ref a, b;
	bld_resolve_ref(c->o, ro, &a);
	bld_resolve_ref(c->p, rp, &b);
	if (a.kind != b.kind || a.delta != b.delta)
		return false;
	switch (a.kind) {
	case BLD_REF_SYM:
		/* A function that uses a changed read-only object must carry it: the object's
		 * new copy is only reached through the function's new code. */
		if (b.sym < c->d->nsyms && bld_sym_is_object(c->p, b.sym) &&
		    !bld_sym_is_writable(c->p, b.sym) && c->d->state[b.sym] != BLD_SAME)
			return false;
		return !strcmp(c->o->syms[a.sym].name, bld_orig_name(c->p, c->o, c->d, b.sym));
	case BLD_REF_MERGE:
		return a.len == b.len && (a.len == 0 || !memcmp(c->o->secs[a.sec].data + a.start,
								  c->p->secs[b.sec].data + b.start, a.len));
	case BLD_REF_ANON: {
		const struct bld_sec *x = &c->o->secs[a.sec], *y = &c->p->secs[b.sec];
		if (x->size != y->size || x->type != y->type)
			return false;
		if (depth > 0) /* one level: a jump table's targets are labels of the function */
			return !x->data || !memcmp(x->data, y->data, x->size);
		return same_range(c, x, 0, y, 0, x->size, depth + 1);
	}
	}
	return false;
}

static size_t first_rela(const struct bld_sec *s, uint64_t from)
{
	size_t lo = 0, hi = s->nrelas;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->relas[mid].offset < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Bytes and relocations of [ov, ov+size) in os against [pv, pv+size) in ps. */
static bool same_range(const struct cmp_ctx *c, const struct bld_sec *os, uint64_t ov,
		       const struct bld_sec *ps, uint64_t pv, uint64_t size, int depth)
{
	if (os->type != ps->type)
		return false;
	if (os->data && ps->data && memcmp(os->data + ov, ps->data + pv, size))
		return false;
	size_t i = first_rela(os, ov), k = first_rela(ps, pv);
	for (;; i++, k++) {
		bool oe = i >= os->nrelas || os->relas[i].offset >= ov + size;
		bool pe = k >= ps->nrelas || ps->relas[k].offset >= pv + size;
		if (oe || pe)
			return oe == pe;
		const struct bld_rela *a = &os->relas[i], *b = &ps->relas[k];
		if (a->offset - ov != b->offset - pv || a->type != b->type || !same_ref(c, a, b, depth))
			return false;
	}
}

static bool same_symbol(const struct cmp_ctx *c, size_t oi, size_t pi)
{
	const struct bld_sym *a = &c->o->syms[oi], *b = &c->p->syms[pi];
	if (a->size != b->size)
		return false;
	const struct bld_sec *os = &c->o->secs[a->shndx], *ps = &c->p->secs[b->shndx];
	if (a->value + a->size > os->size || b->value + b->size > ps->size)
		return false;
	return same_range(c, os, a->value, ps, b->value, a->size, 0);
}

static void free_partial(struct bld_objdiff *d)
{
	bld_objdiff_free(d);
}

int bld_objdiff(const struct bld_obj *orig, const struct bld_obj *patched, struct bld_objdiff *d,
		struct sut_err *err)
{
	memset(d, 0, sizeof *d);
	d->nsyms = patched->nsyms;
	d->match = sut_xcalloc(d->nsyms, sizeof *d->match);
	d->state = sut_xcalloc(d->nsyms, sizeof *d->state);
	d->reason = sut_xcalloc(d->nsyms, sizeof *d->reason);
	for (size_t i = 0; i < d->nsyms; i++)
		d->match[i] = orig && comparable(patched, i) ? match_symbol(orig, patched, i) : -1;
	for (size_t i = 0; orig && i < d->nsyms; i++) {
		if (!bld_sym_is_object(patched, i) || patched->syms[i].bind != STB_LOCAL)
			continue;
		char *norm = normalise(patched->syms[i].name);
		bool numbered = strcmp(norm, patched->syms[i].name) != 0;
		long k = numbered ? match_by_content(orig, patched, i, norm) : -2;
		free(norm);
		if (numbered && k == -2)
			k = match_by_user(orig, patched, d->match, i);
		if (k != -2)
			d->match[i] = k;
	}
	for (size_t i = 0; i < d->nsyms; i++)
		d->state[i] = comparable(patched, i) && d->match[i] < 0 ? BLD_NEW : BLD_SAME;
	if (!orig)
		return 0;
	struct cmp_ctx c = { orig, patched, d };
	/* Data first: a function using a changed constant counts as changed. */
	for (size_t i = 0; i < d->nsyms; i++) {
		if (!bld_sym_is_object(patched, i) || d->match[i] < 0)
			continue;
		size_t oi = (size_t)d->match[i];
		bool same = same_symbol(&c, oi, i);
		if (bld_sym_is_writable(patched, i) && (!same || !bld_sym_is_writable(orig, oi))) {
			sut_errf(err, "cannot live-patch: initial value of writable variable '%s' (%s) changed",
				 patched->syms[i].name, patched->file[0] ? patched->file : patched->path);
			free_partial(d);
			return -1;
		}
		d->state[i] = same ? BLD_SAME : BLD_CHANGED;
	}
	for (size_t i = 0; i < d->nsyms; i++)
		if (bld_sym_is_func(patched, i) && d->match[i] >= 0)
			d->state[i] = same_symbol(&c, (size_t)d->match[i], i) ? BLD_SAME : BLD_CHANGED;
	/* A function and its .cold part are one unit: it jumps into the part and back. */
	for (size_t i = 0; i < d->nsyms; i++) {
		long parent = bld_sym_is_func(patched, i) ? bld_cold_parent(patched, i) : -1;
		if (parent >= 0 && d->state[i] != BLD_SAME && d->state[parent] == BLD_SAME)
			d->state[parent] = BLD_CHANGED;
	}
	return 0;
}

void bld_objdiff_free(struct bld_objdiff *d)
{
	if (d->reason)
		for (size_t i = 0; i < d->nsyms; i++)
			free(d->reason[i]);
	free(d->reason);
	free(d->match);
	free(d->state);
	memset(d, 0, sizeof *d);
}
