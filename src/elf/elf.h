/* SPDX-License-Identifier: Apache-2.0 */
/* The `elf` layer: ELF files and images, read through libelf.
 *
 * Knows build-ids, symbol tables (.symtab when present, else .dynsym) with the STT_FILE
 * scope of each local symbol, program headers, dynamic relocations (to find a symbol's GOT
 * slot), and the bytes of the loaded image at a virtual address. Knows nothing of
 * processes: callers hand it a path (for a live process, /proc/PID/map_files/... works)
 * or a memory buffer.
 *
 * Invariant: a struct sut_elf is immutable after open, so one parsed file can be shared
 * (cached by build-id) across many processes. Every query below reads only tables built at
 * open, so queries may run concurrently; the raw Elf handle may not (libelf loads lazily).
 *
 * A relocatable object (ET_REL) opens too: symbols (with STT_FILE scope) and raw sections
 * through sut_elf_handle(). It has no segments, so read_vaddr fails, load_span is 0..0 and
 * sym_at returns NULL (its values are offsets within different sections). */
#ifndef SUTURE_ELF_ELF_H
#define SUTURE_ELF_ELF_H

#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct sut_elf;

/* One symbol, with the scope the linker gave it. */
struct sut_sym {
	const char *name;
	const char *file; /* for STB_LOCAL: name of the preceding STT_FILE symbol (may be "");
			     NULL for global and weak symbols */
	uint64_t value;   /* st_value */
	uint64_t size;
	uint8_t type;     /* STT_* */
	uint8_t bind;     /* STB_* */
	uint8_t visibility; /* STV_* */
	uint16_t shndx;
	uint32_t index;   /* index in its symbol table */
	bool from_dynsym; /* true when the file has no .symtab */
};

int sut_elf_open(const char *path, struct sut_elf **out, struct sut_err *err);
/* The buffer must outlive the struct sut_elf. */
int sut_elf_open_mem(const void *data, size_t len, const char *name, struct sut_elf **out,
		     struct sut_err *err);
void sut_elf_close(struct sut_elf *e);

const char *sut_elf_path(const struct sut_elf *e);
Elf *sut_elf_handle(const struct sut_elf *e); /* for callers needing raw sections */
uint16_t sut_elf_type(const struct sut_elf *e); /* ET_REL, ET_EXEC, ET_DYN */

/* The object's first initialiser, where the dynamic linker first runs its code after
 * relocating it (DT_INIT, else the first DT_INIT_ARRAY entry): its vaddr and its offset
 * in the file. Fails unless it lies in the file part of an executable PT_LOAD segment. */
int sut_elf_first_init(const struct sut_elf *e, uint64_t *vaddr, uint64_t *file_off,
		       struct sut_err *err);
/* IFUNC resolvers the dynamic linker runs while relocating the object (before any
 * initialiser): defined STT_GNU_IFUNC dynamic symbols plus IRELATIVE relocations. */
size_t sut_elf_count_ifuncs(const struct sut_elf *e);

/* GNU build-id (NT_GNU_BUILD_ID). Returns its length, 0 if absent. */
size_t sut_elf_build_id(const struct sut_elf *e, const uint8_t **id);
/* Parses the notes found in a raw memory image of the first pages of a loaded object
 * (ELF header + program headers + PT_NOTE reachable within len). Returns length or 0. */
size_t sut_elf_build_id_from_image(const uint8_t *image, size_t len, uint8_t *out, size_t cap);

/* Separate debug file of a stripped object, found by build-id the way debuggers do:
 * ROOT/.build-id/xx/yyyy.debug (root NULL means /usr/lib/debug). Its .symtab has the
 * static functions the stripped file lacks, at the same virtual addresses; its code is
 * not there (read bytes from the object itself). Returns 1 and a malloc'd path when the
 * file exists and carries the same build-id, 0 when there is none. */
int sut_elf_find_debug_file(const char *root, const uint8_t *id, size_t id_len, char **path);

/* Symbols of .symtab if present, else .dynsym. Undefined symbols are included (shndx 0). */
size_t sut_elf_nsyms(const struct sut_elf *e);
const struct sut_sym *sut_elf_sym(const struct sut_elf *e, size_t i);
bool sut_elf_has_symtab(const struct sut_elf *e);

/* Finds the defined symbol `name`.
 * file != NULL: first a local symbol of that STT_FILE scope (basename compare);
 * then (or when file == NULL) a global/weak definition; then a local symbol of that name in
 * any scope, only if there is exactly one (hidden symbols become locals without a
 * meaningful scope). Returns 1 and sets *out when found, 0 when absent, -1 with a message
 * naming the candidates when ambiguous. */
int sut_elf_find_sym(const struct sut_elf *e, const char *name, const char *file,
		     const struct sut_sym **out, struct sut_err *err);

/* The symbol (function or object) whose [value, value+size) contains vaddr, or NULL. */
const struct sut_sym *sut_elf_sym_at(const struct sut_elf *e, uint64_t vaddr);

/* Copies len bytes of the loaded image at vaddr (PT_LOAD contents; bytes past p_filesz
 * read as zero). -1 with a message if any byte is outside every PT_LOAD. */
int sut_elf_read_vaddr(const struct sut_elf *e, uint64_t vaddr, void *buf, size_t len,
		       struct sut_err *err);

/* Lowest and highest vaddr covered by PT_LOAD segments; the load bias of a mapped
 * object is (address of its first mapping) - (lowest p_vaddr rounded down to a page). */
void sut_elf_load_span(const struct sut_elf *e, uint64_t *lo, uint64_t *hi);

/* vaddr of the GOT slot the dynamic linker fills with the address of `name`
 * (R_X86_64_GLOB_DAT, R_X86_64_JUMP_SLOT, or an R_X86_64_64 with no addend inside
 * PT_GNU_RELRO: a pointer in writable data may have been changed by the program since).
 * Returns 1 found, 0 absent. */
int sut_elf_got_slot(const struct sut_elf *e, const char *name, uint64_t *slot);

/* vaddr of the GOT slot an R_X86_64_IRELATIVE relocation fills with the result of calling
 * the resolver at vaddr `resolver` (the value of an STT_GNU_IFUNC symbol of this object):
 * the implementation the dynamic linker chose, at load time, for this process.
 * Returns 1 found, 0 absent. */
int sut_elf_irelative_slot(const struct sut_elf *e, uint64_t resolver, uint64_t *slot);

/* Thread-local storage (elf_tls.c). */
struct sut_elf_tls {
	uint64_t vaddr, filesz, memsz, align; /* of PT_TLS; align >= 1 */
};
/* 1 and *out set when the object has a PT_TLS segment, else 0. */
int sut_elf_tls_segment(const struct sut_elf *e, struct sut_elf_tls *out);
/* The program (ET_EXEC, or a PIE: ET_DYN with DF_1_PIE) rather than a shared library: its
 * TLS is module 1, at a fixed offset from the thread pointer in every thread. */
bool sut_elf_is_program(const struct sut_elf *e);
/* Offset from the thread pointer of the program's thread-local variable at `offset` in its
 * TLS block (the st_value of its STT_TLS symbol), as the static linker computes local-exec
 * accesses. 0 for a shared library, an object without PT_TLS or an unusual segment. */
int sut_elf_tls_tpoff(const struct sut_elf *e, uint64_t offset, int64_t *tpoff);

enum sut_elf_tls_slot_kind {
	/* the 16-byte tls_index {DTPMOD64, DTPOFF64} of the dynamic symbol `name` */
	SUT_ELF_TLS_GD_PAIR = 1,
	/* a TPOFF64 entry: of the dynamic symbol `name`, or (name NULL) of the local
	 * variable at `offset` in this object's block (symbol 0, addend offset) */
	SUT_ELF_TLS_TPOFF = 2,
	/* a DTPMOD64 entry against symbol 0: the dynamic linker writes this object's own
	 * TLS module id there */
	SUT_ELF_TLS_OWN_MODULE = 3,
};
/* vaddr of the GOT entry the dynamic linker fills for a thread-local access of that kind.
 * Returns 1 found, 0 absent. */
int sut_elf_tls_slot(const struct sut_elf *e, enum sut_elf_tls_slot_kind kind, const char *name,
		     uint64_t offset, uint64_t *slot);

/* Looks up an exported (dynamic, defined, global/weak) symbol for run-time binding,
 * honouring symbol versions as the dynamic linker does: version == NULL accepts the
 * default version (or an unversioned symbol); a version accepts that exact version, an
 * unversioned definition, or any definition of a file without version information.
 * Returns 1 found, 0 absent. */
int sut_elf_find_dynsym(const struct sut_elf *e, const char *name, const char *version,
			uint64_t *value, uint8_t *type);

/* Number of exported definitions of `name` in .dynsym, all versions counted (libc's
 * memcpy has two: GLIBC_2.2.5 and GLIBC_2.14). */
size_t sut_elf_count_dynsym_defs(const struct sut_elf *e, const char *name);

/* Version name the file's own undefined reference to `name` requires (from .gnu.version_r),
 * e.g. "GLIBC_2.2.5"; NULL when unversioned or not referenced. */
const char *sut_elf_needed_version(const struct sut_elf *e, const char *name);

#endif
