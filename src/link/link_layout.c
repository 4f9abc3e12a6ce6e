/* SPDX-License-Identifier: Apache-2.0 */
/* Image layout: section offsets, GOT slots and PLT stubs.
 *
 * RX part: TEXT sections, RODATA sections, GOT, PLT stubs, rounded up to a page.
 * RW part: DATA sections then BSS sections, rounded up to a page (0 if there are none).
 * Sections keep their order in the patch within each kind, and slots/stubs are numbered
 * in symbol index order, so the same patch always gives the same layout. */
#include "link/link_layout.h"

#include <elf.h>
#include <stdlib.h>

#include "util/buf.h"

static bool reloc_uses_got(uint32_t type)
{
	const struct sut_reloc_type *t = sut_reloc_type(type);
	return t && t->via_got;
}

/* A PC-relative reference to a function whose address only the process knows might be
 * farther than +-2 GiB from wherever the image lands, so it gets a stub in reserve.
 * TARGET and LOCAL symbols never do: the caller places the image within +-2 GiB of the
 * target object, and LOCAL ones are inside the image. */
static bool reloc_may_need_stub(uint32_t type, const struct sut_patch_symbol *sym)
{
	if (type != R_X86_64_PLT32 && type != R_X86_64_PC32)
		return false;
	if (sym->kind != SUT_SYM_EXTERN && sym->kind != SUT_SYM_TARGET_GOT)
		return false;
	/* PLT32 is a call by definition; undefined symbols of an object file carry no type,
	 * so is_func alone would miss `call snprintf@PLT` */
	return type == R_X86_64_PLT32 || sym->is_func;
}

/* Places every section of `kind` after `off`, each at its own alignment. */
static uint64_t place_sections(const struct sut_patch *p, enum sut_sec_kind kind, uint64_t off,
			       uint64_t *sec_off)
{
	for (size_t i = 0; i < p->nsections; i++) {
		const struct sut_patch_section *s = &p->sections[i];
		if (s->kind != kind)
			continue;
		off = sut_link_align_up(off, s->align ? s->align : 1);
		sec_off[i] = off;
		off += s->size;
	}
	return off;
}

static void assign_slots_and_stubs(const struct sut_patch *p, struct sut_link_layout *lay)
{
	bool *wants_got = sut_xcalloc(p->nsymbols, sizeof *wants_got);
	bool *wants_stub = sut_xcalloc(p->nsymbols, sizeof *wants_stub);
	for (size_t i = 0; i < p->nrelocs; i++) {
		const struct sut_patch_reloc *r = &p->relocs[i];
		if (r->symbol >= p->nsymbols)
			continue;
		lay->referenced[r->symbol] = true;
		if (reloc_uses_got(r->type))
			wants_got[r->symbol] = true;
		if (reloc_may_need_stub(r->type, &p->symbols[r->symbol]))
			wants_stub[r->symbol] = wants_got[r->symbol] = true;
	}
	for (size_t i = 0; i < p->nsymbols; i++) {
		lay->got_slot[i] = wants_got[i] ? (long)lay->ngot++ : -1;
		lay->stub[i] = wants_stub[i] ? (long)lay->nstubs++ : -1;
	}
	free(wants_got);
	free(wants_stub);
}

void sut_link_layout_compute(const struct sut_patch *p, struct sut_link_layout *lay)
{
	*lay = (struct sut_link_layout){0};
	lay->sec_off = sut_xcalloc(p->nsections, sizeof *lay->sec_off);
	lay->got_slot = sut_xcalloc(p->nsymbols, sizeof *lay->got_slot);
	lay->stub = sut_xcalloc(p->nsymbols, sizeof *lay->stub);
	lay->referenced = sut_xcalloc(p->nsymbols, sizeof *lay->referenced);
	assign_slots_and_stubs(p, lay);

	uint64_t off = place_sections(p, SUT_SEC_TEXT, 0, lay->sec_off);
	off = place_sections(p, SUT_SEC_RODATA, off, lay->sec_off);
	lay->got_off = sut_link_align_up(off, SUT_LINK_GOT_SLOT);
	off = lay->got_off + lay->ngot * SUT_LINK_GOT_SLOT;
	lay->plt_off = sut_link_align_up(off, SUT_LINK_STUB_ALIGN);
	off = lay->plt_off + lay->nstubs * SUT_LINK_STUB_SIZE;
	lay->rx_size = sut_link_align_up(off, SUT_LINK_PAGE);

	/* RW offsets are relative to the RW part first, then shifted past the RX part. */
	uint64_t rw = place_sections(p, SUT_SEC_DATA, 0, lay->sec_off);
	rw = place_sections(p, SUT_SEC_BSS, rw, lay->sec_off);
	lay->rw_size = sut_link_align_up(rw, SUT_LINK_PAGE);
	for (size_t i = 0; i < p->nsections; i++)
		if (p->sections[i].kind == SUT_SEC_DATA || p->sections[i].kind == SUT_SEC_BSS)
			lay->sec_off[i] += lay->rx_size;
}

void sut_link_layout_free(struct sut_link_layout *lay)
{
	free(lay->sec_off);
	free(lay->got_slot);
	free(lay->stub);
	free(lay->referenced);
	*lay = (struct sut_link_layout){0};
}
