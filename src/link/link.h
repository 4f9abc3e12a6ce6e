/* SPDX-License-Identifier: Apache-2.0 */
/* The `link` layer: placing a patch at an address and producing its final bytes.
 *
 * Pure: it takes a validated patch, the address the image will live at, the target's load
 * bias and a resolver for symbols only a live process can answer, and returns bytes. No
 * process is touched, so every relocation rule is unit-tested on fixtures.
 *
 * Image layout (page-aligned parts, in this order):
 *   [ RX: TEXT sections | RODATA sections | GOT (8-byte slots) | PLT stubs (jmp *slot) ]
 *   [ RW: DATA sections | BSS sections ]
 * The GOT holds one slot per symbol referenced through GOTPCREL* relocations, filled with
 * the resolved address at link time (no lazy binding, so it can stay read-only). A PLT32 or
 * PC32 reference that does not reach its symbol within +-2 GiB goes through a stub. Since
 * the layout must not depend on the placement, a stub (and its slot) is reserved for every
 * EXTERN or TARGET_GOT function symbol named by a PLT32 or PC32 relocation; TARGET and LOCAL
 * symbols never get one (the caller places the image within +-2 GiB of the target). A PC32
 * that takes a function's address through a stub yields the stub's address.
 * Sections are aligned relative to the image start; an alignment above the page size is
 * met only if the placement happens to satisfy it, and sut_link() fails otherwise.
 *
 * Invariant: the produced image depends only on the inputs (same inputs, same bytes). */
#ifndef SUTURE_LINK_LINK_H
#define SUTURE_LINK_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "patch/patch.h"
#include "util/err.h"

/* Resolves a SUT_SYM_TARGET_GOT symbol (by reading the slot at bias + sym->value in the
 * process) or a SUT_SYM_EXTERN symbol (by lookup in the process's objects). */
typedef int (*sut_link_resolve_fn)(void *ctx, const struct sut_patch_symbol *sym,
				   uint64_t *addr, struct sut_err *err);

struct sut_link_env {
	uint64_t place;       /* address of the image's first byte; page-aligned */
	uint64_t target_bias; /* load bias of the target object */
	sut_link_resolve_fn resolve;
	void *ctx;
};

struct sut_link_image {
	uint8_t *bytes; /* size bytes, RX part then RW part */
	uint64_t size;  /* rx_size + rw_size */
	uint64_t rx_size, rw_size; /* each a multiple of the page size; rw_size may be 0 */
	/* final address of every patch symbol, indexed like p->symbols; 0 for a TARGET_GOT or
	 * EXTERN symbol that no relocation uses (the resolver is not asked about those) */
	uint64_t *sym_addr;
	size_t nsyms;
};

/* Size of the image (rx_size + rw_size) for any placement: lets the caller reserve memory
 * before the address (and so the resolution) is known. */
uint64_t sut_link_size(const struct sut_patch *p);

/* Lays out and relocates; env->place must be page-aligned. The resolver is called once per
 * TARGET_GOT/EXTERN symbol some relocation uses, and its error is prefixed with the symbol
 * name. On failure *out is untouched. Errors name the relocation, its section and symbol, e.g.
 * "relocation R_X86_64_PC32 in .text.f+0x12 against parse_header: target out of range". */
int sut_link(const struct sut_patch *p, const struct sut_link_env *env,
	     struct sut_link_image *out, struct sut_err *err);
void sut_link_image_free(struct sut_link_image *img);

/* The SUT_JMP_LEN-byte `jmp rel32` from `from` to `to`; -1 if out of range. */
int sut_link_jmp(uint64_t from, uint64_t to, uint8_t out[SUT_JMP_LEN]);

#endif
