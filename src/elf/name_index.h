/* SPDX-License-Identifier: Apache-2.0 */
/* A hash index from symbol name to every symbol of that name.
 *
 * Callers look up thousands of names in tables of tens of thousands of symbols, so a
 * linear scan per lookup is too slow. Open addressing over distinct names; symbols sharing
 * a name are chained in ascending index order. The key is the name up to any '@', so
 * "memcpy@@GLIBC_2.14" in a .symtab is found under "memcpy"; callers compare the full
 * name when they care. Immutable after build. */
#ifndef SUTURE_ELF_NAME_INDEX_H
#define SUTURE_ELF_NAME_INDEX_H

#include <stddef.h>
#include <stdint.h>

struct sut_sym;

#define SUT_NAME_NONE UINT32_MAX

struct sut_name_index {
	uint32_t *slots; /* first symbol index of one distinct key, or SUT_NAME_NONE */
	size_t mask;     /* number of slots - 1 (a power of two) */
	uint32_t *next;  /* per symbol: next symbol with the same key, or SUT_NAME_NONE */
};

/* Indexes every symbol with a non-empty name. */
void sut_name_index_build(struct sut_name_index *ix, const struct sut_sym *syms, size_t n);
void sut_name_index_free(struct sut_name_index *ix);

/* Length of the key part of a name: up to the first '@'. */
size_t sut_name_key_len(const char *name);

/* First symbol whose key equals the key of `name`, or SUT_NAME_NONE. */
uint32_t sut_name_index_first(const struct sut_name_index *ix, const struct sut_sym *syms,
			      const char *name);
static inline uint32_t sut_name_index_next(const struct sut_name_index *ix, uint32_t i)
{
	return ix->next[i];
}

#endif
