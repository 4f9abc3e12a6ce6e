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
#include <stdarg.h>
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

/* The state of one evaluation: the expression, what it may read, its stack, and the index
 * of the next operation (a branch sets it; the end of the expression is nops). */
struct expr_vm {
	const Dwarf_Op *ops;
	size_t nops;
	const struct unw_regs *regs;
	bool has_cfa;
	uint64_t cfa;
	const struct sut_stack_snapshot *snap;
	uint64_t st[EXPR_STACK_MAX];
	size_t sp;
	size_t next;
	const Dwarf_Op *op; /* the operation being executed */
	bool is_value;      /* DW_OP_stack_value ended it: the result is a value, not a place */
	char *why;
	size_t whylen;
};

static bool fail(struct expr_vm *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct expr_vm *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->why, m->whylen, fmt, ap);
	va_end(ap);
	return false;
}

static bool need(struct expr_vm *m, size_t k)
{
	return m->sp >= k ||
	       fail(m, "DWARF expression stack underflow at op 0x%x", m->op->atom);
}

static bool push(struct expr_vm *m, uint64_t x)
{
	if (m->sp >= EXPR_STACK_MAX)
		return fail(m, "DWARF expression stack overflow");
	m->st[m->sp++] = x;
	return true;
}

static bool reg_value(struct expr_vm *m, unsigned r, uint64_t *v)
{
	return unw_reg_get(m->regs, r, v) ||
	       fail(m, "register %u is not known in this frame", r);
}

/* A lone register operation is a register location: the value lives in that register. */
static bool is_register_location(const Dwarf_Op *ops, size_t nops)
{
	return nops == 1 && ((ops[0].atom >= DW_OP_reg0 && ops[0].atom <= DW_OP_reg31) ||
			     ops[0].atom == DW_OP_regx);
}

/* Operations that push one value: literals, constants, register + offset, the CFA. Returns
 * 1 when op is one of them (and pushed), 0 when it is not, -1 on failure. */
static int push_operand(struct expr_vm *m, const Dwarf_Op *op)
{
	uint64_t v = 0;
	if (op->atom >= DW_OP_lit0 && op->atom <= DW_OP_lit31)
		return push(m, (uint64_t)(op->atom - DW_OP_lit0)) ? 1 : -1;
	if ((op->atom >= DW_OP_breg0 && op->atom <= DW_OP_breg31) || op->atom == DW_OP_bregx) {
		unsigned r = op->atom == DW_OP_bregx ? (unsigned)op->number
						     : (unsigned)(op->atom - DW_OP_breg0);
		uint64_t off = op->atom == DW_OP_bregx ? op->number2 : op->number;
		if (!reg_value(m, r, &v))
			return -1;
		/* offsets are signed; unsigned wrap-around adds them right */
		return push(m, v + off) ? 1 : -1;
	}
	switch (op->atom) {
	case DW_OP_addr:
	case DW_OP_const1u: case DW_OP_const1s: case DW_OP_const2u: case DW_OP_const2s:
	case DW_OP_const4u: case DW_OP_const4s: case DW_OP_const8u: case DW_OP_const8s:
	case DW_OP_constu: case DW_OP_consts:
		/* libdw already sign-extended the signed forms into number */
		return push(m, op->number) ? 1 : -1;
	case DW_OP_call_frame_cfa:
		if (!m->has_cfa)
			return fail(m, "CFA expression refers to the CFA"), -1;
		return push(m, m->cfa) ? 1 : -1;
	default:
		return 0;
	}
}

/* Operations that rearrange the stack. Same returns as push_operand. */
static int stack_op(struct expr_vm *m, const Dwarf_Op *op)
{
	uint64_t *st = m->st, a;
	size_t sp = m->sp;
	switch (op->atom) {
	case DW_OP_dup:
		return need(m, 1) && push(m, st[sp - 1]) ? 1 : -1;
	case DW_OP_drop:
		if (!need(m, 1))
			return -1;
		m->sp--;
		return 1;
	case DW_OP_over:
		return need(m, 2) && push(m, st[sp - 2]) ? 1 : -1;
	case DW_OP_pick:
		if (op->number >= sp)
			return fail(m, "DW_OP_pick beyond the expression stack"), -1;
		return push(m, st[sp - 1 - op->number]) ? 1 : -1;
	case DW_OP_swap:
		if (!need(m, 2))
			return -1;
		a = st[sp - 1];
		st[sp - 1] = st[sp - 2];
		st[sp - 2] = a;
		return 1;
	case DW_OP_rot:
		if (!need(m, 3))
			return -1;
		a = st[sp - 1];
		st[sp - 1] = st[sp - 2];
		st[sp - 2] = st[sp - 3];
		st[sp - 3] = a;
		return 1;
	default:
		return 0;
	}
}

/* DW_OP_deref / deref_size: a load, from the stack snapshot only. */
static bool deref(struct expr_vm *m, const Dwarf_Op *op)
{
	size_t size = op->atom == DW_OP_deref ? 8 : (size_t)op->number;
	uint64_t v;
	if (!need(m, 1))
		return false;
	if (!unw_snapshot_read(m->snap, m->st[m->sp - 1], size, &v))
		return fail(m, "read of %zu bytes at 0x%llx is outside the stack snapshot", size,
			    (unsigned long long)m->st[m->sp - 1]);
	m->st[m->sp - 1] = v;
	return true;
}

/* Operations on the top of the stack. Same returns as push_operand. */
static int unary_op(struct expr_vm *m, const Dwarf_Op *op)
{
	switch (op->atom) {
	case DW_OP_plus_uconst:
	case DW_OP_neg:
	case DW_OP_not:
	case DW_OP_abs:
		break;
	default:
		return 0;
	}
	if (!need(m, 1))
		return -1;
	uint64_t *top = &m->st[m->sp - 1];
	switch (op->atom) {
	case DW_OP_plus_uconst: *top += op->number; break;
	case DW_OP_neg: *top = -*top; break;
	case DW_OP_not: *top = ~*top; break;
	default: if ((int64_t)*top < 0) *top = -*top; break;
	}
	return 1;
}

/* Operations on the two top entries (a below b), the result replacing both. Same returns as
 * push_operand. */
static int binary_op(struct expr_vm *m, const Dwarf_Op *op)
{
	switch (op->atom) {
	case DW_OP_plus: case DW_OP_minus: case DW_OP_mul: case DW_OP_and: case DW_OP_or:
	case DW_OP_xor: case DW_OP_shl: case DW_OP_shr: case DW_OP_shra: case DW_OP_div:
	case DW_OP_mod: case DW_OP_eq: case DW_OP_ne: case DW_OP_lt: case DW_OP_gt:
	case DW_OP_le: case DW_OP_ge:
		break;
	default:
		return 0;
	}
	if (!need(m, 2))
		return -1;
	uint64_t b = m->st[--m->sp]; /* top */
	uint64_t a = m->st[m->sp - 1], v;
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
		if (b == 0)
			return fail(m, "division by zero in DWARF expression"), -1;
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
	m->st[m->sp - 1] = v;
	return 1;
}

/* DW_OP_skip, and DW_OP_bra when the popped value is not zero: sets the next operation. */
static bool branch(struct expr_vm *m, const Dwarf_Op *op)
{
	if (op->atom == DW_OP_bra) {
		if (!need(m, 1))
			return false;
		if (m->st[--m->sp] == 0)
			return true;
	}
	/* the operand is relative to the end of this 3-byte operation */
	uint64_t target = op->offset + 3 + (uint64_t)(int64_t)(int16_t)op->number;
	if (target > m->ops[m->nops - 1].offset) {
		/* forward past the last operation: the end of the expression */
		m->next = m->nops;
		return true;
	}
	if (!find_op_at(m->ops, m->nops, target, &m->next))
		return fail(m, "DWARF branch to offset %llu outside the expression",
			    (unsigned long long)target);
	return true;
}

/* Executes operation m->next and moves on. */
static bool step(struct expr_vm *m)
{
	const Dwarf_Op *op = m->op = &m->ops[m->next++];
	int done;
	if ((done = push_operand(m, op)) != 0 || (done = stack_op(m, op)) != 0 ||
	    (done = unary_op(m, op)) != 0 || (done = binary_op(m, op)) != 0)
		return done > 0;
	switch (op->atom) {
	case DW_OP_nop:
		return true;
	case DW_OP_deref:
	case DW_OP_deref_size:
		return deref(m, op);
	case DW_OP_skip:
	case DW_OP_bra:
		return branch(m, op);
	case DW_OP_stack_value:
		m->is_value = true;
		m->next = m->nops; /* must be the last operation */
		return true;
	default:
		return fail(m, "unsupported DWARF operation 0x%x in CFI", op->atom);
	}
}

bool unw_expr_eval(const Dwarf_Op *ops, size_t nops, const struct unw_regs *regs,
		   bool has_cfa, uint64_t cfa, const struct sut_stack_snapshot *snap,
		   uint64_t *result, enum unw_expr_kind *kind, char *why, size_t whylen)
{
	struct expr_vm m = {.ops = ops, .nops = nops, .regs = regs, .has_cfa = has_cfa,
			    .cfa = cfa, .snap = snap, .why = why, .whylen = whylen};
	if (nops == 0)
		return fail(&m, "empty DWARF expression");
	if (is_register_location(ops, nops)) {
		unsigned r = ops[0].atom == DW_OP_regx ? (unsigned)ops[0].number
						       : (unsigned)(ops[0].atom - DW_OP_reg0);
		if (!reg_value(&m, r, result))
			return false;
		*kind = UNW_EXPR_VALUE;
		return true;
	}
	for (size_t steps = 0; m.next < nops; steps++) {
		if (steps >= EXPR_STEPS_MAX)
			return fail(&m, "DWARF expression does not terminate");
		if (!step(&m))
			return false;
	}
	if (m.sp == 0)
		return fail(&m, "DWARF expression left no value");
	*result = m.st[m.sp - 1];
	*kind = m.is_value ? UNW_EXPR_VALUE : UNW_EXPR_MEMORY;
	return true;
}
