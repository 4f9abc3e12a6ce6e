/* SPDX-License-Identifier: Apache-2.0 */
/* Relocations: S = symbol address, A = addend, P = address of the field, G = address of the
 * symbol's GOT slot. Every property of a type (width, PC-relative, via the GOT, range)
 * comes from the patch layer's table (sut_reloc_type); this file only computes
 * (via_got ? G : S) + A - (pcrel ? P : 0), which gives:
 *
 *   64             S + A       8 bytes
 *   PC64           S + A - P   8 bytes
 *   32             S + A       4 bytes, must fit unsigned 32
 *   32S            S + A       4 bytes, must fit signed 32
 *   PC32, PLT32    S + A - P   4 bytes, signed; if S is out of reach and the symbol has a
 *                              stub, the stub's address is used instead of S
 *   GOTPCREL,
 *   GOTPCRELX,
 *   REX_GOTPCRELX  G + A - P   4 bytes, signed; no relaxation: the instruction still loads
 *                              from the slot, which holds S
 *
 * Arithmetic is done modulo 2^64 and then range-checked, which is exact for canonical
 * x86-64 addresses. A value that does not fit is an error, never a truncation. */
#include "link/link_passes.h"

#include <elf.h>
#include <inttypes.h>
#include <stdio.h>

const char *sut_link_reloc_name(uint32_t type)
{
	const struct sut_reloc_type *t = sut_reloc_type(type);
	return t && t->carried ? t->name : NULL;
}

static bool fits_s32(uint64_t v)
{
	int64_t s = (int64_t)v;
	return s >= INT32_MIN && s <= INT32_MAX;
}

/* The error every failing relocation reports: what, where, against what, why. */
static int reloc_err(const struct sut_patch *p, const struct sut_patch_reloc *r,
		     struct sut_err *err, const char *why)
{
	char tbuf[32];
	const char *tname = sut_reloc_type_name(r->type, tbuf, sizeof tbuf);
	const char *sec = r->section < p->nsections && p->sections[r->section].name
				  ? p->sections[r->section].name
				  : "(bad section)";
	const char *sym = r->symbol < p->nsymbols && p->symbols[r->symbol].name
				  ? p->symbols[r->symbol].name
				  : "(bad symbol)";
	return sut_errf(err, "relocation %s in %s+0x%" PRIx64 " against %s: %s", tname, sec,
			r->offset, sym, why);
}

/* Checks the few things that would make writing the field unsafe. The validator should
 * already have refused them; a cheap second look keeps a bad model from corrupting memory. */
static int check_field(const struct sut_patch *p, const struct sut_patch_reloc *r,
		       struct sut_err *err)
{
	if (!sut_link_reloc_name(r->type))
		return reloc_err(p, r, err, "unsupported relocation type");
	if (r->section >= p->nsections)
		return reloc_err(p, r, err, "section index out of range");
	if (r->symbol >= p->nsymbols)
		return reloc_err(p, r, err, "symbol index out of range");
	const struct sut_patch_section *s = &p->sections[r->section];
	if (s->kind == SUT_SEC_BSS || !s->bytes)
		return reloc_err(p, r, err, "section has no bytes (BSS) to relocate");
	if (r->offset > s->size || s->size - r->offset < sut_reloc_type(r->type)->width)
		return reloc_err(p, r, err, "field outside its section");
	return 0;
}

int sut_link_apply_reloc(const struct sut_patch *p, size_t i, const struct sut_link_layout *lay,
			 uint64_t place, const uint64_t *sym_addr, uint8_t *bytes,
			 struct sut_err *err)
{
	const struct sut_patch_reloc *r = &p->relocs[i];
	if (check_field(p, r, err) < 0)
		return -1;
	uint64_t field_off = lay->sec_off[r->section] + r->offset;
	uint8_t *field = bytes + field_off;
	uint64_t P = place + field_off;
	uint64_t S = sym_addr[r->symbol];
	uint64_t A = (uint64_t)r->addend;
	const struct sut_reloc_type *t = sut_reloc_type(r->type);

	uint64_t base = S;
	if (t->via_got)
		/* the layout gives a slot to every symbol a via-GOT relocation names */
		base = place + lay->got_off + (uint64_t)lay->got_slot[r->symbol] * SUT_LINK_GOT_SLOT;
	uint64_t v = base + A - (t->pcrel ? P : 0);
	if (t->pcrel && !t->via_got && t->range == SUT_RELOC_SIGNED32 && !fits_s32(v) &&
	    lay->stub[r->symbol] >= 0) {
		/* The symbol itself when it is in reach: a direct call costs nothing and keeps
		 * the address identical to what the rest of the process sees; else its stub. */
		uint64_t stub = place + lay->plt_off +
				(uint64_t)lay->stub[r->symbol] * SUT_LINK_STUB_SIZE;
		v = stub + A - P;
	}
	switch (t->range) {
	case SUT_RELOC_ANY:
		sut_link_put64(field, v);
		return 0;
	case SUT_RELOC_UNSIGNED32:
		if (v > UINT32_MAX)
			return reloc_err(p, r, err, "value does not fit in 32 bits (unsigned)");
		sut_link_put32(field, (uint32_t)v);
		return 0;
	case SUT_RELOC_SIGNED32:
		if (!fits_s32(v))
			return reloc_err(p, r, err,
					 t->via_got ? "GOT slot out of range"
					 : t->pcrel ? "target out of range"
						    : "value does not fit in 32 bits (signed)");
		sut_link_put32(field, (uint32_t)v);
		return 0;
	}
	return reloc_err(p, r, err, "unsupported relocation type");
}
