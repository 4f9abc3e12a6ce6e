/* SPDX-License-Identifier: Apache-2.0 */
/* The patch: the one file suture moves from the build machine into processes.
 *
 * This header is the contract of the `patch` layer: the in-memory model of a patch and
 * its reader, validator and writer. The on-disk form is a relocatable x86-64 ELF file
 * (ET_REL) with suture's own sections, documented in docs/patch-format.md; `readelf -a`
 * can read it. The layer knows nothing of processes.
 *
 * Invariant kept by every function here: a struct sut_patch returned by the reader has
 * passed sut_patch_validate(), so every index, offset and size in it is in bounds and
 * every relocation type is one the link layer implements. Later layers rely on that and
 * do not re-check bounds. */
#ifndef SUTURE_PATCH_PATCH_H
#define SUTURE_PATCH_PATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define SUT_PATCH_FORMAT 1
#define SUT_BUILD_ID_MAX 64
#define SUT_PATCH_ID_MAX 128
#define SUT_KEY_ID_LEN 16 /* hex chars of a signing key id */
/* Bytes of the x86-64 `jmp rel32` (0xe9 + a 32-bit displacement) that redirects a replaced
 * function's entry to its replacement: every replaced function holds at least this many
 * bytes, and this is what apply writes, revert restores and verify reads at an entry. */
#define SUT_JMP_LEN 5
/* Limits that keep every size computation far from overflow and the file small enough
 * to lay out: a carried section is at most 1 GiB and aligned to at most a page; at most
 * 16000 carried sections so every ELF section index fits below SHN_LORESERVE. */
#define SUT_PATCH_SECTION_MAX (UINT64_C(1) << 30)
#define SUT_PATCH_ALIGN_MAX 4096
#define SUT_PATCH_NSECTIONS_MAX 16000

/* What a carried section holds; decides its page protection once placed. */
enum sut_sec_kind {
	SUT_SEC_TEXT = 1,   /* code: mapped read+execute */
	SUT_SEC_RODATA = 2, /* read-only data (string literals, constants, jump tables) */
	SUT_SEC_DATA = 3,   /* new writable data with initial bytes */
	SUT_SEC_BSS = 4,    /* new zero-initialised writable data (bytes == NULL) */
};

/* A chunk of new code or data the patch carries into the process. */
struct sut_patch_section {
	char *name; /* as in the object it came from, e.g. ".text.parse_header" */
	enum sut_sec_kind kind;
	uint64_t align; /* power of two, >= 1 */
	uint64_t size;
	uint8_t *bytes; /* size bytes; NULL for SUT_SEC_BSS */
};

/* Where a symbol referenced by patch code lives. */
enum sut_sym_kind {
	/* defined by the patch: `section` and `value` (offset in that section) */
	SUT_SYM_LOCAL = 1,
	/* defined in the target object: `value` is its address in the target ELF (vaddr);
	 * at run time it is load bias + value. Used for target functions and data,
	 * including static and hidden ones found by the builder in .symtab. */
	SUT_SYM_TARGET = 2,
	/* the address is stored in one of the target's own GOT slots: `value` is the vaddr of
	 * that slot in the target ELF. Binding through the target's slot gives exactly the
	 * symbol the dynamic linker chose for the target (interposition, versions). */
	SUT_SYM_TARGET_GOT = 3,
	/* resolved at apply time by name (and version if set) in the process's loaded
	 * objects, in the dynamic linker's search order. */
	SUT_SYM_EXTERN = 4,
};

struct sut_patch_symbol {
	char *name;
	enum sut_sym_kind kind;
	uint32_t section; /* SUT_SYM_LOCAL only: index into sut_patch.sections */
	uint64_t value;
	uint64_t size;
	bool is_func;
	char *version; /* SUT_SYM_EXTERN only, may be NULL */
};

/* A relocation to apply to a carried section. Types are R_X86_64_* values; the validator
 * accepts those of sut_reloc_type() marked `carried`: 64, PC32, PLT32, 32, 32S, PC64,
 * GOTPCREL, GOTPCRELX, REX_GOTPCRELX. The reader returns relocations grouped by section
 * (ascending section index), keeping their order within a section; the writer stores them
 * the same way. */
struct sut_patch_reloc {
	uint32_t section; /* index of the section the reloc patches */
	uint64_t offset;  /* within that section */
	uint32_t type;
	uint32_t symbol; /* index into sut_patch.symbols */
	int64_t addend;
};

/* One target function the patch replaces. */
struct sut_patch_func {
	char *name;            /* the target's symbol name */
	char *file;            /* STT_FILE scope for a local symbol, NULL for a global one */
	uint64_t target_addr;  /* vaddr of the function in the target ELF */
	uint64_t target_size;  /* st_size in the target */
	uint8_t *preimage;     /* expected original bytes at target_addr */
	uint32_t preimage_len; /* == target_size (whole function), at least SUT_JMP_LEN */
	uint32_t replacement;  /* index of a SUT_SYM_LOCAL function symbol: the new code */
	char *reason;          /* why it is replaced, e.g. "changed" or
				  "contains inlined dh_match_params"; may be NULL */
};

enum sut_consistency {
	SUT_CONS_STRICT = 0,   /* no thread inside a replaced function at the switch */
	SUT_CONS_PER_CALL = 1, /* old activations finish in old code */
};

struct sut_patch {
	uint32_t format;  /* SUT_PATCH_FORMAT */
	char *id;         /* [A-Za-z0-9._+-]{1,127}: the name used by revert/status */
	uint32_t version; /* the patch author's revision, >= 1 */
	char *description;
	char **cves;
	size_t ncves;
	char *target_name; /* informational: basename/soname of the target object */
	/* The distribution package the target comes from, when built from one (suture build
	 * --debian): source package, its version, and the binary package holding the target.
	 * Informational (the build-id is what binds the patch); all NULL otherwise. */
	char *pkg_source, *pkg_version, *pkg_binary;
	uint8_t build_id[SUT_BUILD_ID_MAX];
	size_t build_id_len; /* the one target build this patch is for; >= 1 */
	enum sut_consistency consistency;

	struct sut_patch_section *sections;
	size_t nsections;
	struct sut_patch_symbol *symbols;
	size_t nsymbols;
	struct sut_patch_reloc *relocs;
	size_t nrelocs;
	struct sut_patch_func *funcs;
	size_t nfuncs;

	/* Signature (see patch/sign.h): Ed25519 over the canonical bytes, i.e. the output of
	 * sut_patch_write_mem() for this patch with these three fields cleared. All NULL/0
	 * when unsigned. sig_key_id: 16 lower-case hex chars, the first 8 bytes of SHA-256
	 * of the signer's raw 32-byte public key. */
	uint8_t *sig;
	size_t sig_len;
	char *sig_key_id;
};

/* One x86-64 relocation type as suture knows it. sut_reloc_type() is the one table every
 * layer consults (reader, validator, link, build), so a type's name, field width and
 * meaning cannot drift apart between them. The value computed is
 *   (via_got ? G : S) + A - (pcrel ? P : 0)
 * with S the symbol's address, A the addend, P the field's address and G the address of
 * the GOT slot that holds S; it must fit the field as `range` says. */
enum sut_reloc_range {
	SUT_RELOC_ANY = 0,      /* 8-byte field: every value fits */
	SUT_RELOC_SIGNED32 = 1, /* 4-byte field, sign-extended by its instruction */
	SUT_RELOC_UNSIGNED32 = 2, /* 4-byte field, zero-extended */
};

struct sut_reloc_type {
	uint32_t type;   /* R_X86_64_* */
	const char *name; /* "R_X86_64_PC32" */
	uint8_t width;   /* bytes of the field */
	bool pcrel;      /* relative to the field's address */
	bool via_got;    /* designates a GOT slot holding the symbol's address */
	enum sut_reloc_range range;
	/* a patch may hold it: the link layer computes it with the formula above */
	bool carried;
	/* a thread-local access (TLSGD, TLSLD, DTPOFF*, GOTTPOFF, TPOFF*, TLSDESC): never in a
	 * patch; the builder binds it to the target's TLS or refuses it (docs/build.md) */
	bool tls;
	/* the TLS access model it belongs to ("local-exec", "initial-exec", "general-dynamic",
	 * "local-dynamic", "TLS descriptor"); NULL when that is not one model (DTPMOD64,
	 * TPOFF64: dynamic relocations several models use) or the type is not thread-local */
	const char *tls_model;
};

/* The entry for `type`, or NULL for a type suture does not know at all. */
const struct sut_reloc_type *sut_reloc_type(uint32_t type);
/* The name of `type` ("R_X86_64_TLSGD"), or "type N" in buf for an unknown one. */
const char *sut_reloc_type_name(uint32_t type, char *buf, size_t cap);

/* True for the relocation types a patch may hold (those the link layer implements). */
bool sut_patch_reloc_type_ok(uint32_t type);
/* A patch id: 1-127 characters of [A-Za-z0-9._+-]. */
bool sut_patch_id_valid(const char *id);
/* A CVE id: CVE-YYYY-NNNN with four or more sequence digits. */
bool sut_patch_cve_valid(const char *s);

/* Checks every structural rule (see docs/patch-format.md): id syntax, build-id present,
 * indices and offsets in bounds (a relocation's field fits inside its section), symbols of
 * replacements are LOCAL functions in TEXT sections, preimage_len == target_size >= SUT_JMP_LEN,
 * no two funcs with the same target_addr, alignments powers of two. The message says
 * which element is wrong, e.g. "relocation 12: offset 0x40 outside section .text.f (size 0x3c)". */
int sut_patch_validate(const struct sut_patch *p, struct sut_err *err);

/* Reads and validates; on failure *out is untouched and nothing leaks. */
int sut_patch_read_mem(const void *data, size_t len, struct sut_patch **out, struct sut_err *err);
int sut_patch_read_file(const char *path, struct sut_patch **out, struct sut_err *err);

/* Validates then serialises; sut_patch_read_mem(sut_patch_write_mem(p)) is equal to p. */
int sut_patch_write_mem(const struct sut_patch *p, uint8_t **data, size_t *len, struct sut_err *err);
int sut_patch_write_file(const struct sut_patch *p, const char *path, struct sut_err *err);

void sut_patch_free(struct sut_patch *p);

/* Index of the function symbol named `name` among p->symbols, or -1. */
long sut_patch_find_symbol(const struct sut_patch *p, const char *name);

#endif
