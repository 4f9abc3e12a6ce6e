/* SPDX-License-Identifier: Apache-2.0 */
/* Pieces of the unwind layer shared between its files; not a contract for other layers.
 *
 *   cfi_object.c   one ELF file opened for its CFI (.eh_frame, then .debug_frame)
 *   unwinder.c     the cache of cfi objects by build-id
 *   dwarf_expr.c   evaluation of the DWARF expressions CFI uses, against a register set
 *                  and a stack snapshot
 *   cfi_step.c     one frame: registers of the caller from the registers of the callee
 *   unwind_thread.c the walk from the thread's registers to the outermost frame */
#ifndef SUTURE_UNWIND_UNWIND_INTERNAL_H
#define SUTURE_UNWIND_UNWIND_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdw.h>

#include "unwind/unwind.h"

/* DWARF register numbers on x86-64 (System V psABI, figure 3.36). */
enum {
	UNW_RAX = 0, UNW_RDX = 1, UNW_RCX = 2, UNW_RBX = 3, UNW_RSI = 4, UNW_RDI = 5,
	UNW_RBP = 6, UNW_RSP = 7, UNW_R8 = 8, UNW_R15 = 15, UNW_RA = 16,
	UNW_NREGS = 17,
};

#define UNW_WHY_MAX 192

/* A frame's registers. A register whose bit is clear in `valid` is unknown (call-clobbered,
 * or CFI said undefined): reading it stops the unwind rather than guessing. */
struct unw_regs {
	uint64_t v[UNW_NREGS];
	uint32_t valid;
};

static inline bool unw_reg_get(const struct unw_regs *r, unsigned regno, uint64_t *val)
{
	if (regno >= UNW_NREGS || !(r->valid & (1u << regno)))
		return false;
	*val = r->v[regno];
	return true;
}

static inline void unw_reg_set(struct unw_regs *r, unsigned regno, uint64_t val)
{
	r->v[regno] = val;
	r->valid |= 1u << regno;
}

/* 8 bytes (or fewer, zero-extended) of process memory, only from the snapshot. */
bool unw_snapshot_read(const struct sut_stack_snapshot *s, uint64_t addr, size_t size,
		       uint64_t *val);

/* --- cfi_object.c --- */

struct unw_object;

/* Opens path and reads its CFI tables (lazily for .debug_frame). On failure returns NULL
 * and writes why. */
struct unw_object *unw_object_open(const char *path, char *why, size_t whylen);
void unw_object_close(struct unw_object *o);
/* The CFI row for an ELF virtual address (not a runtime address): .eh_frame first, then
 * .debug_frame; NULL when no table covers it. The row is cached in o (see cfi_object.c)
 * and lives as long as o; *owned is true when the cache was full and the caller must
 * free() it. A row is only read (the dwarf_frame_* getters), never changed. */
Dwarf_Frame *unw_object_frame(struct unw_object *o, uint64_t vaddr, bool *owned);
/* Rows cached, and lookups answered from the cache (hits) or the tables (misses). */
void unw_object_stats(const struct unw_object *o, size_t *rows, uint64_t *hits,
		      uint64_t *misses);

/* --- unwinder.c --- */

/* The object for mods[i], from the build-id cache or opened for this call. `call_owned`
 * collects objects opened only for this call; the caller closes them. */
struct unw_call_objects {
	struct unw_object **by_module; /* one per module, NULL until resolved */
	bool *failed;                  /* resolution tried and failed */
};
struct unw_object *unw_resolve_module(struct sut_unwinder *u, const struct sut_unwind_module *m,
				      size_t idx, struct unw_call_objects *call, char *why,
				      size_t whylen);
void unw_call_objects_release(const struct sut_unwind_module *mods, size_t nmods,
			      struct unw_call_objects *call);

/* --- dwarf_expr.c --- */

enum unw_expr_kind {
	UNW_EXPR_VALUE,   /* the result is the value itself (DW_OP_stack_value, CFA) */
	UNW_EXPR_MEMORY,  /* the result is an address holding the value */
};

/* Evaluates ops. `cfa` is pushed by DW_OP_call_frame_cfa and is only available when
 * has_cfa (it is not while computing the CFA itself). DW_OP_regN alone is a register
 * location: the result is then that register's value, of kind VALUE. */
bool unw_expr_eval(const Dwarf_Op *ops, size_t nops, const struct unw_regs *regs,
		   bool has_cfa, uint64_t cfa, const struct sut_stack_snapshot *snap,
		   uint64_t *result, enum unw_expr_kind *kind, char *why, size_t whylen);

/* --- cfi_step.c --- */

enum unw_step_status {
	UNW_STEP_CALLER,     /* caller's registers computed */
	UNW_STEP_OUTERMOST,  /* the return address is undefined: this is the first frame */
	UNW_STEP_STUCK,      /* cannot go on: why says so */
};

/* From the registers of a frame and its CFI row, the caller's registers. `*signal_frame`
 * tells whether this frame is a signal trampoline, i.e. whether the caller's PC is exact
 * (an interrupted instruction) rather than a return address. */
enum unw_step_status unw_cfi_step(Dwarf_Frame *frame, const struct unw_regs *callee,
				  const struct sut_stack_snapshot *snap, struct unw_regs *caller,
				  bool *signal_frame, char *why, size_t whylen);

#endif
