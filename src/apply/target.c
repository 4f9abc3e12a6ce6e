/* SPDX-License-Identifier: Apache-2.0 */
#include "apply/target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gelf.h>

#include "elf/elf.h"
#include "proc/linkmap.h"
#include "util/buf.h"

const char *sut_target_label(const struct sut_target *t)
{
	return t->label;
}

bool sut_maps_holds_memfd(const struct sut_maps *m, const char *name, uint64_t lo, uint64_t rx,
			  const char *rx_perms, uint64_t rw, const char *rw_perms)
{
	char want[300], want_deleted[320];
	snprintf(want, sizeof want, "/memfd:%s", name);
	snprintf(want_deleted, sizeof want_deleted, "%s (deleted)", want);
	uint64_t at = lo, end = lo + rx + rw;
	while (at < end) {
		const struct sut_map *mp = sut_maps_find(m, at);
		if (!mp || mp->start != at || mp->offset != at - lo ||
		    (strcmp(mp->path, want) != 0 && strcmp(mp->path, want_deleted) != 0))
			return false;
		/* a mapping may not straddle the rx/rw boundary: its permissions are one */
		uint64_t stop = mp->end < end ? mp->end : end;
		bool in_rx = at < lo + rx;
		if (in_rx && stop > lo + rx)
			return false;
		const char *perms = in_rx ? rx_perms : rw_perms;
		if (perms && strncmp(mp->perms, perms, 4) != 0)
			return false;
		at = mp->end;
	}
	return true;
}

/* Whether sym names a split-off part of `name`: "name." then dot-separated components,
 * each "cold", "part" or a number, the first "cold" or "part". */
static bool is_fragment_of(const char *sym, const char *name)
{
	size_t n = strlen(name);
	if (strncmp(sym, name, n) != 0 || sym[n] != '.')
		return false;
	const char *p = sym + n + 1;
	if (strncmp(p, "cold", 4) != 0 && strncmp(p, "part", 4) != 0)
		return false;
	while (*p) {
		size_t len = strcspn(p, ".");
		bool digits = len > 0 && strspn(p, "0123456789") == len;
		if (!digits && !(len == 4 && (!strncmp(p, "cold", 4) || !strncmp(p, "part", 4))))
			return false;
		p += len;
		if (*p == '.')
			p++;
	}
	return true;
}

static const char *base_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

void sut_target_fragments(struct sut_target *t, const char *name, const char *file,
			  uint64_t (**out)[2], size_t *n)
{
	size_t idx = (size_t)(t->obj - t->objs.v);
	struct sut_err e;
	if (!t->elf_cache[idx] && sut_elf_open(t->obj->open_path, &t->elf_cache[idx], &e) < 0)
		return;
	struct sut_elf *elf = t->elf_cache[idx], *dbg = NULL;
	if (!sut_elf_has_symtab(elf)) {
		char *path = NULL;
		if (sut_elf_find_debug_file(NULL, t->obj->build_id, t->obj->build_id_len, &path) == 1 &&
		    sut_elf_open(path, &dbg, &e) == 0)
			elf = dbg;
		free(path);
	}
	for (size_t i = 0; i < sut_elf_nsyms(elf); i++) {
		const struct sut_sym *s = sut_elf_sym(elf, i);
		if (s->type != STT_FUNC || !s->shndx || !s->size || !is_fragment_of(s->name, name))
			continue;
		/* a local function's parts are locals of its file; a global's may be in any */
		if (file && s->file && strcmp(base_of(s->file), base_of(file)) != 0)
			continue;
		*out = sut_xrealloc(*out, (*n + 1) * sizeof **out);
		(*out)[*n][0] = t->obj->bias + s->value;
		(*out)[*n][1] = t->obj->bias + s->value + s->size;
		(*n)++;
	}
	if (dbg)
		sut_elf_close(dbg);
}

int sut_target_open(pid_t pid, const uint8_t *build_id, size_t len, struct sut_target *t,
		    struct sut_err *err)
{
	memset(t, 0, sizeof *t);
	t->pid = pid;
	if (!sut_proc_exists(pid))
		return sut_errf(err, "pid %d: no such process", (int)pid);
	sut_proc_comm(pid, t->comm, sizeof t->comm);
	snprintf(t->label, sizeof t->label, "pid %d (%s)", (int)pid, t->comm);
	if (sut_proc_maps(pid, &t->maps, err) < 0)
		return sut_err_wrap(err, "pid %d", (int)pid);
	if (sut_proc_objects(pid, &t->maps, &t->objs, err) < 0) {
		sut_target_close(t);
		return sut_err_wrap(err, "pid %d", (int)pid);
	}
	t->elf_cache = sut_xcalloc(t->objs.n, sizeof *t->elf_cache);
	if (build_id) {
		t->obj = sut_objects_find_build_id(&t->objs, build_id, len);
		if (!t->obj) {
			char hex[2 * SUT_BUILD_ID_MAX + 1];
			sut_hex(build_id, len, hex);
			sut_errf(err, "%s does not map an object with build-id %s",
				 sut_target_label(t), hex);
			sut_target_close(t);
			return -1;
		}
	}
	return 0;
}

int sut_target_refresh_maps(struct sut_target *t, struct sut_err *err)
{
	struct sut_maps m;
	if (sut_proc_maps(t->pid, &m, err) < 0)
		return sut_err_wrap(err, "%s", sut_target_label(t));
	sut_proc_maps_free(&t->maps);
	t->maps = m;
	return 0;
}

void sut_target_close(struct sut_target *t)
{
	if (t->elf_cache)
		for (size_t i = 0; i < t->objs.n; i++)
			if (t->elf_cache[i])
				sut_elf_close(t->elf_cache[i]);
	free(t->elf_cache);
	free(t->order);
	sut_proc_objects_free(&t->objs);
	sut_proc_maps_free(&t->maps);
	memset(t, 0, sizeof *t);
}

/* Looks `name` up in the exported symbols of each object, in the dynamic linker's order,
 * so an LD_PRELOADed definition wins exactly as it does for the program itself. */
static int resolve_extern(struct sut_target *t, const struct sut_patch_symbol *sym,
			  uint64_t *addr, struct sut_err *err)
{
	if (!t->order && sut_proc_link_map(t->pid, &t->objs, &t->order, &t->norder, err) < 0)
		return sut_err_wrap(err, "%s: binding %s", sut_target_label(t), sym->name);
	for (size_t k = 0; k < t->norder; k++) {
		for (size_t i = 0; i < t->objs.n; i++) {
			const struct sut_object *o = &t->objs.v[i];
			if (o->bias != t->order[k])
				continue;
			if (!t->elf_cache[i]) {
				struct sut_err e2;
				if (sut_elf_open(o->open_path, &t->elf_cache[i], &e2) < 0)
					continue; /* an object we cannot read cannot be chosen */
			}
			uint64_t value;
			uint8_t type;
			if (sut_elf_find_dynsym(t->elf_cache[i], sym->name, sym->version, &value,
						&type) == 1) {
				if (type == STT_GNU_IFUNC) /* value is the resolver's */
					return sut_target_resolve_ifunc(t, i, value, sym, addr, err);
				*addr = o->bias + value;
				return 0;
			}
		}
	}
	return sut_errf(err, "%s: symbol %s%s%s not found in any loaded object",
			sut_target_label(t), sym->name, sym->version ? "@" : "",
			sym->version ? sym->version : "");
}

int sut_target_resolve(void *ctx, const struct sut_patch_symbol *sym, uint64_t *addr,
		       struct sut_err *err)
{
	struct sut_target *t = ctx;
	switch (sym->kind) {
	case SUT_SYM_TARGET_GOT: {
		uint64_t slot = t->obj->bias + sym->value, v = 0;
		if (sut_proc_read(t->pid, slot, &v, sizeof v, err) < 0)
			return sut_err_wrap(err, "%s: reading GOT slot of %s",
					    sut_target_label(t), sym->name);
		if (!v)
			return sut_errf(err, "%s: GOT slot of %s is not bound yet",
					sut_target_label(t), sym->name);
		*addr = v;
		return 0;
	}
	case SUT_SYM_EXTERN:
		return resolve_extern(t, sym, addr, err);
	case SUT_SYM_TARGET:
		*addr = t->obj->bias + sym->value;
		return 0;
	default:
		return sut_errf(err, "symbol %s: kind %d cannot be resolved in a process",
				sym->name, (int)sym->kind);
	}
}
