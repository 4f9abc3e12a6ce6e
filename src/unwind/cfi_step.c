/* SPDX-License-Identifier: Apache-2.0 */
/* One frame step: the caller's registers from the callee's registers and the CFI row that
 * covers the callee's PC (DWARF 5, section 6.4).
 *
 * CFA first (usually rsp + N, or rbp + 16 in functions that keep a frame pointer; an
 * expression in PLT entries and signal trampolines). Then every register's rule:
 *   undefined   -> unknown in the caller (call-clobbered); for the return address it marks
 *                  the outermost frame (_start, the child side of clone/clone3);
 *   same value  -> unchanged (callee-saved registers the function did not touch);
 *   saved       -> read from the stack snapshot at the location the rule gives;
 *   value       -> computed (rsp: the CFA itself, per the x86-64 ABI default rule).
 * A callee-saved register that cannot be recovered becomes unknown rather than stopping the
 * walk: only a CFA or return address that needs it stops the walk, and that stop is then
 * reported as incomplete (the invariant: never claim a stack is complete when it is not). */
#include <stdio.h>

#include "unwind/unwind_internal.h"

/* Applies a register rule. Returns false (why set) when the value cannot be computed;
 * *defined is false when CFI says the register is undefined in the caller, *computed is
 * true when CFI gave an explicit location or value (not same-value, not undefined). */
static bool apply_rule(Dwarf_Frame *frame, unsigned regno, const struct unw_regs *callee,
		       uint64_t cfa, const struct sut_stack_snapshot *snap, uint64_t *val,
		       bool *defined, bool *computed, char *why, size_t whylen)
{
	Dwarf_Op ops_mem[3];
	Dwarf_Op *ops = NULL;
	size_t nops = 0;
	*defined = true;
	*computed = false;
	if (dwarf_frame_register(frame, (int)regno, ops_mem, &ops, &nops) != 0) {
		snprintf(why, whylen, "CFI rule for register %u: %s", regno, dwarf_errmsg(-1));
		return false;
	}
	if (nops == 0 && ops == NULL) { /* same value */
		if (unw_reg_get(callee, regno, val))
			return true;
		snprintf(why, whylen, "register %u is not known in this frame", regno);
		return false;
	}
	if (nops == 0) { /* undefined */
		*defined = false;
		return true;
	}
	*computed = true;
	uint64_t r;
	enum unw_expr_kind kind;
	if (!unw_expr_eval(ops, nops, callee, true, cfa, snap, &r, &kind, why, whylen))
		return false;
	if (kind == UNW_EXPR_VALUE) {
		*val = r;
		return true;
	}
	if (!unw_snapshot_read(snap, r, 8, val)) {
		snprintf(why, whylen, "register %u is saved at 0x%llx, outside the stack snapshot",
			 regno, (unsigned long long)r);
		return false;
	}
	return true;
}

enum unw_step_status unw_cfi_step(Dwarf_Frame *frame, const struct unw_regs *callee,
				  const struct sut_stack_snapshot *snap, struct unw_regs *caller,
				  bool *signal_frame, char *why, size_t whylen)
{
	bool signalp = false;
	int ra_reg = dwarf_frame_info(frame, NULL, NULL, &signalp);
	if (ra_reg < 0 || ra_reg >= UNW_NREGS) {
		snprintf(why, whylen, "CFI names register %d as return address", ra_reg);
		return UNW_STEP_STUCK;
	}
	*signal_frame = signalp;

	Dwarf_Op *cfa_ops = NULL;
	size_t cfa_nops = 0;
	if (dwarf_frame_cfa(frame, &cfa_ops, &cfa_nops) != 0 || cfa_nops == 0) {
		snprintf(why, whylen, "CFI gives no CFA here");
		return UNW_STEP_STUCK;
	}
	uint64_t cfa;
	enum unw_expr_kind kind;
	char sub[UNW_WHY_MAX];
	/* The CFA rule is an expression whose value is the CFA itself, never a location. */
	if (!unw_expr_eval(cfa_ops, cfa_nops, callee, false, 0, snap, &cfa, &kind, sub, sizeof sub)) {
		snprintf(why, whylen, "CFA: %s", sub);
		return UNW_STEP_STUCK;
	}

	caller->valid = 0;
	bool rsp_computed = false;
	for (unsigned r = 0; r < UNW_NREGS; r++) {
		uint64_t v;
		bool defined, computed;
		if (!apply_rule(frame, r, callee, cfa, snap, &v, &defined, &computed, sub,
				sizeof sub)) {
			if (r == (unsigned)ra_reg) {
				snprintf(why, whylen, "return address: %s", sub);
				return UNW_STEP_STUCK;
			}
			continue; /* unknown in the caller; only fatal if something needs it later */
		}
		if (r == UNW_RSP)
			rsp_computed = computed;
		if (defined)
			unw_reg_set(caller, r, v);
		else if (r == (unsigned)ra_reg)
			return UNW_STEP_OUTERMOST;
	}
	/* The caller's stack pointer is the CFA (by definition of the CFA on x86-64) unless CFI
	 * gives an explicit rule (signal frames reload it from the saved context). A
	 * "same value" rule for rsp would be a defaulting artefact, not a fact: ignore it. */
	if (!rsp_computed || !(caller->valid & (1u << UNW_RSP)))
		unw_reg_set(caller, UNW_RSP, cfa);
	/* The caller's PC is the return address. */
	unw_reg_set(caller, UNW_RA, caller->v[ra_reg]);
	return UNW_STEP_CALLER;
}
