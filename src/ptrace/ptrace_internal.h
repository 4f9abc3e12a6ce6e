/* SPDX-License-Identifier: Apache-2.0 */
/* Pieces of the ptrace layer shared between its files; not a contract for other layers.
 *
 *   freeze.c          the full freeze (and the stop of the non-sleepers of a partial one)
 *   sleepers.c        sampling a thread asleep in a system call without stopping it
 *   sleeper_guard.c   the helper thread that seizes sleepers without waking them
 *   freeze_sleepers.c the partial freeze
 *   code_write.c      writing entry bytes under either freeze
 *   mem_write.c       /proc/PID/mem writes, with one descriptor pinned during a freeze
 *   thaw.c            resuming, and the one release of a stopped thread
 *   remote_frame.c    the way home of a thread borrowed for remote system calls */
#ifndef SUTURE_PTRACE_PTRACE_INTERNAL_H
#define SUTURE_PTRACE_PTRACE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ptrace/ptrace.h"

/* --- remote_frame.c --- */

/* Writes below stopped thread t's stack (t->regs as found at its stop, mask its signal
 * mask) the signal frame that brings it back to that state through site's `syscall; ret`
 * and rt_sigreturn if suture dies while the thread is borrowed; *sp: the stack pointer
 * the calls are to run with. -1 (err says why) when no frame can be written: nothing was written then, or only
 * stack memory below the red zone that nothing of the program holds. */
int ptr_remote_frame(pid_t pid, struct sut_thread *t, const struct sut_syscall_site *site,
		     uint64_t mask, uint64_t *sp, struct sut_err *err);

/* --- freeze.c --- */

struct ptr_guard;

/* sut_ptrace_freeze, except that the threads in skip (traced by guard, which also traces
 * what they create) are neither seized nor waited for, and an empty stopped set is not an
 * error when skip is not. */
int ptr_freeze_except(pid_t pid, int timeout_ms, const pid_t *skip, size_t nskip,
		      struct ptr_guard *guard, struct sut_freeze *out, struct sut_err *err);
/* Whether tid is a thread this tool thread interrupted and could not release yet. */
bool ptr_is_leftover(pid_t tid);
/* From the first interrupt to the last detach of a thread it stopped, this tool thread
 * runs at a raised priority: SCHED_FIFO 1 (nice -20 when FIFO is refused), only when it
 * may (root or CAP_SYS_NICE; otherwise nothing changes), and only from the normal
 * policy; under a partial freeze the guard's helper with it (ptr_guard_boost). True with
 * what to put back in *was. */
bool ptr_boost(int *was);
void ptr_unboost(int was);
/* Scheduler state letter of a thread ('R', 'S', 'D', 'T', 'Z'...), '?' when unreadable. */
char ptr_thread_state(pid_t pid, pid_t tid);

/* --- sleepers.c --- */

/* What one look at a thread asleep in a system call saw. */
struct ptr_sample {
	pid_t tid;
	int sched_fd;        /* /proc/PID/task/TID/schedstat, kept open for the second look */
	char sched[96];      /* its content at the first look */
	long nr;             /* system call number */
	uint64_t pc, sp;
	bool afresh;         /* a later look (ptr_sleepers_afresh), taken once an int3 of
				suture's was in place: the thread ran while one was */
};

/* 1: tid is asleep in a system call it may be left in (s filled, s->sched_fd open);
 * 0: it must be stopped (running, stopped, traced, not in a call, in a call that creates
 * or replaces a process or its memory, unreadable); -1: it is gone. */
int ptr_sample(pid_t pid, pid_t tid, struct ptr_sample *s);
/* Parsers of the /proc lines a look reads (pure: the text is the target's kernel's, but
 * bounded and checked all the same). */
/* What the status file says of a thread: State letter, private pending and blocked sets;
 * the shared pending set, the tracer and the seccomp mode when the file has them (the one
 * reader of that file in this layer: the look, the thaw, the freeze's refusal message and
 * the seccomp check). */
struct ptr_status {
	char state;
	uint64_t sigpnd, sigblk;
	bool has_shdpnd;
	uint64_t shdpnd;
	long tracer;  /* TracerPid; -1 when absent or malformed */
	int seccomp;  /* Seccomp: 0 none, 1 strict, 2 filters; -1 when absent or malformed */
};
/* 0 when State, SigPnd and SigBlk were all found and well formed, -1 otherwise (ShdPnd,
 * TracerPid and Seccomp are optional: a malformed one counts as absent). */
int ptr_parse_status(const char *text, struct ptr_status *ps);
/* Reads and parses /proc/PID/task/TID/status: 0, or -1 (gone, unreadable, malformed). */
int ptr_status_read(pid_t pid, pid_t tid, struct ptr_status *ps);

/* Whether the thread has not been switched in since s was taken (see freeze_sleepers.c). */
bool ptr_sample_unchanged(const struct ptr_sample *s);
void ptr_sample_close(struct ptr_sample *s);

/* --- sleeper_guard.c --- */

struct ptr_guard;
/* Starts the helper thread and seizes every tid (PTRACE_SEIZE, no interrupt, with
 * TRACECLONE/FORK/VFORK/EXEC); then the helper takes the nice value `nice` (it inherits
 * the caller's background priority for the seizes, and must answer a trapped thread fast). -1 with err when the thread cannot start or a seize is
 * refused (EPERM: traced by another); a thread gone meanwhile is marked in gone[i]. */
struct ptr_guard *ptr_guard_start(pid_t pid, const pid_t *tids, size_t n, bool *gone,
				  int nice, struct sut_err *err);
/* The guard reaps nothing until ptr_guard_resume_reaping; returns how many threads of the
 * process it traces and has not seen exit. A thread the guard reaps leaves the kernel's
 * count of the process's threads at that moment: paused, the two counts move together
 * (the freeze's census compares them). */
size_t ptr_guard_pause_reaping(struct ptr_guard *g);
void ptr_guard_resume_reaping(struct ptr_guard *g);
/* Runs fn(ctx, i) for every i < n, in chunks taken by this thread and by the guard (which
 * joins within its poll interval, 100 us, and leaves its tracees waiting meanwhile), and
 * returns when every one is done. fn is called on two threads at once, never twice for
 * one i. For work done with threads held, on a machine with a second CPU: the second
 * look at a thousand sleepers (a read each) is done in about half the time. */
void ptr_guard_share(struct ptr_guard *g, void (*fn)(void *ctx, size_t i), void *ctx,
		     size_t n);
/* Threads of the process the guard caught being created (at most cap, into out). */
size_t ptr_guard_new_threads(struct ptr_guard *g, pid_t *out, size_t cap);
/* The guard treats an int3 stop at addr + 1 as its own from now on. */
void ptr_guard_expect_trap(struct ptr_guard *g, uint64_t addr);
/* A range of the process written during the freeze. */
struct ptr_range {
	uint64_t addr;
	size_t len;
};
/* What the end of a guard found (sleeper_guard.c, "the end"). */
struct ptr_guard_end {
	unsigned asleep;      /* threads that may have run, found asleep in a call: left so */
	unsigned interrupted; /* threads that may have run, interrupted before the end */
	unsigned late;        /* of them, threads found with an int3's SIGTRAP still to come */
	unsigned unresolved;  /* threads or children that neither stopped nor could be shown
				 safe within the bound (left to the kernel's detach) */
	uint64_t wait_ns;     /* time the end took */
};
/* Releases everything the guard holds (trapped threads back on their entry; a child
 * process forked meanwhile first gets the n ranges copied from the process, so that it
 * holds what its parent holds). If an int3 was ever expected, every thread that may have
 * run (the nwoke sleepers in woke[] that were switched in since their first look, and
 * what the guard saw stop or be created) is then left alone if it is asleep in a system
 * call, or else interrupted and released at its first stop with no SIGTRAP of suture's
 * pending, and the children (those in maybe[], and those
 * the guard saw created) are waited for. Then the helper thread ends (the kernel detaches
 * the sleepers that never ran, without waking them) and this waits until it is gone.
 * Must be called once every byte written is final. Returns the longest time a thread was
 * held by it, in ns; *end (may be NULL) says what the end found. */
uint64_t ptr_guard_stop(struct ptr_guard *g, const struct ptr_range *r, size_t n,
			const pid_t *woke, size_t nwoke, const pid_t *maybe, size_t nmaybe,
			struct ptr_guard_end *end);
/* A thread the guard holds at the tool thread's request. */
struct ptr_held_view {
	pid_t tid;
	bool gone;          /* exited before it stopped */
	uint64_t trap_addr; /* held on the int3 at this entry (it resumes there), or 0 */
	struct user_regs_struct regs; /* its registers at the stop */
};
/* Stops the n threads (seized by the guard) and holds them until the guard ends, where
 * they are released as a thaw releases a stopped thread (or, trapped on an int3, back on
 * the entry); fills out[i] for tids[i]. 0 when every one is held or gone; -1 when one did
 * not stop within ms (it is released at the end like the others). */
int ptr_guard_hold(struct ptr_guard *g, const pid_t *tids, size_t n, int ms,
		   struct ptr_held_view *out);
/* Whether an int3 was announced (ptr_guard_expect_trap) since the start. */
bool ptr_guard_armed(struct ptr_guard *g);
/* While the tool thread is raised (ptr_boost) the guard's helper is too (SCHED_FIFO 1),
 * so that neither waits for a CPU behind the target's threads; the helper goes back to
 * the normal policy (its nice value kept) once it has released the threads it held. */
void ptr_guard_boost(struct ptr_guard *g);

/* --- freeze_sleepers.c --- */

struct ptr_guard *ptr_sleepers_guard(const struct sut_sleepers *sl);
/* The sleepers whose look now differs from their last one (the first, or the one
 * ptr_sleepers_afresh put in its place), in *out (allocated; NULL when none); returns how
 * many. shared: the reads are shared with the guard (threads are held meanwhile);
 * otherwise this thread reads alone (at its low priority, nobody held: the guard, at the
 * normal priority, would take a CPU from the target). */
size_t ptr_sleepers_changed_all(const struct sut_sleepers *sl, pid_t **out, bool shared);
/* The k sleepers in tids ran since their last look: each is looked at afresh
 * (ptr_sample); those asleep again, at a PC that is not in_the_way (may be NULL), are
 * judged on that look by judge (view->asleep, the stack read while they sleep), and the
 * look then takes the place of the last one of each that has not been switched in since
 * it was taken (so the judgement was made on where it still is). Returns how many took
 * it; the others are in rest[] (*nrest, k at most). -1 when judge said no (none took
 * it). shared: the looks are shared with the guard, as in ptr_sleepers_changed_all. */
long ptr_sleepers_afresh(struct sut_sleepers *sl, pid_t pid, const pid_t *tids, size_t k,
			 bool (*in_the_way)(uint64_t pc, void *arg), void *arg,
			 int (*judge)(const struct sut_freeze *view, void *ctx), void *ctx,
			 pid_t *rest, size_t *nrest, bool shared);
/* Releases the sleepers (the guard ends), frees sl and unpins /proc/PID/mem. Returns the
 * longest time the guard held a thread, in ns; *end (may be NULL): what the end found. */
uint64_t ptr_sleepers_release(struct sut_sleepers *sl, pid_t pid, struct ptr_guard_end *end);

/* --- thaw.c --- */

/* Releases one thread stopped by this layer (in an interrupt, group or signal-delivery
 * stop, t->regs as read at that stop): a wait the stop ended with EINTR is issued again,
 * dirty registers are put back, and the detach carries the pending signal. Every detach
 * of a stopped thread goes through here: a successful thaw, a failed attempt, a staging
 * stop that gave up, a leftover that stopped later (invariant 5). Returns 0, -1 when the
 * detach failed, -2 when the registers could not be put back (the detach is still
 * tried), errno set. */
int ptr_release_stopped(pid_t pid, struct sut_thread *t);

/* --- mem_write.c --- */

/* Makes sut_ptrace_write(pid, ...) on this tool thread use one descriptor of
 * /proc/PID/mem opened now, until ptr_mem_unpin. */
int ptr_mem_pin(pid_t pid, struct sut_err *err);
void ptr_mem_unpin(void);
/* The ranges written through the pinned descriptor since ptr_mem_pin. */
const struct ptr_range *ptr_mem_written(size_t *n);

#endif
