/* SPDX-License-Identifier: Apache-2.0 */
/* Internal interfaces of the `build` layer, shared by its files and its unit tests.
 * Not a contract for other layers: only build.h is. */
#ifndef SUTURE_BUILD_BUILD_INTERNAL_H
#define SUTURE_BUILD_BUILD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "build/build.h"
#include "elf/elf.h"
#include "patch/patch.h"
#include "util/err.h"

/* ---- workdir.c: trees and child processes ---- */

/* Runs argv in dir (NULL = current) with extra environment entries "NAME=VALUE" (NULL-ended,
 * may be NULL), stdout and stderr appended to out_path (NULL = inherited): util/run.h's
 * runner. Returns the exit status (0..255, 128+signal), or -1 with err set when it could not
 * run. (Output is captured with sut_run_capture.) */
int bld_run(const char *dir, char *const argv[], char *const env[], const char *out_path,
	    struct sut_err *err);
/* `cp -a src dst`: a copy keeping timestamps, so make sees the copied build as up to date. */
int bld_copy_tree(const char *src, const char *dst, struct sut_err *err);
int bld_remove_tree(const char *path, struct sut_err *err);
/* The last `max` bytes of a file, for error messages quoting a failed command. */
char *bld_file_tail(const char *path, size_t max);

/* ---- shim.c: the compiler wrapper and its log ---- */

/* One compiler invocation recorded by the wrapper. argv[0] is the real compiler's path. */
struct bld_compile {
	char *cwd;
	char **argv; /* NULL-terminated */
	size_t argc;
};

/* Writes executable wrappers cc, gcc, clang, c++, g++ into shim_dir. Each one records its
 * invocation into the file named by $SUTURE_CC_LOG and execs the real compiler found on
 * `path` (the PATH without shim_dir). */
int bld_write_shims(const char *shim_dir, const char *path, struct sut_err *err);
/* Parses the wrapper's log (a missing file is an empty log). */
int bld_read_cc_log(const char *log, struct bld_compile **out, size_t *n, struct sut_err *err);
void bld_compiles_free(struct bld_compile *c, size_t n);

/* ---- compile.c: reading and rewriting compiler command lines ---- */

/* Indices into c->argv of the C sources the command compiles: those of a `-c` compilation,
 * or of a command that compiles and links in one go (`cc -o prog main.c lib.c`); 0 when it
 * compiles none (a plain link, -E, -S). */
size_t bld_compile_sources(const struct bld_compile *c, size_t *idx, size_t cap);
/* Does the command link (no -c)? For one that also compiles, its output is the linked
 * object itself. */
bool bld_compile_links(const struct bld_compile *c);
/* The output (-o) argument of the command, or NULL. */
const char *bld_compile_output(const struct bld_compile *c);
/* argv to recompile source argv[src] of c into `out` with -c -ffunction-sections
 * -fdata-sections, without dependency-file options or link-only arguments (libraries,
 * objects, -Wl,...), other sources removed, and every
 * occurrence of the prefix `from` replaced by `to` (both may be NULL). extra (may be NULL)
 * is appended. Free with bld_argv_free. */
char **bld_rerun_argv(const struct bld_compile *c, size_t src, const char *out, const char *from,
		      const char *to, const char *extra);
void bld_argv_free(char **argv);
/* s with every occurrence of from replaced by to (malloc'd). */
char *bld_replace_prefix(const char *s, const char *from, const char *to);

/* ---- diff_lines.c: the files a diff changes, and the #line fix-up ---- */

/* Paths (after stripping one leading component, as patch -p1) of the files the diff creates
 * or modifies. Deleted files are not listed. */
int bld_diff_files(const char *diff_path, char ***files, size_t *n, struct sut_err *err);
/* Inserts `#line N` directives into the patched file so that every line the change did not
 * touch keeps its line number of the original file (keeps __LINE__, and so the code of
 * functions the change does not touch, identical). Rewrites `patched` in place. */
int bld_line_fixup(const char *orig, const char *patched, struct sut_err *err);
/* The same on memory: returns the fixed-up text (malloc'd) of patched given the hunks of
 * `diff -U0 orig patched` (diff_u0). */
char *bld_line_fixup_text(const char *patched, size_t len, const char *diff_u0, size_t *out_len);
/* Whether a file name is a C/C++ source or header (where #line is meaningful). */
bool bld_is_c_family(const char *path);

/* One hunk header of `diff -U0`: "@@ -a,b +c,d @@" (a missing count is 1). */
struct bld_hunk {
	unsigned long a, b, c, d;
};
size_t bld_parse_hunks(const char *diff_u0, struct bld_hunk **out);

/* ---- changed_lines.c: which lines of the original files the diff changed ---- */

/* Lines first..last of the original file were replaced or deleted; or, when `insertion`,
 * lines were inserted between original lines first and first + 1 (last == first). */
struct bld_line_range {
	unsigned long first, last;
	bool insertion;
};
struct bld_changed_file {
	char *path; /* relative to the tree, as the diff names it */
	struct bld_line_range *ranges;
	size_t nranges;
};
struct bld_changes {
	struct bld_changed_file *files;
	size_t nfiles;
};
/* Records the hunks of diff_u0 (`diff -U0 orig patched` of file rel). */
void bld_changes_add(struct bld_changes *c, const char *rel, const char *diff_u0);
/* Runs `diff -U0 orig patched` and records it for rel. */
int bld_changes_record(struct bld_changes *c, const char *orig, const char *patched,
		       const char *rel, struct sut_err *err);
/* Whether the change touched original lines [from, to) of `file`: a path equal to a recorded
 * one or ending in "/" and it (debug info names files by absolute or relative paths).
 * to == 0 means to the end of the file. An insertion touches the range when both lines it
 * falls between are in it. */
bool bld_changes_touch(const struct bld_changes *c, const char *file, unsigned long from,
		       unsigned long to);
void bld_changes_free(struct bld_changes *c);

/* ---- dwarf_obj.c: the DWARF of a relocatable object, relocations applied ---- */
#include <elfutils/libdwfl.h>
/* *dw NULL (and 0 returned) when the object has no DWARF. Free with dwfl_end(*dwfl). */
int bld_dwarf_open(const char *obj, Dwfl **dwfl, Dwfl_Module **mod, Dwarf **dw,
		   struct sut_err *err);

/* ---- layout.c: refusing changed struct layouts ---- */
/* Fails with "cannot live-patch: layout of struct NAME changed ..." when a struct (or union)
 * defined in both objects' DWARF has another size or other member offsets in the patched
 * one: instances that already exist in the running process keep the old layout. */
int bld_check_layouts(const char *orig_o, const char *patched_o, const char *source,
		      struct sut_err *err);

/* ---- inlined.c: naming the inlined functions a replaced function contains ---- */

/* The DWARF of one comparison object (compiled with -g). */
struct bld_inlines;
/* Opens obj's DWARF; 0 with *out NULL when the object has none. */
int bld_inlines_open(const char *obj, struct bld_inlines **out, struct sut_err *err);
/* Why function `func` (a symbol of that object) is replaced, as far as the source change
 * says: "contains inlined A[, B...]" when the change touched the lines of functions inlined
 * into it (their lines: from their declaration line to before the next function's of the
 * same file), "changed; contains inlined A..." when it also touched func's own lines;
 * NULL (the caller says "changed") when no inlined function's lines were touched.
 * Malloc'd. */
char *bld_inline_reason(struct bld_inlines *in, const char *func, const struct bld_changes *ch);
void bld_inlines_close(struct bld_inlines *in);

/* ---- objdiff.c: a relocatable object, and comparing two of them per function ---- */

struct bld_rela {
	uint64_t offset;
	uint32_t type;
	uint32_t sym;
	int64_t addend;
};

struct bld_sec {
	const char *name;
	uint32_t type;
	uint64_t flags, size, align, entsize;
	const uint8_t *data; /* NULL for SHT_NOBITS */
	struct bld_rela *relas; /* sorted by offset */
	size_t nrelas;
};

struct bld_sym {
	const char *name;
	uint8_t type, bind, vis;
	uint32_t shndx; /* SHN_UNDEF for undefined */
	uint64_t value, size;
};

struct bld_obj {
	char *path;
	const char *file; /* the STT_FILE name ("" if none): the scope of its static symbols */
	int fd;
	void *elf; /* Elf * */
	struct bld_sec *secs;
	size_t nsecs;
	struct bld_sym *syms;
	size_t nsyms;
};

int bld_obj_open(const char *path, struct bld_obj **out, struct sut_err *err);
void bld_obj_close(struct bld_obj *o);

/* What a relocation points at, in terms that survive recompilation. */
enum bld_ref_kind {
	BLD_REF_SYM = 1, /* a named symbol (defined here or undefined) + delta */
	BLD_REF_MERGE,   /* a string or constant in a mergeable section + delta from its start */
	BLD_REF_ANON,    /* an anonymous section (jump table, local label data) + delta */
};
struct bld_ref {
	enum bld_ref_kind kind;
	uint32_t sym;   /* BLD_REF_SYM: symbol index */
	uint32_t sec;   /* MERGE, ANON: section index */
	uint64_t start, len; /* MERGE: the string or constant's range within sec */
	int64_t delta;  /* SYM: from the symbol's value; MERGE: from start; ANON: from 0 */
};
void bld_resolve_ref(const struct bld_obj *o, const struct bld_rela *r, struct bld_ref *ref);

/* A function is an STT_FUNC defined in an executable section; a data object an STT_OBJECT
 * defined in an allocated section. */
bool bld_sym_is_func(const struct bld_obj *o, size_t i);
bool bld_sym_is_object(const struct bld_obj *o, size_t i);
/* Writable: in a section the program may write. `.data.rel.ro*` is not: it holds `const`
 * data with pointers (flags WA only so the dynamic linker can relocate it; read-only after
 * RELRO), so it is compared, bound and carried like .rodata. */
bool bld_sym_is_writable(const struct bld_obj *o, size_t i);
bool bld_sec_is_relro(const struct bld_sec *s);
/* "f.cold" -> the index of "f" in o, or -1; also for "f.part.0.cold". */
long bld_cold_parent(const struct bld_obj *o, size_t i);

enum bld_state { BLD_SAME = 0, BLD_CHANGED = 1, BLD_NEW = 2 };

struct bld_objdiff {
	size_t nsyms;           /* of the patched object */
	long *match;            /* per patched symbol: index in orig, or -1 */
	enum bld_state *state;  /* per patched function or object symbol */
	char **reason;          /* per patched symbol, may be NULL ("changed"/"new" implied) */
};

/* Compares patched against orig (orig NULL: a new file, everything is new). Refuses, with an
 * error naming the variable and file, a change of a writable variable's initial value. */
int bld_objdiff(const struct bld_obj *orig, const struct bld_obj *patched, struct bld_objdiff *d,
		struct sut_err *err);
void bld_objdiff_free(struct bld_objdiff *d);
/* Name in orig of patched symbol i (its own name when unmatched). */
const char *bld_orig_name(const struct bld_obj *patched, const struct bld_obj *orig,
			  const struct bld_objdiff *d, size_t i);

/* ---- emit.c: turning changed functions into a sut_patch ---- */

struct bld_emit {
	struct sut_patch *p;         /* being filled: sections, symbols, relocs, funcs */
	const struct sut_elf *target; /* the original build's target object */
	struct sut_build_func *rep;  /* report entries */
	size_t nrep;
	const struct bld_changes *changes; /* lines the diff changed (may be NULL) */
};

/* Adds what the patched object contributes: carried sections, their symbols and relocations,
 * and one sut_patch_func per changed function present in the target. */
int bld_emit_object(struct bld_emit *em, const struct bld_obj *orig, const struct bld_obj *patched,
		    struct bld_objdiff *d, struct sut_err *err);

/* Appends a symbol to p (emit.c); returns its index. */
long bld_patch_add_symbol(struct sut_patch *p, struct sut_patch_symbol s);
/* A symbol bound to the target (TARGET or TARGET_GOT at vaddr `value`, not a function),
 * shared by every reference to the same thing: an existing equal one is reused. */
long bld_patch_add_bound(struct sut_patch *p, const char *name, enum sut_sym_kind kind,
			 uint64_t value);

/* ---- tls.c: thread-local accesses of carried code ---- */

/* One relocation of a carried section against a thread-local variable. */
struct bld_tls_site {
	struct sut_patch *p;          /* being filled */
	const struct sut_elf *target; /* the original build's target object */
	const char *file;             /* the object's STT_FILE: scope of its statics */
	const char *sec_name;         /* the carried section (names the function) */
	uint32_t patch_sec;           /* its index in p->sections */
	const struct bld_obj *orig, *patched; /* the two compilations (orig may be NULL) */
	const struct bld_sym *sym;    /* the relocation's symbol in the patched object */
	const char *var;              /* its name as the target knows it */
};
/* Whether a relocation type is a thread-local access (sut_reloc_type()->tls). */
bool bld_reloc_is_tls(uint32_t type);
/* Binds one thread-local relocation to the target's variable (see tls.c for each model):
 * a constant written into the carried bytes, or a PC32 to the target's own GOT entry or to
 * a read-only entry the patch carries. Fails with "cannot live-patch: FILE: SECTION+OFF:
 * thread-local 'x' (MODEL access, R_X86_64_...): why" for what cannot be bound safely. */
int bld_tls_bind(const struct bld_tls_site *s, const struct bld_rela *r, struct sut_err *err);

/* ---- meta.c: patch metadata derived from the diff ---- */

/* The diff's basename without extension, reduced to [A-Za-z0-9._+-]. */
char *bld_id_from_diff(const char *diff_path);
/* First non-empty line of the diff's header (before the first "---"), or NULL. */
char *bld_description_from_diff(const char *diff_path);

#endif
