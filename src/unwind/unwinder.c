/* SPDX-License-Identifier: Apache-2.0 */
/* The unwinder: CFI of objects, cached by GNU build-id.
 *
 * A build-id names the file's contents, so the CFI parsed for one process serves every other
 * process that maps the same build, whatever path it was opened through (a path under
 * /proc/PID/map_files dies with the process; the mapped file stays valid in the cache).
 * Modules without a build-id are opened for one call and closed at its end: their path says
 * nothing about their contents, so keeping them would risk unwinding with the CFI of another
 * file. A failed open is never cached: another process may give a path that works.
 *
 * The cache is a flat array searched linearly: a process maps tens to a few hundred
 * objects, and each call resolves a module at most once (unw_call_objects). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unwind/unwind_internal.h"
#include "util/buf.h"

#define BUILD_ID_MAX 64

struct cached_object {
	uint8_t build_id[BUILD_ID_MAX];
	size_t build_id_len;
	struct unw_object *obj;
};

struct sut_unwinder {
	struct cached_object *v;
	size_t n, cap;
};

struct sut_unwinder *sut_unwinder_new(void)
{
	return sut_xcalloc(1, sizeof(struct sut_unwinder));
}

void sut_unwinder_free(struct sut_unwinder *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n; i++)
		unw_object_close(u->v[i].obj);
	free(u->v);
	free(u);
}

size_t sut_unwinder_cached(const struct sut_unwinder *u)
{
	return u ? u->n : 0;
}

void sut_unwinder_rows(const struct sut_unwinder *u, struct sut_unwinder_rows *r)
{
	memset(r, 0, sizeof *r);
	for (size_t i = 0; u && i < u->n; i++) {
		size_t rows;
		uint64_t hits, misses;
		unw_object_stats(u->v[i].obj, &rows, &hits, &misses);
		r->rows += rows;
		r->hits += hits;
		r->misses += misses;
	}
}

static bool cacheable(const struct sut_unwind_module *m)
{
	return m->build_id && m->build_id_len > 0 && m->build_id_len <= BUILD_ID_MAX;
}

static struct unw_object *cache_find(const struct sut_unwinder *u, const uint8_t *id, size_t len)
{
	for (size_t i = 0; i < u->n; i++)
		if (u->v[i].build_id_len == len && memcmp(u->v[i].build_id, id, len) == 0)
			return u->v[i].obj;
	return NULL;
}

static void cache_add(struct sut_unwinder *u, const uint8_t *id, size_t len,
		      struct unw_object *obj)
{
	if (u->n == u->cap) {
		u->cap = u->cap ? 2 * u->cap : 16;
		u->v = sut_xrealloc(u->v, u->cap * sizeof *u->v);
	}
	struct cached_object *c = &u->v[u->n++];
	memcpy(c->build_id, id, len);
	c->build_id_len = len;
	c->obj = obj;
}

struct unw_object *unw_resolve_module(struct sut_unwinder *u, const struct sut_unwind_module *m,
				      size_t idx, struct unw_call_objects *call, char *why,
				      size_t whylen)
{
	if (call->by_module[idx])
		return call->by_module[idx];
	if (call->failed[idx])
		return NULL;
	struct unw_object *o = NULL;
	if (cacheable(m))
		o = cache_find(u, m->build_id, m->build_id_len);
	if (!o) {
		if (!m->path) {
			snprintf(why, whylen, "object at 0x%llx has no path to open",
				 (unsigned long long)m->lo);
			call->failed[idx] = true;
			return NULL;
		}
		o = unw_object_open(m->path, why, whylen);
		if (!o) {
			call->failed[idx] = true;
			return NULL;
		}
		if (cacheable(m))
			cache_add(u, m->build_id, m->build_id_len, o);
	}
	call->by_module[idx] = o;
	return o;
}

void unw_call_objects_release(const struct sut_unwind_module *mods, size_t nmods,
			      struct unw_call_objects *call)
{
	for (size_t i = 0; i < nmods; i++)
		if (call->by_module[i] && !cacheable(&mods[i]))
			unw_object_close(call->by_module[i]);
	free(call->by_module);
	free(call->failed);
}

size_t sut_unwinder_prepare(struct sut_unwinder *u, const struct sut_unwind_module *mods,
			    size_t nmods, size_t max)
{
	size_t opened = 0;
	for (size_t i = 0; u && i < nmods && opened < max; i++) {
		const struct sut_unwind_module *m = &mods[i];
		if (!cacheable(m) || !m->path || cache_find(u, m->build_id, m->build_id_len))
			continue;
		char why[UNW_WHY_MAX];
		struct unw_object *o = unw_object_open(m->path, why, sizeof why);
		if (!o)
			continue;
		cache_add(u, m->build_id, m->build_id_len, o);
		opened++;
	}
	return opened;
}
