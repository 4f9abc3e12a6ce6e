/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the link layer: where everything goes inside the image.
 *
 * The layout depends only on the patch, never on the placement or on resolved addresses:
 * that is what lets sut_link_size() answer before the address is chosen, and it is why
 * PLT stubs are reserved for every symbol that *might* need one (see link_layout.c). */
#ifndef SUTURE_LINK_LINK_LAYOUT_H
#define SUTURE_LINK_LINK_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "patch/patch.h"

#define SUT_LINK_PAGE 4096u
#define SUT_LINK_GOT_SLOT 8u
#define SUT_LINK_STUB_SIZE 16u
#define SUT_LINK_STUB_ALIGN 16u

struct sut_link_layout {
	uint64_t *sec_off; /* per section: offset of its first byte in the image */
	long *got_slot;    /* per symbol: index of its GOT slot, or -1 */
	long *stub;        /* per symbol: index of its PLT stub, or -1 (a stub implies a slot) */
	bool *referenced;  /* per symbol: some relocation uses it */
	size_t ngot, nstubs;
	uint64_t got_off;  /* offset of GOT slot 0 */
	uint64_t plt_off;  /* offset of stub 0 */
	uint64_t rx_size, rw_size;
};

/* Fills `lay` from `p`; never fails for a validated patch. Relocations whose symbol index
 * is out of bounds are ignored here and reported by the relocation pass. */
void sut_link_layout_compute(const struct sut_patch *p, struct sut_link_layout *lay);
void sut_link_layout_free(struct sut_link_layout *lay);

/* Rounds v up to a multiple of align (a power of two, >= 1). */
static inline uint64_t sut_link_align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

#endif
