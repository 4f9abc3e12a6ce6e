/* SPDX-License-Identifier: Apache-2.0 */
/* Private to the elf layer: the parsed form of one ELF file, shared by the files that
 * fill it (at open) and the ones that answer queries.
 *
 * Everything a query needs is extracted at open time into plain arrays, so queries never
 * call into libelf again: that keeps a struct sut_elf immutable after open and safe to
 * read from several threads at once (libelf's lazy loading is not). */
#ifndef SUTURE_ELF_ELF_INTERNAL_H
#define SUTURE_ELF_ELF_INTERNAL_H

#include "elf/elf.h"
#include "elf/name_index.h"

struct sut_elf_dynrel {
	uint64_t offset; /* vaddr of the entry filled */
	int64_t addend;
	uint32_t type;   /* R_X86_64_* */
	uint32_t sym;    /* .dynsym index, 0 for none */
};

struct sut_elf {
	char *path;
	uint8_t *owned;      /* the file's bytes when opened from a path, else NULL */
	const uint8_t *data; /* the whole file image */
	size_t size;
	Elf *elf;
	GElf_Ehdr ehdr;

	/* .symtab, or .dynsym when there is none; index i is symbol table index i */
	struct sut_sym *syms;
	size_t nsyms;
	bool has_symtab;
	struct sut_name_index sym_index;

	/* defined FUNC/OBJECT symbols with a size, sorted by value, for sut_elf_sym_at;
	 * by_addr_maxend[i] is the highest end among entries 0..i, which bounds the
	 * backward walk when symbols overlap */
	const struct sut_sym **by_addr;
	uint64_t *by_addr_maxend;
	size_t nby_addr;

	/* .dynsym, always (run-time binding needs it even when .symtab exists) */
	struct sut_sym *dynsyms;
	size_t ndynsyms;
	struct sut_name_index dyn_index;
	uint16_t *versym;          /* .gnu.version, ndynsyms entries, or NULL */
	const char **verdef_names; /* by version index (vd_ndx), from .gnu.version_d */
	size_t nverdef_names;
	const char **verneed_names; /* by version index (vna_other), from .gnu.version_r */
	size_t nverneed_names;
	uint64_t *got_slots; /* per dynsym index: vaddr of its GOT slot, 0 for none */
	/* the dynamic relocations that fill GOT entries with something other than a
	 * symbol's address: IRELATIVE (an IFUNC's resolved target) and the TLS ones
	 * (DTPMOD64, DTPOFF64, TPOFF64), in file order */
	struct sut_elf_dynrel *dynrels;
	size_t ndynrels;

	/* PT_TLS, when present */
	bool has_tls;
	GElf_Phdr tls;
	bool is_program; /* ET_EXEC, or ET_DYN flagged DF_1_PIE */

	GElf_Phdr *loads; /* PT_LOAD program headers, in file order */
	size_t nloads;

	const uint8_t *build_id; /* points into data */
	size_t build_id_len;
};

/* Steps of sut_elf_open, each in the file of its concept. Each returns 0 or -1 with err
 * set to a message naming the object. */
int sut_elf_load_symbols(struct sut_elf *e, struct sut_err *err);
int sut_elf_load_segments(struct sut_elf *e, struct sut_err *err);
int sut_elf_load_build_id(struct sut_elf *e, struct sut_err *err);
int sut_elf_load_dynamic(struct sut_elf *e, struct sut_err *err);
int sut_elf_load_tls(struct sut_elf *e, struct sut_err *err);
void sut_elf_free_symbols(struct sut_elf *e);
void sut_elf_free_dynamic(struct sut_elf *e);

/* Reads one symbol table section into an array indexed like the section (index 0
 * included). Names and STT_FILE scopes point into libelf's string data. */
int sut_elf_read_symtab(struct sut_elf *e, Elf_Scn *scn, bool from_dynsym,
			struct sut_sym **out, size_t *n, struct sut_err *err);

/* The first section of the given type, or NULL. */
Elf_Scn *sut_elf_find_section(const struct sut_elf *e, GElf_Word type);

/* True when a symbol is a definition worth looking up by name (not undefined, not a
 * section or file marker). */
bool sut_sym_is_definition(const struct sut_sym *s);

#endif
