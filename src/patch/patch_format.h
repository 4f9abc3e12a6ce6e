/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the patch layer: the names and fixed record layouts of suture's own ELF
 * sections, shared by the reader and the writer so the two cannot drift apart.
 * docs/patch-format.md is the prose version of this file; change both together.
 *
 * All multi-byte fields are little-endian, written and read byte by byte, so the file is
 * the same whatever the host and records need no alignment in memory. */
#ifndef SUTURE_PATCH_PATCH_FORMAT_H
#define SUTURE_PATCH_PATCH_FORMAT_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#include "patch/patch.h"

#define SUT_SEC_META ".suture.meta"
#define SUT_SEC_BIND ".suture.bind"
#define SUT_SEC_FUNCS ".suture.funcs"
#define SUT_SEC_PREIMAGE ".suture.preimage"
#define SUT_SEC_STR ".suture.str"
#define SUT_SEC_SIG ".suture.sig"

/* .suture.bind record, one per model symbol, in model order:
 *   0 u32 ELF symbol index (model index + 1)   4 u32 kind (enum sut_sym_kind)
 *   8 u64 value   16 u64 size   24 u32 version (.suture.str offset, 0 = none)
 *  28 u32 flags (bit 0: is_func) */
#define SUT_BIND_SIZE 32
#define SUT_BIND_FLAG_FUNC 1u

/* .suture.funcs record, one per replaced function, in model order:
 *   0 u32 name (.suture.str)   4 u32 file (.suture.str, 0 = none)
 *   8 u32 replacement (model symbol index)   12 u32 reason (.suture.str, 0 = none)
 *  16 u64 target_addr   24 u64 target_size
 *  32 u32 preimage offset in .suture.preimage   36 u32 preimage_len */
#define SUT_FUNC_SIZE 40

/* .suture.sig: 0 char[16] key id (lower-case hex, no NUL)  16 u32 algorithm
 *  20 u32 signature length  24 signature bytes; section size == 24 + length exactly. */
#define SUT_SIG_HDR_SIZE 24
#define SUT_SIG_ALG_ED25519 1u
#define SUT_SIG_ED25519_LEN 64

static inline void sut_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void sut_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t sut_get_u32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline uint64_t sut_get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Width in bytes of the field a relocation of this (accepted) type patches. */
static inline uint64_t sut_reloc_width(uint32_t type)
{
	const struct sut_reloc_type *t = sut_reloc_type(type);
	return t ? t->width : 8;
}

#endif
