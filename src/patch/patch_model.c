/* SPDX-License-Identifier: Apache-2.0 */
/* The in-memory model: freeing it, looking symbols up, and the table of relocation types
 * (the single list the reader, validator, link and build layers and the docs refer to). */
#include "patch/patch.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_(n) R_X86_64_##n, "R_X86_64_" #n
/* type, name, width, pcrel, via_got, range, carried, tls, tls_model */
static const struct sut_reloc_type reloc_types[] = {
	{ T_(64), 8, false, false, SUT_RELOC_ANY, true, false, NULL },
	{ T_(PC32), 4, true, false, SUT_RELOC_SIGNED32, true, false, NULL },
	{ T_(PLT32), 4, true, false, SUT_RELOC_SIGNED32, true, false, NULL },
	{ T_(32), 4, false, false, SUT_RELOC_UNSIGNED32, true, false, NULL },
	{ T_(32S), 4, false, false, SUT_RELOC_SIGNED32, true, false, NULL },
	{ T_(PC64), 8, true, false, SUT_RELOC_ANY, true, false, NULL },
	{ T_(GOTPCREL), 4, true, true, SUT_RELOC_SIGNED32, true, false, NULL },
	{ T_(GOTPCRELX), 4, true, true, SUT_RELOC_SIGNED32, true, false, NULL },
	{ T_(REX_GOTPCRELX), 4, true, true, SUT_RELOC_SIGNED32, true, false, NULL },
	/* known, never carried: named in the builder's refusals */
	{ T_(GOT32), 4, false, true, SUT_RELOC_SIGNED32, false, false, NULL },
	{ T_(GOTOFF64), 8, false, false, SUT_RELOC_ANY, false, false, NULL },
	{ T_(GOTPC32), 4, true, false, SUT_RELOC_SIGNED32, false, false, NULL },
	{ T_(GOT64), 8, false, true, SUT_RELOC_ANY, false, false, NULL },
	{ T_(GOTPCREL64), 8, true, true, SUT_RELOC_ANY, false, false, NULL },
	{ T_(GOTPC64), 8, true, false, SUT_RELOC_ANY, false, false, NULL },
	{ T_(16), 2, false, false, SUT_RELOC_ANY, false, false, NULL },
	{ T_(PC16), 2, true, false, SUT_RELOC_ANY, false, false, NULL },
	{ T_(8), 1, false, false, SUT_RELOC_ANY, false, false, NULL },
	{ T_(PC8), 1, true, false, SUT_RELOC_ANY, false, false, NULL },
	{ T_(SIZE32), 4, false, false, SUT_RELOC_UNSIGNED32, false, false, NULL },
	{ T_(SIZE64), 8, false, false, SUT_RELOC_ANY, false, false, NULL },
	/* thread-local storage (psABI section 4.4 and the TLS ABI); see build/tls.c */
	{ T_(DTPMOD64), 8, false, false, SUT_RELOC_ANY, false, true, NULL },
	{ T_(DTPOFF64), 8, false, false, SUT_RELOC_ANY, false, true, "local-dynamic" },
	{ T_(TPOFF64), 8, false, false, SUT_RELOC_ANY, false, true, NULL },
	{ T_(TLSGD), 4, true, true, SUT_RELOC_SIGNED32, false, true, "general-dynamic" },
	{ T_(TLSLD), 4, true, true, SUT_RELOC_SIGNED32, false, true, "local-dynamic" },
	{ T_(DTPOFF32), 4, false, false, SUT_RELOC_SIGNED32, false, true, "local-dynamic" },
	{ T_(GOTTPOFF), 4, true, true, SUT_RELOC_SIGNED32, false, true, "initial-exec" },
	{ T_(TPOFF32), 4, false, false, SUT_RELOC_SIGNED32, false, true, "local-exec" },
	{ T_(GOTPC32_TLSDESC), 4, true, true, SUT_RELOC_SIGNED32, false, true, "TLS descriptor" },
	{ T_(TLSDESC_CALL), 0, false, false, SUT_RELOC_ANY, false, true, "TLS descriptor" },
	{ T_(TLSDESC), 16, false, false, SUT_RELOC_ANY, false, true, "TLS descriptor" },
};
#undef T_

const struct sut_reloc_type *sut_reloc_type(uint32_t type)
{
	for (size_t i = 0; i < sizeof reloc_types / sizeof reloc_types[0]; i++)
		if (reloc_types[i].type == type)
			return &reloc_types[i];
	return NULL;
}

const char *sut_reloc_type_name(uint32_t type, char *buf, size_t cap)
{
	const struct sut_reloc_type *t = sut_reloc_type(type);
	if (t)
		return t->name;
	snprintf(buf, cap, "type %u", type);
	return buf;
}

bool sut_patch_reloc_type_ok(uint32_t type)
{
	const struct sut_reloc_type *t = sut_reloc_type(type);
	return t && t->carried;
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
