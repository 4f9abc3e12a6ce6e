/* SPDX-License-Identifier: Apache-2.0 */
/* The consistency rule (DESIGN.md invariant 2), checked on a frozen process.
 *
 * For each thread: its PC and every return address on its stack (unwound with CFI; where
 * CFI gives out, every word of the rest of the stack is treated as a possible return
 * address, which can only over-report) must lie outside the given ranges. Internal to the
 * apply layer. */
#ifndef SUTURE_APPLY_CONSISTENCY_H
#define SUTURE_APPLY_CONSISTENCY_H

#include <stdbool.h>
#include <stdint.h>

#include "proc/proc.h"
#include "ptrace/ptrace.h"
#include "util/err.h"

struct sut_range {
	uint64_t lo, hi;  /* [lo, hi) */
	const char *what; /* function name for messages */
	bool pc_only;     /* per-call rule: the bytes a jump overwrites, past the first. No PC,
			     return address or PC saved in a signal frame may point into them
			     (execution would resume inside the jump); activations elsewhere in
			     the function are fine */
};

struct sut_blocker {
	pid_t tid;
	uint64_t addr;
	const char *what; /* a range's what, or b->text; valid as long as the ranges and b are */
	char text[160];   /* what, when no range names it (a process sharing the memory) */
	bool is_pc; /* the thread is executing there (else: a return address) */
	bool entry; /* inside the bytes a jump overwrites (per-call rule) */
};

/* 0: no thread is inside any range. 1: blocked, *b says by what. -1: error. 2 (partial
 * freeze): a thread left asleep seems to block, judged from its PC, stack pointer and
 * stack alone: it must be judged again on its full registers (the full freeze). */
int sut_check_consistency(const struct sut_freeze *f, const struct sut_maps *maps,
			  const struct sut_objects *objs, const struct sut_range *r, size_t nr,
			  struct sut_blocker *b, struct sut_err *err);

/* Opens the CFI of the objects of objs for this tool thread's unwinder now, before a
 * freeze, so that the check inside it does not (a suture command is a new process: it
 * opened each object a stack touched, libc first, with every thread stopped). */
void sut_check_prepare(const struct sut_objects *objs);

/* Invariant 7 covers every thread that runs in the process's memory, and a process can share
 * it without being one of its threads: a child made with CLONE_VM (vfork) runs in its
 * parent's memory until it execs or exits, and the target may itself be such a child, or
 * one of several. 0 when no other process shares pid's memory (kcmp KCMP_VM against its
 * parent, children and siblings: see consistency.c for what that covers); 1 (blocked: *b names the sharer and how it is related; the caller retries)
 * when one does; -1 on error. */
int sut_check_shared_memory(pid_t pid, struct sut_blocker *b, struct sut_err *err);

#endif
