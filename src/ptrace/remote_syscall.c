/* SPDX-License-Identifier: Apache-2.0 */
/* Running system calls inside a stopped thread, invisibly to it.
 *
 * The thread must be in our interrupt stop (every remote batch leaves it in one again):
 * it sits in the kernel's signal path before the syscall-restart decision. We point rip
 * at an existing `syscall` instruction, load the arguments, set orig_rax = -1 so the
 * kernel does not apply restart logic to *our* registers, let the thread make the call,
 * read rax, and put the saved registers back. With them back, a blocking call the thread
 * was in (rax = -ERESTART..., orig_rax = its number) is restarted by the kernel when the
 * thread is resumed.
 *
 * Two ways to drive a call. The kill-proof one (when the process has the code for it,
 * proc_syscall_site.c): the calls run at a `syscall; ret` with rsp at a way home written
 * below the thread's stack (remote_frame.c), each from its syscall-entry stop to its
 * syscall-exit stop (PTRACE_SYSCALL), and the thread is brought back into an interrupt
 * stop *before* its registers are given back. At every moment the thread is in one of two
 * states: borrowed, with a way home that a dying suture leaves it to take (the call
 * completes, `ret` enters rt_sigreturn, the frame puts everything back), or its own
 * registers in an interrupt stop, as the freeze left it. The fallback (no such code, a
 * temporary signal mask, a shadow stack, filters that forbid rt_sigreturn): one single
 * step per call, whose trap flag and borrowed registers a SIGKILL of suture leaves to
 * kill the thread (docs/architecture.md, "A killed suture").
 *
 * A batch (sut_ptrace_syscalls) makes several calls in one borrowing: each next call is
 * loaded from the stop that ended the one before, and the registers, the signal mask and
 * the stop state are given back once, after the last; the seccomp check, the one read of
 * /proc, and the frame come before the first.
 *
 * Signals: resuming the thread lets the kernel dequeue a pending signal before it reaches
 * our instruction. To keep such signals queued (with their siginfo) we block them for the
 * batch (single-stepped: all but SIGTRAP, since a forced step trap finding SIGTRAP
 * blocked would reset its disposition). The mask is blocked after the first call's
 * registers are loaded and given back before the registers, so that it is never changed
 * while the thread has its own registers and no way home. We cannot block for a thread
 * inside ppoll/pselect/epoll_pwait/sigsuspend with a temporary mask, because setting the
 * mask through ptrace drops the kernel's pending "restore the saved mask" step; those
 * threads are avoided when another is available, and when used, a signal dequeued
 * meanwhile is deferred and delivered on detach. */
#include "ptrace/ptrace.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "ptrace/ptrace_internal.h"
#include "util/fault.h"

/* Whether the thread may be inside a syscall that installed a temporary signal mask and
 * will restore the saved one on its way out (judged from its saved registers: the syscall
 * number and its mask argument). Conservative: a non-NULL mask argument counts. */
static bool has_temporary_sigmask(const struct user_regs_struct *r)
{
	switch ((long)r->orig_rax) {
	case SYS_rt_sigsuspend:
		return true;
	case SYS_ppoll:
		return r->r10 != 0;
	case SYS_pselect6:
	case SYS_io_pgetevents:
		return r->r9 != 0;
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
	case SYS_io_uring_enter:
		return r->r8 != 0;
	default:
		return false;
	}
}

/* A group-stopped thread can run a remote syscall too: under PTRACE_SEIZE a single step
 * resumes it, and the detach puts it back into the group stop (the kernel reinstates
 * the pending stop while the process's stop is in effect), so a SIGSTOPped process stays
 * stopped. Such threads are chosen last. */
static bool can_run_syscalls(const struct sut_thread *t)
{
	return !t->pending_sig;
}

long sut_freeze_syscall_thread(const struct sut_freeze *f)
{
	/* Best first: leader with a plain mask, any thread with a plain mask, then the rest;
	 * running threads before group-stopped ones. */
	for (int pass = 0; pass < 8; pass++) {
		for (size_t i = 0; i < f->n; i++) {
			const struct sut_thread *t = &f->threads[i];
			bool leader = t->tid == f->pid;
			bool plain = !has_temporary_sigmask(&t->regs);
			if (!can_run_syscalls(t) || t->group_stop != (pass >= 4))
				continue;
			int p = pass % 4;
			if ((p == 0 && leader && plain) || (p == 1 && plain) || (p == 2 && leader) ||
			    p == 3)
				return (long)i;
		}
	}
	return -1;
}

/* A signal the kernel dequeued while we drove the thread: its delivery was suppressed;
 * it is kept for the detach (the first as deferred_sig, a second as pending_sig, queued
 * again by the thaw). -1 when there are more. */
static int defer_signal(struct sut_freeze *f, struct sut_thread *t, int sig, struct sut_err *err)
{
	if (!t->deferred_sig)
		t->deferred_sig = sig;
	else if (!t->pending_sig && sig != t->deferred_sig)
		t->pending_sig = sig;
	else
		return sut_errf(err, "pid %d: thread %d: too many signals arrived during a remote "
				"syscall", (int)f->pid, (int)t->tid);
	return 0;
}

/* Waits for the next stop of t: 1 with *st when it stopped, -1 when it is gone. */
static int wait_stop(struct sut_freeze *f, struct sut_thread *t, int *st, struct sut_err *err)
{
	pid_t r;
	while ((r = waitpid(t->tid, st, __WALL)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return sut_errno(err, "pid %d: thread %d: waitpid", (int)f->pid, (int)t->tid);
	if (WIFEXITED(*st) || WIFSIGNALED(*st))
		return sut_errf(err, "pid %d: thread %d exited during a remote syscall",
				(int)f->pid, (int)t->tid);
	return 1;
}

/* A stop met on the way to the one awaited: a group stop is noted (the thread goes back
 * to it on detach), a signal deferred to the detach; any other stop is an error. */
static int absorb_stop(struct sut_freeze *f, struct sut_thread *t, int st, struct sut_err *err)
{
	int sig = WSTOPSIG(st), event = st >> 16;
	if (event == PTRACE_EVENT_STOP) {
		if (sig != SIGTRAP)
			t->group_stop = true;
		return 0;
	}
	if (event == 0)
		return defer_signal(f, t, sig, err);
	return sut_errf(err, "pid %d: thread %d: unexpected stop 0x%x during a remote syscall",
			(int)f->pid, (int)t->tid, st);
}

/* Resumes with a single step and waits for the step trap. Other stops met on the way are
 * absorbed: a signal-delivery-stop (only possible when signals could not be blocked) is
 * deferred to the detach, a group stop is noted (the thread goes back to it on detach). */
static int step_to_trap(struct sut_freeze *f, struct sut_thread *t, uint64_t insn_addr,
			struct sut_err *err)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		int st;
		if (ptrace(PTRACE_SINGLESTEP, t->tid, 0, 0) < 0)
			return sut_errno(err, "pid %d: thread %d: PTRACE_SINGLESTEP", (int)f->pid,
					 (int)t->tid);
		if (wait_stop(f, t, &st, err) < 0)
			return -1;
		int sig = WSTOPSIG(st), event = st >> 16;
		if (event == 0 && sig == SIGTRAP) {
			/* Our trap comes after the instruction; a SIGTRAP seen with rip still
			 * at the instruction is the program's own, dequeued first: defer it. */
			struct user_regs_struct now;
			if (ptrace(PTRACE_GETREGS, t->tid, 0, &now) < 0)
				return sut_errno(err, "pid %d: thread %d: PTRACE_GETREGS",
						 (int)f->pid, (int)t->tid);
			if (now.rip != insn_addr)
				return 0;
		}
		if (absorb_stop(f, t, st, err) < 0)
			return -1;
	}
	return sut_errf(err, "pid %d: thread %d: the remote syscall did not complete",
			(int)f->pid, (int)t->tid);
}

/* Resumes with PTRACE_SYSCALL until the thread is in the syscall stop op (entry or exit).
 * The freeze seizes with PTRACE_O_TRACESYSGOOD, so a syscall stop (SIGTRAP | 0x80) is
 * never taken for a SIGTRAP of the program's own; PTRACE_GET_SYSCALL_INFO tells entry
 * from exit. Before the entry stop the thread is still in the kernel's way back to user mode,
 * where a group stop or a signal (only when signals could not be blocked) may come
 * first: absorbed as by step_to_trap. */
static int to_syscall_stop(struct sut_freeze *f, struct sut_thread *t, uint8_t op,
			   struct sut_err *err)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		int st;
		if (ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0)
			return sut_errno(err, "pid %d: thread %d: PTRACE_SYSCALL", (int)f->pid,
					 (int)t->tid);
		if (wait_stop(f, t, &st, err) < 0)
			return -1;
		int sig = WSTOPSIG(st), event = st >> 16;
		if (event == 0 && sig == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info si;
			if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, sizeof si, &si) < 0)
				return sut_errno(err, "pid %d: thread %d: PTRACE_GET_SYSCALL_INFO",
						 (int)f->pid, (int)t->tid);
			if (si.op == op)
				return 0;
			return sut_errf(err, "pid %d: thread %d: a syscall stop (%d) where its "
					"%s was expected", (int)f->pid, (int)t->tid, (int)si.op,
					op == PTRACE_SYSCALL_INFO_EXIT ? "exit" : "entry");
		}
		if (absorb_stop(f, t, st, err) < 0)
			return -1;
	}
	return sut_errf(err, "pid %d: thread %d: the remote syscall did not complete",
			(int)f->pid, (int)t->tid);
}

/* Brings the thread back into an interrupt stop from the stop that ended the last call
 * (a step trap or a syscall-exit stop): PTRACE_INTERRUPT queues a trap stop, PTRACE_CONT
 * resumes the thread inside the kernel, where the queued trap stops it again in the
 * kernel's signal loop, before any signal is taken and before it can return to user mode:
 * the same interrupt stop the freeze put it in.
 *
 * Single-stepped, it also clears the step state. The step trap leaves the trap flag
 * forced on in the thread (TIF_SINGLESTEP and TIF_FORCED_TF on x86), cleared only by a
 * later resume or PTRACE_DETACH. If suture dies (SIGKILL) while the thread sits in that
 * stop, the kernel detaches it on the tracer's exit WITHOUT clearing the flag: the thread
 * runs one instruction of its own and dies of the SIGTRAP. So the registers are given back
 * first and this comes right after; what remains is a window of a few system calls
 * between the step trap and this PTRACE_CONT. Driven by syscall stops, the registers are
 * still borrowed here, with their way home: they are given back in the interrupt stop. */
static int to_interrupt_stop(struct sut_freeze *f, struct sut_thread *t, struct sut_err *err)
{
	if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
		return sut_errno(err, "pid %d: thread %d: PTRACE_INTERRUPT", (int)f->pid,
				 (int)t->tid);
	if (ptrace(PTRACE_CONT, t->tid, 0, 0) < 0)
		return sut_errno(err, "pid %d: thread %d: PTRACE_CONT", (int)f->pid, (int)t->tid);
	for (int rounds = 0; rounds < 64; rounds++) {
		int st;
		if (wait_stop(f, t, &st, err) < 0)
			return -1;
		int sig = WSTOPSIG(st), event = st >> 16;
		if (event == PTRACE_EVENT_STOP) {
			if (sig != SIGTRAP)
				t->group_stop = true;
			return 0;
		}
		/* not expected (the queued trap comes first), but a signal met here is
		 * deferred like those met during the call */
		if (event != 0)
			return sut_errf(err, "pid %d: thread %d: unexpected stop 0x%x after a "
					"remote syscall", (int)f->pid, (int)t->tid, st);
		if (defer_signal(f, t, sig, err) < 0)
			return -1;
		if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0 ||
		    ptrace(PTRACE_CONT, t->tid, 0, 0) < 0)
			return sut_errno(err, "pid %d: thread %d: cannot stop again", (int)f->pid,
					 (int)t->tid);
	}
	return sut_errf(err, "pid %d: thread %d: did not stop again after a remote syscall",
			(int)f->pid, (int)t->tid);
}

/* How a batch borrows its thread: the way home (home: the calls run with rsp = home_sp,
 * the frame's address) or single steps; the signal mask it had before the batch (read
 * once: have_mask false for a thread with a temporary mask, see has_temporary_sigmask),
 * and whether the batch blocked signals for it. */
struct borrow {
	bool home;
	uint64_t home_sp;
	bool have_mask, mask_blocked;
	uint64_t old_mask;
};

static void read_mask(struct sut_thread *t, struct borrow *b)
{
	b->have_mask = !has_temporary_sigmask(&t->regs) &&
		       ptrace(PTRACE_GETSIGMASK, t->tid, sizeof b->old_mask, &b->old_mask) == 0;
}

static void block_signals(struct sut_thread *t, struct borrow *b)
{
	uint64_t block = b->home ? ~0ULL : ~(1ULL << (SIGTRAP - 1));
	b->mask_blocked = b->have_mask &&
			  ptrace(PTRACE_SETSIGMASK, t->tid, sizeof block, &block) == 0;
}

/* Whether the process has the code of the way home and the thread a mask rt_sigreturn
 * can put back (remote_frame.c); the filters are judged with the batch. */
static bool home_possible(const struct sut_syscall_site *site, const struct borrow *b)
{
	return site->ret_follows && site->sigreturn && b->have_mask;
}

/* The frame written, when the way home is possible and allowed (b->home). */
static void choose_way(struct sut_freeze *f, struct sut_thread *t,
		       const struct sut_syscall_site *site, bool allowed, struct borrow *b)
{
	struct sut_err ignored;
	b->home = allowed && home_possible(site, b) &&
		  ptr_remote_frame(f->pid, t, site, b->old_mask, &b->home_sp, &ignored) == 0;
}

/* Loads one call into the thread (in an interrupt stop, or in the stop that ended the
 * call before). */
static int load_call(struct sut_freeze *f, struct sut_thread *t, const struct borrow *b,
		     uint64_t insn_addr, long nr, const long args[6], struct sut_err *err)
{
	struct user_regs_struct r = t->regs;
	r.rip = insn_addr;
	if (b->home)
		r.rsp = b->home_sp;
	r.rax = (uint64_t)nr;
	r.orig_rax = (uint64_t)-1;
	r.rdi = (uint64_t)args[0];
	r.rsi = (uint64_t)args[1];
	r.rdx = (uint64_t)args[2];
	r.r10 = (uint64_t)args[3];
	r.r8 = (uint64_t)args[4];
	r.r9 = (uint64_t)args[5];
	t->regs_dirty = true; /* from here on the kernel may hold our registers */
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &r) < 0)
		return sut_errno(err, "pid %d: thread %d: PTRACE_SETREGS", (int)f->pid, (int)t->tid);
	return 0;
}

/* Lets the loaded call run and reads its raw return. */
static int run_call(struct sut_freeze *f, struct sut_thread *t, const struct borrow *b,
		    uint64_t insn_addr, long *ret, struct sut_err *err)
{
	if (b->home) {
		if (to_syscall_stop(f, t, PTRACE_SYSCALL_INFO_ENTRY, err) < 0 ||
		    sut_fault("remote-entry", err) < 0 ||
		    to_syscall_stop(f, t, PTRACE_SYSCALL_INFO_EXIT, err) < 0)
			return -1;
	} else if (step_to_trap(f, t, insn_addr, err) < 0) {
		return -1;
	}
	struct user_regs_struct r;
	if (ptrace(PTRACE_GETREGS, t->tid, 0, &r) < 0)
		return sut_errno(err, "pid %d: thread %d: PTRACE_GETREGS", (int)f->pid, (int)t->tid);
	*ret = (long)r.rax;
	return sut_fault("remote-called", err);
}

static void give_back_mask(struct sut_thread *t, const struct borrow *b)
{
	if (b->mask_blocked)
		ptrace(PTRACE_SETSIGMASK, t->tid, sizeof b->old_mask, &b->old_mask);
}

static int give_back_regs(struct sut_freeze *f, struct sut_thread *t, int rc,
			  struct sut_err *err)
{
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &t->regs) == 0)
		t->regs_dirty = false;
	else if (rc == 0)
		rc = sut_errno(err, "pid %d: thread %d: cannot restore registers", (int)f->pid,
			       (int)t->tid);
	return rc;
}

/* Puts everything back once for the whole batch, even after a failure (the thread may
 * still be stopped). The way home: back into the interrupt stop with the registers still
 * borrowed, then the mask, then the registers, so that each moment is one a dying suture
 * leaves safe. Single-stepped: the mask, the registers, then the step state. */
static int give_back(struct sut_freeze *f, struct sut_thread *t, const struct borrow *b,
		     int rc, struct sut_err *err)
{
	if (b->home) {
		/* after a failure too: a thread left in a syscall-exit stop would take no
		 * restart of its own call on the way out */
		struct sut_err e2;
		int back = to_interrupt_stop(f, t, &e2);
		if (rc == 0 && back < 0) {
			*err = e2;
			rc = -1;
		}
		if (rc == 0)
			rc = sut_fault("remote-returned", err);
		give_back_mask(t, b);
		return give_back_regs(f, t, rc, err);
	}
	give_back_mask(t, b);
	rc = give_back_regs(f, t, rc, err);
	if (rc == 0)
		rc = to_interrupt_stop(f, t, err);
	return rc;
}

static int usable(const struct sut_freeze *f, size_t ti, struct sut_err *err)
{
	if (ti >= f->n)
		return sut_errf(err, "pid %d: remote syscall: no thread %zu", (int)f->pid, ti);
	const struct sut_thread *t = &f->threads[ti];
	if (!can_run_syscalls(t))
		return sut_errf(err, "pid %d: thread %d is in a %s, not an interrupt stop: cannot "
				"run a remote syscall", (int)f->pid, (int)t->tid,
				t->group_stop ? "group-stop" : "signal-delivery-stop");
	return 0;
}

#define KERNEL_ERR(ret) ((unsigned long)(ret) > -4096UL)

int sut_ptrace_syscalls(struct sut_freeze *f, size_t ti, const struct sut_syscall_site *site,
			struct sut_remote_call *calls, size_t n, size_t *done, bool *kill_proof,
			struct sut_err *err)
{
	*done = 0;
	if (kill_proof)
		*kill_proof = false;
	if (usable(f, ti, err) < 0)
		return -1;
	if (n > SUT_REMOTE_BATCH_MAX)
		return sut_errf(err, "pid %d: a batch of %zu remote calls", (int)f->pid, n);
	struct sut_thread *t = &f->threads[ti];

	/* Never a call the thread's seccomp filters would kill, trap, trace or fail: the whole
	 * batch is judged before its first call, a result passed on unknown; with it the
	 * rt_sigreturn of the way home, from the trampoline. Filters that refuse only that
	 * one (judged again without it) leave the batch to single steps. */
	struct borrow b = {0};
	read_mask(t, &b);
	struct sut_syscall_plan plan[SUT_REMOTE_BATCH_MAX + 1];
	for (size_t i = 0; i < n; i++) {
		if (calls[i].from_ret && calls[i].from >= i)
			return sut_errf(err, "pid %d: remote call %zu takes the result of call %u",
					(int)f->pid, i, (unsigned)calls[i].from);
		plan[i] = (struct sut_syscall_plan){.nr = calls[i].nr, .unknown = calls[i].from_ret};
		for (int a = 0; a < 6; a++)
			plan[i].args[a] = (uint64_t)calls[i].args[a];
	}
	size_t nplan = n;
	if (home_possible(site, &b))
		plan[nplan++] = (struct sut_syscall_plan){.nr = SYS_rt_sigreturn,
							  .insn = site->sigreturn + 7};
	bool home_allowed = nplan > n;
	if (sut_seccomp_check(f->pid, t->tid, site->insn, plan, nplan, err) < 0) {
		if (nplan == n || sut_seccomp_check(f->pid, t->tid, site->insn, plan, n, err) < 0)
			return -1;
		home_allowed = false;
	}

	/* One borrowing of the thread for the whole batch: the way chosen and signals
	 * blocked once, each call loaded from the stop that ended the one before, everything
	 * given back once. */
	choose_way(f, t, site, home_allowed, &b);
	if (kill_proof)
		*kill_proof = b.home;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		long args[6];
		for (int a = 0; a < 6; a++)
			args[a] = calls[i].from_ret & (1u << a) ? calls[calls[i].from].ret
								: calls[i].args[a];
		rc = load_call(f, t, &b, site->insn, calls[i].nr, args, err);
		if (rc == 0 && i == 0) {
			block_signals(t, &b);
			rc = sut_fault("remote-loaded", err);
		}
		if (rc == 0)
			rc = run_call(f, t, &b, site->insn, &calls[i].ret, err);
		if (rc == 0)
			*done = i + 1;
		if (rc == 0 && KERNEL_ERR(calls[i].ret))
			break; /* the caller undoes what the calls before it did */
	}
	return give_back(f, t, &b, rc, err);
}

int sut_ptrace_syscall(struct sut_freeze *f, size_t ti, uint64_t insn_addr, long nr,
		       const long args[6], long *ret, struct sut_err *err)
{
	struct sut_remote_call c = {.nr = nr};
	for (int a = 0; a < 6; a++)
		c.args[a] = args[a];
	struct sut_syscall_site site = {.insn = insn_addr};
	size_t done;
	if (sut_ptrace_syscalls(f, ti, &site, &c, 1, &done, NULL, err) < 0)
		return -1;
	*ret = c.ret;
	return 0;
}
