/* SPDX-License-Identifier: Apache-2.0 */
/* The in-memory model: freeing it, looking symbols up, and the relocation types the
 * link layer implements (the single list both the validator and the docs refer to). */
#include "patch/patch.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>

bool sut_patch_reloc_type_ok(uint32_t type)
{
	switch (type) {
	case R_X86_64_64:
	case R_X86_64_PC32:
	case R_X86_64_PLT32:
	case R_X86_64_32:
	case R_X86_64_32S:
	case R_X86_64_PC64:
	case R_X86_64_GOTPCREL:
	case R_X86_64_GOTPCRELX:
	case R_X86_64_REX_GOTPCRELX:
		return true;
	default:
		return false;
	}
}

long sut_patch_find_symbol(const struct sut_patch *p, const char *name)
{
	for (size_t i = 0; i < p->nsymbols; i++)
		if (p->symbols[i].is_func && p->symbols[i].name && strcmp(p->symbols[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* Frees a model in any state of construction (the reader frees half-built models on
 * error), so every pointer may be NULL and every count may cover NULL entries. */
void sut_patch_free(struct sut_patch *p)
{
	if (!p)
		return;
	free(p->id);
	free(p->description);
	for (size_t i = 0; i < p->ncves; i++)
		free(p->cves[i]);
	free(p->cves);
	free(p->target_name);
	free(p->pkg_source);
	free(p->pkg_version);
	free(p->pkg_binary);
	for (size_t i = 0; i < p->nsections; i++) {
		free(p->sections[i].name);
		free(p->sections[i].bytes);
	}
	free(p->sections);
	for (size_t i = 0; i < p->nsymbols; i++) {
		free(p->symbols[i].name);
		free(p->symbols[i].version);
	}
	free(p->symbols);
	free(p->relocs);
	for (size_t i = 0; i < p->nfuncs; i++) {
		free(p->funcs[i].name);
		free(p->funcs[i].file);
		free(p->funcs[i].preimage);
		free(p->funcs[i].reason);
	}
	free(p->funcs);
	free(p->sig);
	free(p->sig_key_id);
	free(p);
}
