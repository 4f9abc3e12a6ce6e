/* SPDX-License-Identifier: Apache-2.0 */
/* The `ptrace` layer: stopping every thread of a process, registers, remote system calls,
 * writing memory, resuming.
 *
 * Threads are attached with PTRACE_SEIZE and stopped with PTRACE_INTERRUPT (never SIGSTOP,
 * which the process could see). A freeze interrupts every known thread first, then collects
 * them, then re-reads /proc/PID/task until no new thread appears: once every known thread is
 * stopped nobody can create another, so the set is stable. Threads that exit meanwhile are
 * dropped.
 *
 * Invariant (DESIGN.md 5): a thaw leaves every thread as the freeze found it: registers
 * restored exactly (so a blocking syscall interrupted by the stop restarts in the kernel,
 * with no EINTR and no shortened sleep), a pending signal found in a signal-delivery-stop is
 * delivered on detach exactly once, a group-stopped process stays stopped. */
#ifndef SUTURE_PTRACE_PTRACE_H
#define SUTURE_PTRACE_PTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "proc/proc.h"
#include "util/err.h"

struct sut_thread {
	pid_t tid;
	struct user_regs_struct regs; /* as found at the stop; restored by thaw if changed */
	int pending_sig;   /* signal seen in a signal-delivery-stop, re-delivered on detach */
	bool group_stop;   /* the thread was in a group-stop (process stopped by SIGSTOP etc.) */
	bool regs_dirty;   /* regs in the kernel differ from .regs (set by remote syscalls) */
	int deferred_sig;  /* a signal the kernel dequeued while a remote syscall was being
			      driven (its delivery was suppressed then); delivered on detach */
	uint64_t held_since_ns; /* monotonic time suture seized it (start of its hold) */
	bool asleep;       /* left asleep by a partial freeze: not stopped, and only regs.rip
			      and regs.rsp are known (from /proc/PID/task/TID/syscall) */
};

struct sut_sleepers; /* the sleepers of a partial freeze and their guard (freeze_sleepers.c) */

/* Where the time of one freeze went, in ns (summed over the rounds of seize, collect and
 * list read that a freeze makes until its thread set is stable). The ptrace layer fills
 * the first six and thaw_ns; the transaction around it the others. For the benchmarks
 * (`--json`'s phases_us): a few clock reads, nothing else. */
struct sut_freeze_phases {
	uint64_t state_ns;     /* reading the state of threads before their seize ('D') */
	uint64_t seize_ns;     /* PTRACE_SEIZE of every thread (none is stopped by it) */
	uint64_t interrupt_ns; /* PTRACE_INTERRUPT of every thread */
	uint64_t collect_ns;   /* waiting for the stops, registers read */
	uint64_t list_ns;      /* reading /proc/PID/task, and the census */
	uint64_t rounds;       /* list reads (the first, and one per census that failed) */
	uint64_t census;       /* 1 when the census proved the set complete (no last read) */
	uint64_t maps_ns;      /* /proc/PID/maps read again under the freeze */
	uint64_t check_ns;     /* the consistency rule: stacks read, unwound */
	uint64_t work_ns;      /* the rest of the transaction's work under the freeze (its
				  checks of what it staged, the writes, the registry) */
	uint64_t thaw_ns;      /* every thread released */
	uint64_t woke;         /* partial freeze: sleepers found to have run at the second
				  looks of its writes */
	uint64_t afresh;       /* of them, judged asleep again on a fresh look */
	uint64_t stopped;      /* of them, stopped by the guard to be judged */
	uint64_t end_asleep;   /* the guard's end: threads that may have run, left asleep */
	uint64_t end_interrupted; /* the guard's end: threads it interrupted */
};

struct sut_freeze {
	pid_t pid;
	struct sut_thread *threads;
	size_t n;
	uint64_t stop_ns; /* monotonic time when the last thread was collected */
	pid_t stuck;      /* after a failed freeze: a thread that did not stop in time, or 0 */
	uint64_t held_max_ns; /* after thaw, or after a failed freeze or stop: the longest
				 time one thread was held, from its seize to its detach (a
				 thread left to the leftovers is not counted) */
	/* partial freeze only: threads left asleep (asleep = true), not stopped; NULL and 0
	   for the full freeze. Their guard is sl (see sut_ptrace_freeze_partial). */
	struct sut_thread *asleep;
	size_t nasleep;
	struct sut_sleepers *sl;
	pid_t woke[64]; /* after sut_freeze_write_code returned 1: sleepers that had run */
	size_t nwoke;
	bool asleep_checked; /* the consistency rule was checked on asleep[] by the partial
				freeze's check_asleep, before the stop */
	uint64_t stop_start_ns; /* partial freeze: just before the first thread was stopped
				   (the sampling and the sleepers' check before it hold nobody) */
	uint64_t released_ns; /* after thaw: when the last thread it stopped was released;
				 the release of the sleepers after it holds none of them but
				 those the guard stopped, whose holds are in held_max_ns */
	struct sut_freeze_phases ph;
	bool boosted;     /* this tool thread runs at a raised priority until the thaw
			     (freeze.c, ptr_boost) */
	int prio_was;     /* what to put back (ptr_unboost) */
	/* partial freeze, set by the caller (may stay NULL): judges the sleepers found awake
	   at the second look of sut_freeze_write_code, once the guard has stopped them, on
	   their full registers (view->threads, view->n; view->pid); 0 when none is in the
	   way. Without it, or when it says no, the write ends as when no judge is set
	   (returns 1). */
	int (*judge)(const struct sut_freeze *view, void *ctx);
	void *judge_ctx;
	size_t njudged; /* sleepers that ran, stopped and judged, by this freeze's writes */
	size_t nafresh; /* sleepers that ran, judged asleep again on a fresh look (not
			   stopped), by this freeze's writes */
};

/* Stops every thread of pid. On failure every thread already attached is released as it
 * was and the message names the thread and the reason (EPERM: "cannot trace: ..."; a thread
 * already traced by another debugger; timeout). timeout_ms bounds the whole operation.
 * A thread in an uninterruptible sleep ('D': vfork, some I/O) is not seized until it
 * leaves it; one that has not stopped by the deadline is named in out->stuck, and the
 * stopped threads are released at once. */
int sut_ptrace_freeze(pid_t pid, int timeout_ms, struct sut_freeze *out, struct sut_err *err);

/* The partial freeze (docs/architecture.md, "Sleeping threads stay asleep"): threads
 * asleep in a system call are sampled without being stopped (syscall file, switch counts),
 * seized without interrupt by a helper thread, and left asleep (out->asleep); every other
 * thread is stopped as by sut_ptrace_freeze (out->threads). Code written into the process
 * must then go through sut_freeze_write_code, which makes a sleeper that wakes trap
 * instead of running a half-written entry, and proves that none woke before the switch.
 * Every write through sut_ptrace_write to pid from this tool thread goes through one
 * /proc/PID/mem descriptor opened before the sample until the thaw (after an exec it
 * fails rather than write into the new program). Returns 0, or -1 with err set; 1 when a
 * sleeper changed while it was being seized (nothing is held: try again, or use the full
 * freeze). Threads that cannot be left asleep are stopped, so with no sleeper at all this
 * is the full freeze; so are the threads in stop_also (sleepers that woke during an earlier
 * attempt: they are likely to wake again). check_asleep (may be NULL) runs once the
 * sleepers are seized and before any other thread is stopped, on out->asleep (so that
 * checking a thousand sleepers holds nobody): non-zero ends the attempt with that value,
 * nothing held. */
int sut_ptrace_freeze_partial(pid_t pid, int timeout_ms, const pid_t *stop_also,
			      size_t nstop_also, struct sut_freeze *out, struct sut_err *err,
			      int (*check_asleep)(const struct sut_freeze *f, void *ctx),
			      void *ctx);

/* Whether a thread the partial freeze f left asleep runs under seccomp filters, or its
 * status cannot be read (either way: yes). A caller that will borrow one of them after the
 * freeze for a remote call cannot evaluate its filters now without stopping it; with no
 * filter at all, no call can be refused by one. Reads each sleeper's status file, stops
 * nobody; false for a full freeze (nobody left asleep). */
bool sut_freeze_sleepers_filtered(const struct sut_freeze *f);

/* One piece of code to write: len bytes (1..15) at addr. */
struct sut_code_write {
	uint64_t addr;
	const uint8_t *bytes;
	size_t len;
};

/* Writes every piece, all or nothing (on failure each byte already written is put back).
 * Full freeze: each piece in one write, as every thread is stopped. Partial freeze: an
 * int3 over the first byte of every piece, then every sleeper is sampled again, then the
 * other bytes, then the first ones; a sleeper caught by an int3 is held by the guard and
 * resumes on the piece once it is final. Sleepers that ran since they were sampled are
 * judged (f->judge): those asleep again on a fresh look taken after the int3s, where they
 * sleep (f->nafresh; they are not stopped); the others stopped by the guard, on their
 * full registers (f->njudged; they stay stopped until the thaw). Returns 0; 1 when a
 * sleeper ran since it was sampled and could not be judged, or was found in the way
 * (nothing is changed; f->woke lists those that ran, at most 64): the switch cannot be
 * proved safe; -1 on a write error (err set, everything put back that could be). look_again
 * false: no second look, for putting back bytes this freeze wrote (the int3 order still
 * applies). */
int sut_freeze_write_code(struct sut_freeze *f, const struct sut_code_write *w, size_t n,
			  bool look_again, struct sut_err *err);

/* Releases threads an earlier freeze of this tool thread interrupted but could not detach
 * (they were in the kernel, out of reach, when it gave up) as soon as they have stopped.
 * Every freeze, stop and thaw calls it first; a transaction calls it on its way out, and
 * the process waits for them (bounded) at exit. Each is released like a thaw releases a
 * thread: a wait its interrupt ended with EINTR is issued again. */
void sut_ptrace_release_leftovers(void);

/* Stops only thread tid of pid (for staging work that needs one thread, such as remote
 * mmap, while the others keep running). */
int sut_ptrace_stop_one(pid_t pid, pid_t tid, int timeout_ms, struct sut_freeze *out,
			struct sut_err *err);

/* Restores dirty registers and detaches every thread (a partial freeze's sleepers are
 * released by its guard, without waking them). Returns -1 if any thread could not be
 * released cleanly (it has then usually vanished); continues with the others regardless. */
int sut_ptrace_thaw(struct sut_freeze *f, struct sut_err *err);

/* Executes one system call in stopped thread index ti, using the `syscall` instruction at
 * insn_addr (an existing one, see sut_proc_find_syscall_insn: no code is written). The
 * thread's registers are restored before returning, so the call is invisible to it.
 * *ret is the raw kernel return (negative errno on failure). Returns -1 only when the
 * thread could not be driven (vanished, unexpected stop). */
int sut_ptrace_syscall(struct sut_freeze *f, size_t ti, uint64_t insn_addr, long nr,
		       const long args[6], long *ret, struct sut_err *err);

/* One call of a batch (sut_ptrace_syscalls): the arguments whose bit is set in from_ret
 * are the raw return of the earlier call `from` (a memfd's number, an address the kernel
 * chose); ret receives this call's raw return. */
struct sut_remote_call {
	long nr;
	long args[6];
	uint8_t from_ret;
	uint8_t from;
	long ret;
};
#define SUT_REMOTE_BATCH_MAX 8

/* Executes the calls in order in stopped thread ti, as sut_ptrace_syscall does one, but
 * borrowing the thread once: the seccomp filters judged for the whole batch before the
 * first call (arguments from earlier results unknown), signals blocked once, registers
 * restored once at the end. Where site allows (a `syscall; ret`, an rt_sigreturn
 * trampoline, the thread's stack known, its filters allowing rt_sigreturn), each call
 * runs from a syscall-entry stop to a syscall-exit stop with a way home written below
 * the thread's stack (remote_frame.c), so that a SIGKILL of suture at any moment leaves
 * the thread whole; otherwise by one single step each at site->insn (a SIGKILL while the
 * registers are borrowed then kills the thread: docs/architecture.md, "A killed
 * suture"). *kill_proof (may be NULL) tells which. Stops after the first call the kernel
 * fails (negative errno): *done counts the calls made, that one included. Returns -1
 * only when the thread could not be driven (*done says how far it got) or the filters
 * refuse (nothing made). */
int sut_ptrace_syscalls(struct sut_freeze *f, size_t ti, const struct sut_syscall_site *site,
			struct sut_remote_call *calls, size_t n, size_t *done, bool *kill_proof,
			struct sut_err *err);

/* Bytes below a borrowed thread's stack pointer the way home leaves alone: the ABI's
 * 128-byte red zone and the scratch area remote calls may take for their arguments. */
#define SUT_REMOTE_FRAME_GAP 512

/* Writes process memory through /proc/PID/mem, which also writes read-only code pages
 * (copy-on-write). All or error. */
int sut_ptrace_write(pid_t pid, uint64_t addr, const void *buf, size_t len, struct sut_err *err);

/* Index of the thread that may run remote syscalls (in a ptrace event-stop, not in a
 * signal-delivery-stop or group-stop), preferring the thread-group leader; -1 if none. */
long sut_freeze_syscall_thread(const struct sut_freeze *f);

void sut_freeze_free(struct sut_freeze *f);

/* CLOCK_MONOTONIC in ns. */
uint64_t sut_ptrace_now_ns(void);

/* ---- seccomp (DESIGN.md invariant 5: never kill the target, never inject a signal) ----
 *
 * A remote system call runs under the target thread's own seccomp filters: a filter that
 * kills, traps (SIGSYS), traces, notifies or fails it would kill the process, signal it or
 * leave it changed halfway. So before any remote call the thread's filters (read with
 * PTRACE_SECCOMP_GET_FILTER) are evaluated for exactly that call and its arguments, and
 * a sequence of calls is checked as a whole before its first call. Anything but ALLOW or
 * LOG, or a filter that cannot be read or evaluated, is a refusal. */

struct sock_filter;
struct seccomp_data;

/* One planned call: arguments whose bit is set in `unknown` are not known yet (the result
 * of an earlier call of the plan, or an address the kernel will choose): the filters must
 * allow the call for every value they could take. */
struct sut_syscall_plan {
	long nr;
	uint64_t args[6];
	uint8_t unknown;
	uint64_t insn; /* the `syscall` it is made from; 0: the check's insn_addr */
};

/* Evaluates one classic-BPF seccomp program on d; words of d (32-bit, index = byte offset
 * / 4) whose bit is set in unknown_words may hold any value. *action: the action of
 * highest precedence over every possible path. Pure. -1 when the program is invalid or
 * cannot be evaluated (err says why). */
int sut_seccomp_eval(const struct sock_filter *prog, size_t len, const struct seccomp_data *d,
		     uint32_t unknown_words, uint32_t *action, struct sut_err *err);
/* Whether action a takes precedence over b when several filters answer (kernel order). */
bool sut_seccomp_action_precedes(uint32_t a, uint32_t b);
/* ALLOW and LOG let the call run; everything else does not. */
bool sut_seccomp_action_allows(uint32_t action);
/* "SECCOMP_RET_KILL_PROCESS" and so on. */
const char *sut_seccomp_action_name(uint32_t action);
/* "memfd_create", or "system call N". */
const char *sut_syscall_name(long nr, char *buf, size_t cap);

/* Checks that the filters of stopped thread tid of pid allow every call of the plan when
 * made from the `syscall` instruction at insn_addr. 0: all allowed (or no filter); -1:
 * the message names the thread, the call and the action, or why the filters could not be
 * judged (unreadable: "cannot determine"). Reads only. */
int sut_seccomp_check(pid_t pid, pid_t tid, uint64_t insn_addr,
		      const struct sut_syscall_plan *calls, size_t n, struct sut_err *err);

#endif
