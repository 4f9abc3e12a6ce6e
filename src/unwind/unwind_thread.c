/* SPDX-License-Identifier: Apache-2.0 */
/* Unwinding one stopped thread from a copy of its registers and stack.
 *
 * Choice of machinery: libdw's CFI interface (dwarf_getcfi_elf, dwarf_cfi_addrframe,
 * dwarf_frame_cfa, dwarf_frame_register) with our own small DWARF expression evaluator, not
 * libdwfl's dwfl_attach_state/dwfl_thread_getframes. libdwfl ties parsed modules to one
 * Dwfl session (one address space), so sharing CFI across processes by build-id would mean
 * fighting its module reporting; with the CFI interface the cache is a plain table of
 * Dwarf_CFI handles keyed by build-id, every memory access provably goes to the snapshot,
 * and each way to stop (no module, no CFI, read outside the snapshot, unknown register)
 * has its own message.
 *
 * The walk. Frame 0's PC is exact (the thread stopped there). Each later PC is a return
 * address: the call that produced it ends just before it, and the call may be the last
 * instruction of its function (a call to a noreturn function), so its CFI row is looked up
 * at PC - 1. The exception is the PC restored by a signal trampoline frame: it is the
 * interrupted instruction itself, exact. The walk ends:
 *   complete   when CFI marks the return address undefined (outermost frame) or it is 0;
 *   incomplete when a PC is in no module, a module cannot be opened or has no CFI for the
 *              PC, an expression needs memory outside the snapshot or an unknown register,
 *              the stack pointer does not strictly increase (a loop or corrupt stack), or
 *              max frames were reached. Frames found so far are returned either way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "unwind/unwind_internal.h"
#include "util/buf.h"

static void regs_from_user(const struct user_regs_struct *u, struct unw_regs *r)
{
	r->valid = 0;
	unw_reg_set(r, 0, u->rax);
	unw_reg_set(r, 1, u->rdx);
	unw_reg_set(r, 2, u->rcx);
	unw_reg_set(r, 3, u->rbx);
	unw_reg_set(r, 4, u->rsi);
	unw_reg_set(r, 5, u->rdi);
	unw_reg_set(r, 6, u->rbp);
	unw_reg_set(r, 7, u->rsp);
	unw_reg_set(r, 8, u->r8);
	unw_reg_set(r, 9, u->r9);
	unw_reg_set(r, 10, u->r10);
	unw_reg_set(r, 11, u->r11);
	unw_reg_set(r, 12, u->r12);
	unw_reg_set(r, 13, u->r13);
	unw_reg_set(r, 14, u->r14);
	unw_reg_set(r, 15, u->r15);
	unw_reg_set(r, UNW_RA, u->rip);
}

static ssize_t find_module(const struct sut_unwind_module *mods, size_t nmods, uint64_t addr)
{
	for (size_t i = 0; i < nmods; i++)
		if (addr >= mods[i].lo && addr < mods[i].hi)
			return (ssize_t)i;
	return -1;
}

static void stop(struct sut_unwind_result *out, uint64_t sp, const char *why)
{
	out->complete = false;
	out->stop_sp = sp;
	snprintf(out->stop_reason, sizeof out->stop_reason, "%s", why);
}

static void end_complete(struct sut_unwind_result *out, uint64_t sp)
{
	out->complete = true;
	out->stop_sp = sp;
}

/* One walk: what it reads, the frame it is at, what it found so far. */
struct walk {
	struct sut_unwinder *u;
	const struct sut_unwind_module *mods;
	size_t nmods;
	const struct sut_stack_snapshot *stack;
	size_t max, cap;
	struct unw_call_objects call;
	struct unw_regs cur; /* the registers of the frame being unwound */
	bool exact;          /* its PC is where execution is, not a return address */
	struct sut_unwind_result *out;
};

/* The CFI row of the current frame: its module, the module's object, the row for the PC
 * (at PC - 1 for a return address). NULL with the walk stopped when there is none. The
 * row belongs to the object's cache, unless *owned (then free() it). */
static Dwarf_Frame *frame_cfi(struct walk *w, bool *owned)
{
	uint64_t pc = w->cur.v[UNW_RA], sp = w->cur.v[UNW_RSP];
	uint64_t lookup = w->exact ? pc : pc - 1;
	char sub[UNW_WHY_MAX], why[sizeof w->out->stop_reason]; /* why wraps sub */
	ssize_t mi = find_module(w->mods, w->nmods, lookup);
	if (mi < 0) {
		snprintf(why, sizeof why, "pc 0x%llx is in no known object", (unsigned long long)pc);
		stop(w->out, sp, why);
		return NULL;
	}
	const struct sut_unwind_module *m = &w->mods[mi];
	*owned = false;
	struct unw_object *obj = unw_resolve_module(w->u, m, (size_t)mi, &w->call, sub, sizeof sub);
	if (!obj) {
		stop(w->out, sp, sub);
		return NULL;
	}
	Dwarf_Frame *frame = unw_object_frame(obj, lookup - m->bias, owned);
	if (!frame) {
		snprintf(why, sizeof why, "no CFI for pc 0x%llx in %s", (unsigned long long)pc,
			 m->path ? m->path : "?");
		stop(w->out, sp, why);
	}
	return frame;
}

/* Whether the caller's registers that the CFI step gave (st, next; sub says why it got
 * stuck) continue the walk; when not, the walk is ended complete or stopped, and why. */
static bool walk_goes_on(struct walk *w, enum unw_step_status st, const struct unw_regs *next,
			 const char *sub)
{
	uint64_t pc = w->cur.v[UNW_RA], sp = w->cur.v[UNW_RSP];
	char why[sizeof w->out->stop_reason];
	if (st == UNW_STEP_STUCK) {
		snprintf(why, sizeof why, "at pc 0x%llx: %s", (unsigned long long)pc, sub);
		stop(w->out, sp, why);
		return false;
	}
	if (st == UNW_STEP_OUTERMOST || next->v[UNW_RA] == 0) {
		/* CFI marks the outermost frame; a zeroed return address also ends a stack */
		end_complete(w->out, sp);
		return false;
	}
	if (next->v[UNW_RSP] <= sp)
		/* Every frame lies above its callee's; equal or lower means a loop or garbage. */
		snprintf(why, sizeof why, "stack pointer does not increase above 0x%llx at pc 0x%llx",
			 (unsigned long long)sp, (unsigned long long)pc);
	else if (w->out->n == w->max)
		snprintf(why, sizeof why, "stopped after %zu frames", w->max);
	else
		return true;
	stop(w->out, sp, why);
	return false;
}

static void record_pc(struct walk *w, uint64_t pc)
{
	struct sut_unwind_result *out = w->out;
	if (out->n == w->cap) {
		w->cap = w->cap * 2 < w->max ? w->cap * 2 : w->max;
		out->pcs = sut_xrealloc(out->pcs, w->cap * sizeof *out->pcs);
	}
	out->pcs[out->n++] = pc;
}

static int unwind(struct sut_unwinder *u, const struct sut_unwind_module *mods, size_t nmods,
		  const struct user_regs_struct *regs, bool pc_sp_only,
		  const struct sut_stack_snapshot *stack, size_t max,
		  struct sut_unwind_result *out, struct sut_err *err);

int sut_unwind_thread(struct sut_unwinder *u, const struct sut_unwind_module *mods,
		      size_t nmods, const struct user_regs_struct *regs,
		      const struct sut_stack_snapshot *stack, size_t max,
		      struct sut_unwind_result *out, struct sut_err *err)
{
	return unwind(u, mods, nmods, regs, false, stack, max, out, err);
}

int sut_unwind_thread_pc_sp(struct sut_unwinder *u, const struct sut_unwind_module *mods,
			    size_t nmods, uint64_t pc, uint64_t sp,
			    const struct sut_stack_snapshot *stack, size_t max,
			    struct sut_unwind_result *out, struct sut_err *err)
{
	struct user_regs_struct regs = {.rip = pc, .rsp = sp};
	return unwind(u, mods, nmods, &regs, true, stack, max, out, err);
}

static int unwind(struct sut_unwinder *u, const struct sut_unwind_module *mods, size_t nmods,
		  const struct user_regs_struct *regs, bool pc_sp_only,
		  const struct sut_stack_snapshot *stack, size_t max,
		  struct sut_unwind_result *out, struct sut_err *err)
{
	if (!out)
		return sut_errf(err, "unwind: no result to fill");
	memset(out, 0, sizeof *out);
	if (!u || !regs || !stack || max == 0 || (nmods && !mods))
		return sut_errf(err, "unwind: invalid arguments (unwinder, registers, stack, "
				     "modules and max >= 1 are required)");

	struct walk w = {
		.u = u, .mods = mods, .nmods = nmods, .stack = stack, .max = max,
		.cap = max < 64 ? max : 64, .exact = true, .out = out,
		.call = {
			.by_module = sut_xcalloc(nmods ? nmods : 1, sizeof *w.call.by_module),
			.failed = sut_xcalloc(nmods ? nmods : 1, sizeof *w.call.failed),
		},
	};
	out->pcs = sut_xmalloc(w.cap * sizeof *out->pcs);
	regs_from_user(regs, &w.cur);
	if (pc_sp_only) /* every other register unknown: a rule that needs one stops the walk */
		w.cur.valid = 1u << UNW_RSP | 1u << UNW_RA;
	out->pcs[out->n++] = regs->rip; /* frame 0's PC is where the thread is */
	for (;;) {
		bool owned = false;
		Dwarf_Frame *frame = frame_cfi(&w, &owned);
		if (!frame)
			break;
		struct unw_regs next;
		bool signal_frame = false;
		char sub[UNW_WHY_MAX];
		enum unw_step_status st = unw_cfi_step(frame, &w.cur, stack, &next, &signal_frame,
						       sub, sizeof sub);
		if (owned)
			free(frame);
		if (!walk_goes_on(&w, st, &next, sub))
			break;
		record_pc(&w, next.v[UNW_RA]);
		/* the PC a signal trampoline restores is the interrupted instruction itself */
		w.exact = signal_frame;
		w.cur = next;
	}
	unw_call_objects_release(mods, nmods, &w.call);
	return 0;
}
