/* SPDX-License-Identifier: Apache-2.0 */
/* A classic-BPF evaluator for seccomp filters, over a `struct seccomp_data` some of whose
 * words may be unknown (a file descriptor the kernel has not chosen yet, an address the
 * kernel will pick). Pure: no process, no system call.
 *
 * Why unknown words: suture checks a whole sequence of remote calls before making the
 * first one, so that a refusal changes nothing; some arguments of later calls are results
 * of earlier ones. A conditional jump on an unknown value follows both branches, and the
 * answer is the action of highest precedence over every path: "allowed" then means allowed
 * for every value the unknown words could take. Classic BPF only jumps forward, so every
 * path ends; the number of paths is bounded (a filter that branches on unknown values
 * more than that answers "cannot determine", which the caller treats as a refusal).
 *
 * The instruction set is the one the kernel accepts for seccomp (seccomp_check_filter):
 * loads of 32-bit words of seccomp_data (aligned, in bounds) and of its length,
 * immediates, scratch memory, ALU, jumps, returns, TAX/TXA. Anything else, a jump or a
 * fall past the end, or an out-of-bounds load makes the program invalid: the kernel would
 * not have installed it, so meeting one means something is wrong and nothing is guessed. */
#include "ptrace/ptrace.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>

#define PATH_BUDGET 4096u

struct val {
	uint32_t v;
	bool known;
};

struct state {
	struct val a, x, mem[BPF_MEMWORDS];
};

struct eval {
	const struct sock_filter *prog;
	size_t len;
	const uint32_t *words;  /* seccomp_data as 16 words */
	uint32_t unknown;       /* bit i: word i unknown */
	unsigned paths;
	bool any;               /* an action was found */
	uint32_t worst;
	const char *why;        /* set when the program cannot be evaluated */
};

bool sut_seccomp_action_precedes(uint32_t a, uint32_t b)
{
	/* The kernel keeps the action whose full action field is lowest as a signed 32-bit
	 * value (KILL_PROCESS, KILL_THREAD, TRAP, ERRNO, USER_NOTIF, TRACE, LOG, ALLOW). */
	return (int32_t)(a & SECCOMP_RET_ACTION_FULL) < (int32_t)(b & SECCOMP_RET_ACTION_FULL);
}

static void found(struct eval *e, uint32_t action)
{
	if (!e->any || sut_seccomp_action_precedes(action, e->worst))
		e->worst = action;
	e->any = true;
}

static struct val known(uint32_t v)
{
	return (struct val){v, true};
}

static const struct val unknown = {0, false};

/* Result of an ALU operation; false when the program is invalid (a constant zero divisor
 * is refused by the kernel's checker). A division by a zero X makes the filter return 0. */
static bool alu(uint16_t code, struct val *a, struct val src, bool *ret0)
{
	uint16_t op = BPF_OP(code);
	if (op == BPF_NEG) {
		*a = a->known ? known(-a->v) : unknown;
		return true;
	}
	if (BPF_SRC(code) == BPF_K && (op == BPF_DIV || op == BPF_MOD) && src.v == 0)
		return false;
	if (src.known && src.v == 0 && (op == BPF_DIV || op == BPF_MOD)) {
		*ret0 = true;
		return true;
	}
	if (!a->known || !src.known || ((op == BPF_LSH || op == BPF_RSH) && src.v >= 32)) {
		*a = unknown; /* (a shift by 32 or more is undefined in the kernel's JIT) */
		return true;
	}
	uint32_t x = a->v, y = src.v;
	switch (op) {
	case BPF_ADD: x += y; break;
	case BPF_SUB: x -= y; break;
	case BPF_MUL: x *= y; break;
	case BPF_DIV: x /= y; break;
	case BPF_MOD: x %= y; break;
	case BPF_OR: x |= y; break;
	case BPF_AND: x &= y; break;
	case BPF_XOR: x ^= y; break;
	case BPF_LSH: x <<= y; break;
	case BPF_RSH: x >>= y; break;
	default: return false;
	}
	*a = known(x);
	return true;
}

/* Whether the jump condition holds: 1 yes, 0 no, -1 depends on an unknown value. */
static int cond(uint16_t code, struct val a, struct val src)
{
	if (!a.known || !src.known)
		return -1;
	switch (BPF_OP(code)) {
	case BPF_JEQ: return a.v == src.v;
	case BPF_JGT: return a.v > src.v;
	case BPF_JGE: return a.v >= src.v;
	case BPF_JSET: return (a.v & src.v) != 0;
	default: return -1;
	}
}

static void run(struct eval *e, size_t pc, struct state s);

static void branch(struct eval *e, size_t pc, const struct state *s)
{
	if (e->why)
		return;
	if (++e->paths > PATH_BUDGET) {
		e->why = "the filter branches on unknown values too often to evaluate";
		return;
	}
	run(e, pc, *s);
}

static void run(struct eval *e, size_t pc, struct state s)
{
	while (!e->why) {
		if (pc >= e->len) {
			e->why = "the program runs past its end";
			return;
		}
		const struct sock_filter *in = &e->prog[pc];
		uint16_t code = in->code;
		uint32_t k = in->k;
		switch (BPF_CLASS(code)) {
		case BPF_LD:
		case BPF_LDX: {
			struct val *dst = BPF_CLASS(code) == BPF_LD ? &s.a : &s.x;
			if (code == (BPF_LD | BPF_W | BPF_ABS)) {
				if (k >= sizeof(struct seccomp_data) || (k & 3)) {
					e->why = "a load outside struct seccomp_data";
					return;
				}
				*dst = e->unknown & (1u << (k / 4)) ? unknown : known(e->words[k / 4]);
			} else if (code == (BPF_LD | BPF_W | BPF_LEN) ||
				   code == (BPF_LDX | BPF_W | BPF_LEN)) {
				*dst = known(sizeof(struct seccomp_data));
			} else if (code == (BPF_LD | BPF_IMM) || code == (BPF_LDX | BPF_IMM)) {
				*dst = known(k);
			} else if (code == (BPF_LD | BPF_MEM) || code == (BPF_LDX | BPF_MEM)) {
				if (k >= BPF_MEMWORDS) {
					e->why = "a scratch-memory index out of range";
					return;
				}
				*dst = s.mem[k];
			} else {
				e->why = "a load the kernel does not accept in seccomp";
				return;
			}
			pc++;
			break;
		}
		case BPF_ST:
		case BPF_STX:
			if (code != BPF_ST && code != BPF_STX) {
				e->why = "an invalid store";
				return;
			}
			if (k >= BPF_MEMWORDS) {
				e->why = "a scratch-memory index out of range";
				return;
			}
			s.mem[k] = code == BPF_ST ? s.a : s.x;
			pc++;
			break;
		case BPF_ALU: {
			struct val src = BPF_SRC(code) == BPF_X ? s.x : known(k);
			bool ret0 = false;
			uint16_t op = BPF_OP(code);
			bool maybe_zero = (op == BPF_DIV || op == BPF_MOD) && !src.known;
			if (!alu(code, &s.a, src, &ret0)) {
				e->why = "an invalid ALU instruction";
				return;
			}
			if (ret0) { /* division by a zero X: the filter returns 0 */
				found(e, 0);
				return;
			}
			if (maybe_zero)
				found(e, 0); /* the unknown divisor may be zero */
			pc++;
			break;
		}
		case BPF_JMP: {
			if (BPF_OP(code) == BPF_JA) {
				if (k >= e->len - pc - 1) {
					e->why = "a jump past the end";
					return;
				}
				pc += 1 + k;
				break;
			}
			if (BPF_OP(code) != BPF_JEQ && BPF_OP(code) != BPF_JGT &&
			    BPF_OP(code) != BPF_JGE && BPF_OP(code) != BPF_JSET) {
				e->why = "an invalid jump";
				return;
			}
			if ((size_t)in->jt >= e->len - pc - 1 || (size_t)in->jf >= e->len - pc - 1) {
				e->why = "a jump past the end";
				return;
			}
			struct val src = BPF_SRC(code) == BPF_X ? s.x : known(k);
			int c = cond(code, s.a, src);
			if (c < 0) {
				branch(e, pc + 1 + in->jt, &s);
				pc += 1 + in->jf;
			} else {
				pc += 1 + (c ? in->jt : in->jf);
			}
			break;
		}
		case BPF_RET:
			if (BPF_RVAL(code) == BPF_K) {
				found(e, k);
			} else if (BPF_RVAL(code) == BPF_A && s.a.known) {
				found(e, s.a.v);
			} else {
				e->why = BPF_RVAL(code) == BPF_A
						 ? "the filter returns a value computed from unknown "
						   "arguments"
						 : "an invalid return";
			}
			return;
		case BPF_MISC:
			if (BPF_MISCOP(code) == BPF_TAX)
				s.x = s.a;
			else if (BPF_MISCOP(code) == BPF_TXA)
				s.a = s.x;
			else {
				e->why = "an invalid instruction";
				return;
			}
			pc++;
			break;
		default:
			e->why = "an invalid instruction class";
			return;
		}
	}
}

int sut_seccomp_eval(const struct sock_filter *prog, size_t len, const struct seccomp_data *d,
		     uint32_t unknown_words, uint32_t *action, struct sut_err *err)
{
	if (len == 0 || len > BPF_MAXINSNS)
		return sut_errf(err, "seccomp filter of %zu instructions is invalid", len);
	uint32_t words[sizeof(struct seccomp_data) / 4];
	memcpy(words, d, sizeof words);
	struct eval e = {.prog = prog, .len = len, .words = words, .unknown = unknown_words};
	struct state s;
	memset(&s, 0, sizeof s);
	for (size_t i = 0; i < BPF_MEMWORDS; i++)
		s.mem[i] = known(0);
	s.a = s.x = known(0);
	run(&e, 0, s);
	if (e.why)
		return sut_errf(err, "seccomp filter cannot be evaluated: %s", e.why);
	*action = e.worst;
	return 0;
}

const char *sut_seccomp_action_name(uint32_t action)
{
	switch (action & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_KILL_PROCESS: return "SECCOMP_RET_KILL_PROCESS";
	case SECCOMP_RET_KILL_THREAD: return "SECCOMP_RET_KILL_THREAD";
	case SECCOMP_RET_TRAP: return "SECCOMP_RET_TRAP";
	case SECCOMP_RET_ERRNO: return "SECCOMP_RET_ERRNO";
	case SECCOMP_RET_USER_NOTIF: return "SECCOMP_RET_USER_NOTIF";
	case SECCOMP_RET_TRACE: return "SECCOMP_RET_TRACE";
	case SECCOMP_RET_LOG: return "SECCOMP_RET_LOG";
	case SECCOMP_RET_ALLOW: return "SECCOMP_RET_ALLOW";
	default: return "an unknown seccomp action (the kernel kills the process)";
	}
}

bool sut_seccomp_action_allows(uint32_t action)
{
	uint32_t a = action & SECCOMP_RET_ACTION_FULL;
	return a == SECCOMP_RET_ALLOW || a == SECCOMP_RET_LOG;
}
