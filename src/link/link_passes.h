/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the link layer: the passes sut_link() runs over a computed layout, in order:
 * bind symbols (addresses), emit GOT slots and PLT stubs, apply relocations. Each pass
 * writes only its own part of the image. */
#ifndef SUTURE_LINK_LINK_PASSES_H
#define SUTURE_LINK_LINK_PASSES_H

#include <stdint.h>

#include "link/link.h"
#include "link/link_layout.h"

/* Final address of every symbol into sym_addr (indexed like p->symbols). The resolver is
 * called once per TARGET_GOT/EXTERN symbol that some relocation references, in symbol
 * order; unreferenced ones get 0. A resolver error is wrapped with the symbol's name. */
int sut_link_bind_symbols(const struct sut_patch *p, const struct sut_link_layout *lay,
			  const struct sut_link_env *env, uint64_t *sym_addr, struct sut_err *err);

/* Writes every GOT slot (the symbol's address) and every stub (`jmp *slot(%rip)`, int3
 * padding) into bytes. Stubs are position-independent: only offsets decide them. */
void sut_link_emit_got_plt(const struct sut_patch *p, const struct sut_link_layout *lay,
			   const uint64_t *sym_addr, uint8_t *bytes);

/* Applies relocation p->relocs[i] to bytes. Errors name type, section+offset and symbol. */
int sut_link_apply_reloc(const struct sut_patch *p, size_t i, const struct sut_link_layout *lay,
			 uint64_t place, const uint64_t *sym_addr, uint8_t *bytes,
			 struct sut_err *err);

/* "R_X86_64_PC32" for the implemented types, NULL for any other. */
const char *sut_link_reloc_name(uint32_t type);

/* Little-endian stores into the image (the format is x86-64, whatever the host). */
static inline void sut_link_put32(uint8_t *at, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		at[i] = (uint8_t)(v >> (8 * i));
}

static inline void sut_link_put64(uint8_t *at, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		at[i] = (uint8_t)(v >> (8 * i));
}

#endif
