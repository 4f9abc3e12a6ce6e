/* SPDX-License-Identifier: Apache-2.0 */
/* The `unwind` layer: return addresses of a stopped thread, from CFI (.eh_frame).
 *
 * Works on a copy: the caller reads each thread's registers and the live part of its stack
 * in bulk while the process is frozen and passes them here; unwinding then runs locally with
 * no further ptrace call. CFI is parsed once per object (cached by build-id inside the
 * unwinder), so unwinding a thousand threads of one library parses it once.
 *
 * Invariant: the unwinder never claims a stack is complete when it is not: when CFI is
 * missing or a read falls outside the snapshot, it stops, returns the frames it is sure of
 * and reports complete = false with the stack pointer where it stopped, so the caller can
 * fall back to a conservative scan of the rest. The CFI row of each address is cached
 * (it depends on the object's bytes alone); the rules are applied to each thread's own
 * registers and stack, so a cached row gives the same walk as a fresh lookup. */
#ifndef SUTURE_UNWIND_UNWIND_H
#define SUTURE_UNWIND_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/user.h>

#include "util/err.h"

struct sut_unwinder;

/* An object mapped in the process, as the unwinder needs it. */
struct sut_unwind_module {
	uint64_t lo, hi;      /* address span (all its mappings) */
	uint64_t bias;        /* load bias */
	const char *path;     /* a path that opens the file, e.g. /proc/PID/map_files/... */
	const uint8_t *build_id;
	size_t build_id_len;  /* 0: no caching across processes for this module */
};

/* Memory copied from the process: [base, base + len). */
struct sut_stack_snapshot {
	uint64_t base;
	const uint8_t *data;
	size_t len;
};

struct sut_unwind_result {
	uint64_t *pcs; /* pcs[0] is the thread's PC, then return addresses, innermost first */
	size_t n;
	bool complete;      /* reached the outermost frame (CFI said so, or PC 0) */
	uint64_t stop_sp;   /* when incomplete: the stack pointer of the last frame reached */
	char stop_reason[256]; /* when incomplete: why the unwind stopped (for messages) */
};

/* One unwinder holds the parsed CFI; it is not safe to share between threads of the tool
 * (libdw's CFI lookups keep unlocked caches): use one per thread. */
struct sut_unwinder *sut_unwinder_new(void);
void sut_unwinder_free(struct sut_unwinder *u);
/* Number of objects whose CFI the unwinder holds (cached by build-id). */
size_t sut_unwinder_cached(const struct sut_unwinder *u);
/* Opens and caches the CFI of every module with a build-id that the unwinder does not
 * hold yet (at most max of them), so that a walk made later, inside a freeze, finds them
 * open. A module that cannot be opened is left for the walk, which says why. Returns the
 * number opened now. */
size_t sut_unwinder_prepare(struct sut_unwinder *u, const struct sut_unwind_module *mods,
			    size_t nmods, size_t max);
/* The CFI rows the unwinder keeps, per lookup address of an object cached by build-id:
 * the row of an address depends on the file alone, so threads (and processes) at the
 * same address share it. hits: lookups the cache answered; misses: those that read the
 * tables (of objects cached by build-id; objects opened for one call are not counted). */
struct sut_unwinder_rows {
	size_t rows;
	uint64_t hits, misses;
};
void sut_unwinder_rows(const struct sut_unwinder *u, struct sut_unwinder_rows *r);

/* Unwinds at most max frames (max >= 1). out->pcs is allocated (free() it).
 * Returns -1 only for invalid arguments; a stack that cannot be unwound to its end is
 * not an error: it returns 0 with complete = false, stop_sp and stop_reason set.
 * Modules with a build-id are opened once and kept in u; modules without one are opened
 * for this call only. No ptrace call is made: every memory read comes from `stack`. */
int sut_unwind_thread(struct sut_unwinder *u, const struct sut_unwind_module *mods,
		      size_t nmods, const struct user_regs_struct *regs,
		      const struct sut_stack_snapshot *stack, size_t max,
		      struct sut_unwind_result *out, struct sut_err *err);

/* The same for a thread known only by its PC and stack pointer (one asleep in a system
 * call, seen through /proc/PID/task/TID/syscall without being stopped): every other
 * register is unknown, so a frame whose CFI needs one ends the walk (complete = false),
 * and the caller scans the rest. Registers CFI finds saved on the stack are recovered. */
int sut_unwind_thread_pc_sp(struct sut_unwinder *u, const struct sut_unwind_module *mods,
			    size_t nmods, uint64_t pc, uint64_t sp,
			    const struct sut_stack_snapshot *stack, size_t max,
			    struct sut_unwind_result *out, struct sut_err *err);

#endif
