/* SPDX-License-Identifier: Apache-2.0 */
/* The `jmp rel32` (SUT_JMP_LEN bytes) that redirects a replaced function to its
 * replacement. */
#include "link/link.h"

#include "link/link_passes.h"

int sut_link_jmp(uint64_t from, uint64_t to, uint8_t out[SUT_JMP_LEN])
{
	/* rel32 is relative to the end of the instruction. */
	int64_t rel = (int64_t)(to - (from + SUT_JMP_LEN));
	if (rel < INT32_MIN || rel > INT32_MAX)
		return -1;
	out[0] = 0xe9;
	sut_link_put32(out + 1, (uint32_t)(int32_t)rel);
	return 0;
}
