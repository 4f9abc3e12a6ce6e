/* SPDX-License-Identifier: Apache-2.0 */
/* Relocations: S = symbol address, A = addend, P = address of the field, G = address of the
 * symbol's GOT slot.
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
	switch (type) {
	case R_X86_64_64: return "R_X86_64_64";
	case R_X86_64_PC32: return "R_X86_64_PC32";
	case R_X86_64_PLT32: return "R_X86_64_PLT32";
	case R_X86_64_32: return "R_X86_64_32";
	case R_X86_64_32S: return "R_X86_64_32S";
	case R_X86_64_PC64: return "R_X86_64_PC64";
	case R_X86_64_GOTPCREL: return "R_X86_64_GOTPCREL";
	case R_X86_64_GOTPCRELX: return "R_X86_64_GOTPCRELX";
	case R_X86_64_REX_GOTPCRELX: return "R_X86_64_REX_GOTPCRELX";
	default: return NULL;
	}
}

static unsigned field_width(uint32_t type)
{
	return type == R_X86_64_64 || type == R_X86_64_PC64 ? 8 : 4;
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
	const char *tname = sut_link_reloc_name(r->type);
	char tbuf[32];
	if (!tname) {
		snprintf(tbuf, sizeof tbuf, "type %" PRIu32, r->type);
		tname = tbuf;
	}
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
	if (r->offset > s->size || s->size - r->offset < field_width(r->type))
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
	uint64_t v;

	switch (r->type) {
	case R_X86_64_64:
		sut_link_put64(field, S + A);
		return 0;
	case R_X86_64_PC64:
		sut_link_put64(field, S + A - P);
		return 0;
	case R_X86_64_32:
		v = S + A;
		if (v > UINT32_MAX)
			return reloc_err(p, r, err, "value does not fit in 32 bits (unsigned)");
		sut_link_put32(field, (uint32_t)v);
		return 0;
	case R_X86_64_32S:
		v = S + A;
		if (!fits_s32(v))
			return reloc_err(p, r, err, "value does not fit in 32 bits (signed)");
		sut_link_put32(field, (uint32_t)v);
		return 0;
	case R_X86_64_PC32:
	case R_X86_64_PLT32:
		/* The symbol itself when it is in reach: a direct call costs nothing and keeps
		 * the address identical to what the rest of the process sees. */
		v = S + A - P;
		if (!fits_s32(v) && lay->stub[r->symbol] >= 0) {
			uint64_t stub = place + lay->plt_off +
					(uint64_t)lay->stub[r->symbol] * SUT_LINK_STUB_SIZE;
			v = stub + A - P;
		}
		if (!fits_s32(v))
			return reloc_err(p, r, err, "target out of range");
		sut_link_put32(field, (uint32_t)v);
		return 0;
	case R_X86_64_GOTPCREL:
	case R_X86_64_GOTPCRELX:
	case R_X86_64_REX_GOTPCRELX: {
		/* The layout gives a slot to every symbol a GOTPCREL* relocation names. */
		uint64_t G = place + lay->got_off +
			     (uint64_t)lay->got_slot[r->symbol] * SUT_LINK_GOT_SLOT;
		v = G + A - P;
		if (!fits_s32(v))
			return reloc_err(p, r, err, "GOT slot out of range");
		sut_link_put32(field, (uint32_t)v);
		return 0;
	}
	}
	return reloc_err(p, r, err, "unsupported relocation type");
}
