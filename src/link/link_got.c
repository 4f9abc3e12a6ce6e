/* SPDX-License-Identifier: Apache-2.0 */
/* GOT slots and PLT stubs.
 *
 * Slots are filled at link time with the symbol's final address: there is no lazy binding,
 * so the GOT lives in the RX part and is never written after the image is mapped. A stub is
 * `jmp *slot(%rip)` (ff 25 rel32) followed by int3 up to 16 bytes: an indirect jump through
 * the slot reaches any 64-bit address. */
#include "link/link_passes.h"

void sut_link_emit_got_plt(const struct sut_patch *p, const struct sut_link_layout *lay,
			   const uint64_t *sym_addr, uint8_t *bytes)
{
	for (size_t i = 0; i < p->nsymbols; i++) {
		if (lay->got_slot[i] < 0)
			continue;
		uint64_t slot_off = lay->got_off + (uint64_t)lay->got_slot[i] * SUT_LINK_GOT_SLOT;
		sut_link_put64(bytes + slot_off, sym_addr[i]);
		if (lay->stub[i] < 0)
			continue;
		uint64_t stub_off = lay->plt_off + (uint64_t)lay->stub[i] * SUT_LINK_STUB_SIZE;
		uint8_t *stub = bytes + stub_off;
		/* Both ends are inside the image, so the displacement always fits. */
		int64_t rel = (int64_t)(slot_off - (stub_off + 6));
		stub[0] = 0xff;
		stub[1] = 0x25;
		sut_link_put32(stub + 2, (uint32_t)(int32_t)rel);
		for (unsigned k = 6; k < SUT_LINK_STUB_SIZE; k++)
			stub[k] = 0xcc;
	}
}
