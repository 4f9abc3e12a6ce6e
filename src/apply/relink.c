/* SPDX-License-Identifier: Apache-2.0 */
/* The image a patch would have in a process at a given place: the same target lookup,
 * resolver and linker as apply, so verify can compare what is mapped with what was signed.
 * Only reads the process. */
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"

#include "apply/target.h"
#include "elf/elf.h"
#include "link/link.h"
#include "util/buf.h"

/* A resolver that answers one symbol with a fixed value, every other as the process does. */
struct pinned {
	struct sut_target *t;
	const struct sut_patch_symbol *sym;
	uint64_t value;
};

static int resolve_pinned(void *ctx, const struct sut_patch_symbol *sym, uint64_t *addr,
			  struct sut_err *err)
{
	struct pinned *pin = ctx;
	if (sym == pin->sym) {
		*addr = pin->value;
		return 0;
	}
	return sut_target_resolve(pin->t, sym, addr, err);
}

/* The value the target's file gives the GOT slot at vaddr `slot` before the dynamic linker
 * binds it, relocated: for a lazily bound function slot, the PLT entry that calls the dynamic
 * linker. 0 when the file has none inside the object (a slot only bound at load time). */
static uint64_t unbound_value(struct sut_target *t, uint64_t slot)
{
	size_t idx = (size_t)(t->obj - t->objs.v);
	struct sut_err e;
	if (!t->elf_cache[idx] && sut_elf_open(t->obj->open_path, &t->elf_cache[idx], &e) < 0)
		return 0;
	uint64_t v = 0, lo, hi;
	if (sut_elf_read_vaddr(t->elf_cache[idx], slot, &v, sizeof v, &e) < 0 || !v)
		return 0;
	sut_elf_load_span(t->elf_cache[idx], &lo, &hi);
	if (v < lo || v >= hi)
		return 0;
	return t->obj->bias + v;
}

int sut_relink(pid_t pid, const struct sut_patch *p, uint64_t place, struct sut_link_image *img,
	       struct sut_relink_alt **alts, size_t *nalts, struct sut_err *err)
{
	if (alts) {
		*alts = NULL;
		*nalts = 0;
	}
	struct sut_target t;
	if (sut_target_open(pid, p->build_id, p->build_id_len, &t, err) < 0)
		return -1;
	struct sut_link_env env = {.place = place, .target_bias = t.obj->bias,
				   .resolve = sut_target_resolve, .ctx = &t};
	int rc = sut_link(p, &env, img, err);
	if (rc < 0)
		sut_err_wrap(err, "%s: re-linking patch %s", sut_target_label(&t), p->id);
	for (size_t i = 0; rc == 0 && alts && i < p->nsymbols; i++) {
		const struct sut_patch_symbol *s = &p->symbols[i];
		if (s->kind != SUT_SYM_TARGET_GOT || !img->sym_addr[i])
			continue; /* only slots some relocation reads */
		uint64_t u = unbound_value(&t, s->value);
		if (!u || u == img->sym_addr[i])
			continue;
		struct pinned pin = {&t, s, u};
		struct sut_link_env env2 = env;
		env2.resolve = resolve_pinned;
		env2.ctx = &pin;
		struct sut_link_image alt;
		struct sut_err e2;
		if (sut_link(p, &env2, &alt, &e2) < 0)
			continue; /* e.g. out of range: no image of that kind can be mapped */
		*alts = sut_xrealloc(*alts, (*nalts + 1) * sizeof **alts);
		(*alts)[(*nalts)++] = (struct sut_relink_alt){.sym = i, .value = u, .img = alt};
	}
	if (rc < 0 && alts) {
		sut_relink_alts_free(*alts, *nalts);
		*alts = NULL;
		*nalts = 0;
	}
	sut_target_close(&t);
	return rc;
}

void sut_relink_alts_free(struct sut_relink_alt *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sut_link_image_free(&a[i].img);
	free(a);
}
