/* SPDX-License-Identifier: Apache-2.0 */
/* Evaluation of the DWARF expressions that CFI contains (DWARF 5, section 2.5).
 *
 * CFI uses a small part of the language: register + offset for most CFAs, CFA + offset for
 * saved registers, and short stack programs for PLT entries (rsp + 8 + (rip & 15 >= 11) * 8)
 * and signal trampolines (loads from the ucontext on the stack). Everything that reads
 * memory reads the stack snapshot, never the process: a load outside the snapshot fails the
 * evaluation, and the caller stops the unwind as incomplete instead of guessing. Operations
 * that CFI never needs (calls, TLS, typed stack entries) fail the same way. */
#include <dwarf.h>
#include <stdio.h>
#include <string.h>

#include "unwind/unwind_internal.h"

#define EXPR_STACK_MAX 64
/* Bounds the work of a branching expression: CFI expressions are a handful of operations. */
#define EXPR_STEPS_MAX 1024

bool unw_snapshot_read(const struct sut_stack_snapshot *s, uint64_t addr, size_t size,
		       uint64_t *val)
{
	if (!s || !s->data || size == 0 || size > 8 || s->len < size || addr < s->base ||
	    addr - s->base > s->len - size)
		return false;
	uint64_t v = 0;
	memcpy(&v, s->data + (addr - s->base), size); /* x86-64: little-endian, like the target */
	*val = v;
	return true;
}

/* Index of the operation that starts at byte offset `target` of the expression. */
static bool find_op_at(const Dwarf_Op *ops, size_t nops, uint64_t target, size_t *idx)
{
	for (size_t i = 0; i < nops; i++)
		if (ops[i].offset == target) {
			*idx = i;
			return true;
		}
	return false;
}

bool unw_expr_eval(const Dwarf_Op *ops, size_t nops, const struct unw_regs *regs,
		   bool has_cfa, uint64_t cfa, const struct sut_stack_snapshot *snap,
		   uint64_t *result, enum unw_expr_kind *kind, char *why, size_t whylen)
{
	uint64_t st[EXPR_STACK_MAX];
	size_t sp = 0, steps = 0;
	bool is_value = false;

#define NEED(k) do { if (sp < (k)) { snprintf(why, whylen, "DWARF expression stack underflow at op 0x%x", op->atom); return false; } } while (0)
#define PUSH(x) do { if (sp >= EXPR_STACK_MAX) { snprintf(why, whylen, "DWARF expression stack overflow"); return false; } uint64_t pushed_ = (x); st[sp++] = pushed_; } while (0)

	if (nops == 0) {
		snprintf(why, whylen, "empty DWARF expression");
		return false;
	}
	/* A lone register operation is a register location: the value lives in that register. */
	if (nops == 1 && ((ops[0].atom >= DW_OP_reg0 && ops[0].atom <= DW_OP_reg31) ||
			  ops[0].atom == DW_OP_regx)) {
		unsigned r = ops[0].atom == DW_OP_regx ? (unsigned)ops[0].number
						       : (unsigned)(ops[0].atom - DW_OP_reg0);
		if (!unw_reg_get(regs, r, result)) {
			snprintf(why, whylen, "register %u is not known in this frame", r);
			return false;
		}
		*kind = UNW_EXPR_VALUE;
		return true;
	}

	for (size_t i = 0; i < nops; i++) {
		const Dwarf_Op *op = &ops[i];
		uint64_t a, b, v;
		if (++steps > EXPR_STEPS_MAX) {
			snprintf(why, whylen, "DWARF expression does not terminate");
			return false;
		}
		if (op->atom >= DW_OP_lit0 && op->atom <= DW_OP_lit31) {
			PUSH((uint64_t)(op->atom - DW_OP_lit0));
			continue;
		}
		if ((op->atom >= DW_OP_breg0 && op->atom <= DW_OP_breg31) || op->atom == DW_OP_bregx) {
			unsigned r = op->atom == DW_OP_bregx ? (unsigned)op->number
							     : (unsigned)(op->atom - DW_OP_breg0);
			uint64_t off = op->atom == DW_OP_bregx ? op->number2 : op->number;
			if (!unw_reg_get(regs, r, &v)) {
				snprintf(why, whylen, "register %u is not known in this frame", r);
				return false;
			}
			PUSH(v + off); /* offsets are signed; unsigned wrap-around adds them right */
			continue;
		}
		switch (op->atom) {
		case DW_OP_nop:
			break;
		case DW_OP_addr:
		case DW_OP_const1u: case DW_OP_const1s: case DW_OP_const2u: case DW_OP_const2s:
		case DW_OP_const4u: case DW_OP_const4s: case DW_OP_const8u: case DW_OP_const8s:
		case DW_OP_constu: case DW_OP_consts:
			/* libdw already sign-extended the signed forms into number */
			PUSH(op->number);
			break;
		case DW_OP_call_frame_cfa:
			if (!has_cfa) {
				snprintf(why, whylen, "CFA expression refers to the CFA");
				return false;
			}
			PUSH(cfa);
			break;
		case DW_OP_dup: NEED(1); PUSH(st[sp - 1]); break;
		case DW_OP_drop: NEED(1); sp--; break;
		case DW_OP_over: NEED(2); PUSH(st[sp - 2]); break;
		case DW_OP_pick:
			if (op->number >= sp) {
				snprintf(why, whylen, "DW_OP_pick beyond the expression stack");
				return false;
			}
			PUSH(st[sp - 1 - op->number]);
			break;
		case DW_OP_swap: NEED(2); a = st[sp - 1]; st[sp - 1] = st[sp - 2]; st[sp - 2] = a; break;
		case DW_OP_rot:
			NEED(3);
			a = st[sp - 1];
			st[sp - 1] = st[sp - 2];
			st[sp - 2] = st[sp - 3];
			st[sp - 3] = a;
			break;
		case DW_OP_deref:
		case DW_OP_deref_size: {
			size_t size = op->atom == DW_OP_deref ? 8 : (size_t)op->number;
			NEED(1);
			if (!unw_snapshot_read(snap, st[sp - 1], size, &v)) {
				snprintf(why, whylen, "read of %zu bytes at 0x%llx is outside the stack snapshot",
					 size, (unsigned long long)st[sp - 1]);
				return false;
			}
			st[sp - 1] = v;
			break;
		}
		case DW_OP_plus_uconst: NEED(1); st[sp - 1] += op->number; break;
		case DW_OP_neg: NEED(1); st[sp - 1] = -st[sp - 1]; break;
		case DW_OP_not: NEED(1); st[sp - 1] = ~st[sp - 1]; break;
		case DW_OP_abs: NEED(1); if ((int64_t)st[sp - 1] < 0) st[sp - 1] = -st[sp - 1]; break;
		case DW_OP_plus: case DW_OP_minus: case DW_OP_mul: case DW_OP_and: case DW_OP_or:
		case DW_OP_xor: case DW_OP_shl: case DW_OP_shr: case DW_OP_shra: case DW_OP_div:
		case DW_OP_mod: case DW_OP_eq: case DW_OP_ne: case DW_OP_lt: case DW_OP_gt:
		case DW_OP_le: case DW_OP_ge:
			NEED(2);
			b = st[--sp]; /* top */
			a = st[sp - 1];
			switch (op->atom) {
			case DW_OP_plus: v = a + b; break;
			case DW_OP_minus: v = a - b; break;
			case DW_OP_mul: v = a * b; break;
			case DW_OP_and: v = a & b; break;
			case DW_OP_or: v = a | b; break;
			case DW_OP_xor: v = a ^ b; break;
			case DW_OP_shl: v = b >= 64 ? 0 : a << b; break;
			case DW_OP_shr: v = b >= 64 ? 0 : a >> b; break;
			case DW_OP_shra: v = (uint64_t)((int64_t)a >> (b >= 64 ? 63 : b)); break;
			case DW_OP_div:
			case DW_OP_mod:
				if (b == 0) {
					snprintf(why, whylen, "division by zero in DWARF expression");
					return false;
				}
				if (op->atom == DW_OP_div)
					v = (int64_t)b == -1 ? -a : (uint64_t)((int64_t)a / (int64_t)b);
				else
					v = a % b;
				break;
			/* comparisons are signed (DWARF 5, 2.5.1.4) */
			case DW_OP_eq: v = a == b; break;
			case DW_OP_ne: v = a != b; break;
			case DW_OP_lt: v = (int64_t)a < (int64_t)b; break;
			case DW_OP_gt: v = (int64_t)a > (int64_t)b; break;
			case DW_OP_le: v = (int64_t)a <= (int64_t)b; break;
			default: v = (int64_t)a >= (int64_t)b; break;
			}
			st[sp - 1] = v;
			break;
		case DW_OP_skip:
		case DW_OP_bra: {
			bool jump = true;
			if (op->atom == DW_OP_bra) {
				NEED(1);
				jump = st[--sp] != 0;
			}
			if (!jump)
				break;
			/* the operand is relative to the end of this 3-byte operation */
			uint64_t target = op->offset + 3 + (uint64_t)(int64_t)(int16_t)op->number;
			size_t next;
			if (target > ops[nops - 1].offset) {
				/* forward past the last operation: the end of the expression */
				i = nops;
				break;
			}
			if (!find_op_at(ops, nops, target, &next)) {
				snprintf(why, whylen, "DWARF branch to offset %llu outside the expression",
					 (unsigned long long)target);
				return false;
			}
			i = next - 1; /* the loop's i++ lands on next */
			break;
		}
		case DW_OP_stack_value:
			is_value = true;
			i = nops; /* must be the last operation */
			break;
		default:
			snprintf(why, whylen, "unsupported DWARF operation 0x%x in CFI", op->atom);
			return false;
		}
	}
	if (sp == 0) {
		snprintf(why, whylen, "DWARF expression left no value");
		return false;
	}
	*result = st[sp - 1];
	*kind = is_value ? UNW_EXPR_VALUE : UNW_EXPR_MEMORY;
	return true;
#undef NEED
#undef PUSH
}
