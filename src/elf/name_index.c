/* SPDX-License-Identifier: Apache-2.0 */
#include "elf/name_index.h"

#include <stdlib.h>
#include <string.h>

#include "elf/elf.h"
#include "util/buf.h"

size_t sut_name_key_len(const char *name)
{
	const char *at = strchr(name, '@');
	return at ? (size_t)(at - name) : strlen(name);
}

/* FNV-1a: short, no dependencies, and good enough spread for identifiers. */
static uint64_t key_hash(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int key_equal(const char *a, size_t alen, const char *b)
{
	return sut_name_key_len(b) == alen && memcmp(a, b, alen) == 0;
}

/* Slot holding the key (name, len), or the empty slot where it would go. */
static size_t find_slot(const struct sut_name_index *ix, const struct sut_sym *syms,
			const char *name, size_t len)
{
	size_t i = key_hash(name, len) & ix->mask;
	while (ix->slots[i] != SUT_NAME_NONE && !key_equal(name, len, syms[ix->slots[i]].name))
		i = (i + 1) & ix->mask;
	return i;
}

void sut_name_index_build(struct sut_name_index *ix, const struct sut_sym *syms, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n) /* load factor at most 1/2 keeps probe sequences short */
		cap <<= 1;
	ix->mask = cap - 1;
	ix->slots = sut_xmalloc(cap * sizeof *ix->slots);
	memset(ix->slots, 0xff, cap * sizeof *ix->slots);
	ix->next = sut_xmalloc((n ? n : 1) * sizeof *ix->next);
	/* Inserting from the last symbol to the first and prepending to the chain leaves
	 * each chain in ascending index order, the order of the symbol table. */
	for (size_t k = n; k-- > 0;) {
		ix->next[k] = SUT_NAME_NONE;
		const char *name = syms[k].name;
		if (!name || !name[0])
			continue;
		size_t s = find_slot(ix, syms, name, sut_name_key_len(name));
		ix->next[k] = ix->slots[s];
		ix->slots[s] = (uint32_t)k;
	}
}

void sut_name_index_free(struct sut_name_index *ix)
{
	free(ix->slots);
	free(ix->next);
	ix->slots = ix->next = NULL;
}

uint32_t sut_name_index_first(const struct sut_name_index *ix, const struct sut_sym *syms,
			      const char *name)
{
	if (!ix->slots || !name || !name[0])
		return SUT_NAME_NONE;
	return ix->slots[find_slot(ix, syms, name, sut_name_key_len(name))];
}
