/* SPDX-License-Identifier: Apache-2.0 */
/* Running one system call inside a stopped thread, invisibly to it.
 *
 * The thread must be in our interrupt stop (every remote call leaves it in one again):
 * it sits in the kernel's signal path before the syscall-restart
 * decision. We point rip at an existing `syscall` instruction, load the arguments, set
 * orig_rax = -1 so the kernel does not apply restart logic to *our* registers, single-step
 * once (the step trap fires right after the syscall returns), read rax, and put the saved
 * registers back. A batch (sut_ptrace_syscalls) makes several calls in one borrowing: each
 * next call is loaded and stepped from the step trap of the one before, so n calls cost
 * n + 1 round trips with the thread (n steps, one clear_step) instead of 2n, and the
 * thread's registers are borrowed once, for the calls themselves only (the seccomp check,
 * the one read of /proc, comes before the first). With them back, a blocking call the thread was in (rax = -ERESTART...,
 * orig_rax = its number) is restarted by the kernel when the thread is resumed.
 *
 * Signals: resuming the thread lets the kernel dequeue a pending signal before it reaches
 * our instruction. To keep such signals queued (with their siginfo) we block them for the
 * step, except SIGTRAP: a forced step trap finding SIGTRAP blocked would reset its
 * disposition. We cannot do that for a thread inside ppoll/pselect/epoll_pwait/sigsuspend
 * with a temporary mask, because setting the mask through ptrace drops the kernel's pending
 * "restore the saved mask" step; those threads are avoided when another is available, and
 * when used, a signal dequeued meanwhile is deferred and delivered on detach. */
#include "ptrace/ptrace.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

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
		pid_t r;
		while ((r = waitpid(t->tid, &st, __WALL)) < 0 && errno == EINTR)
			;
		if (r < 0)
			return sut_errno(err, "pid %d: thread %d: waitpid", (int)f->pid, (int)t->tid);
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return sut_errf(err, "pid %d: thread %d exited during a remote syscall",
					(int)f->pid, (int)t->tid);
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
		if (event == PTRACE_EVENT_STOP) {
			if (sig != SIGTRAP)
				t->group_stop = true;
			continue;
		}
		if (event == 0) {
			if (!t->deferred_sig)
				t->deferred_sig = sig;
			else if (!t->pending_sig && sig != t->deferred_sig)
				t->pending_sig = sig; /* queued again by thaw */
			else
				return sut_errf(err, "pid %d: thread %d: too many signals arrived "
						"during a remote syscall", (int)f->pid, (int)t->tid);
			continue;
		}
		return sut_errf(err, "pid %d: thread %d: unexpected stop 0x%x during a remote "
				"syscall", (int)f->pid, (int)t->tid, st);
	}
	return sut_errf(err, "pid %d: thread %d: the remote syscall did not complete",
			(int)f->pid, (int)t->tid);
}

/* Leaves the thread in an interrupt stop with the kernel's single-step state cleared.
 *
 * The step trap leaves the trap flag forced on in the thread (TIF_SINGLESTEP and
 * TIF_FORCED_TF on x86), cleared only by a later resume or PTRACE_DETACH. If suture dies
 * (SIGKILL) while the thread sits in that stop, the kernel detaches it on the tracer's exit
 * WITHOUT clearing the flag: the thread runs one instruction of its own and dies of the
 * SIGTRAP (invariant 6 broken). So, right after our registers are back: PTRACE_INTERRUPT
 * queues a trap stop, PTRACE_CONT clears the step state and resumes the thread inside the
 * kernel's signal loop, where the queued trap stops it again before any signal is taken
 * and before it can return to user mode. The thread is then in the same interrupt stop the
 * freeze put it in. What remains is a window of a few system calls (between the step trap
 * and this PTRACE_CONT) in which a SIGKILLed suture still leaves the flag set. */
static int clear_step(struct sut_freeze *f, struct sut_thread *t, struct sut_err *err)
{
	if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
		return sut_errno(err, "pid %d: thread %d: PTRACE_INTERRUPT", (int)f->pid,
				 (int)t->tid);
	if (ptrace(PTRACE_CONT, t->tid, 0, 0) < 0)
		return sut_errno(err, "pid %d: thread %d: PTRACE_CONT", (int)f->pid, (int)t->tid);
	for (int rounds = 0; rounds < 64; rounds++) {
		int st;
		pid_t r;
		while ((r = waitpid(t->tid, &st, __WALL)) < 0 && errno == EINTR)
			;
		if (r < 0)
			return sut_errno(err, "pid %d: thread %d: waitpid", (int)f->pid, (int)t->tid);
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return sut_errf(err, "pid %d: thread %d exited after a remote syscall",
					(int)f->pid, (int)t->tid);
		int sig = WSTOPSIG(st), event = st >> 16;
		if (event == PTRACE_EVENT_STOP) {
			if (sig != SIGTRAP)
				t->group_stop = true;
			return 0;
		}
		/* not expected (the queued trap comes first), but a signal met here is
		 * deferred like those met during the step */
		if (event == 0 && !t->deferred_sig)
			t->deferred_sig = sig;
		else if (event == 0 && !t->pending_sig && sig != t->deferred_sig)
			t->pending_sig = sig;
		else
			return sut_errf(err, "pid %d: thread %d: unexpected stop 0x%x after a "
					"remote syscall", (int)f->pid, (int)t->tid, st);
		if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0 ||
		    ptrace(PTRACE_CONT, t->tid, 0, 0) < 0)
			return sut_errno(err, "pid %d: thread %d: cannot stop again", (int)f->pid,
					 (int)t->tid);
	}
	return sut_errf(err, "pid %d: thread %d: did not stop again after a remote syscall",
			(int)f->pid, (int)t->tid);
}

/* The signal mask the thread had before a batch blocked every signal but SIGTRAP for it
 * (mask_blocked false: not blocked, see has_temporary_sigmask). */
struct borrow {
	bool mask_blocked;
	uint64_t old_mask;
};

static void block_signals(struct sut_thread *t, struct borrow *b)
{
	b->mask_blocked = false;
	if (!has_temporary_sigmask(&t->regs) &&
	    ptrace(PTRACE_GETSIGMASK, t->tid, sizeof b->old_mask, &b->old_mask) == 0) {
		uint64_t all_but_trap = ~(1ULL << (SIGTRAP - 1));
		if (ptrace(PTRACE_SETSIGMASK, t->tid, sizeof all_but_trap, &all_but_trap) == 0)
			b->mask_blocked = true;
	}
}

/* One call, the thread in an interrupt stop or in the step trap of the call before. */
static int one_call(struct sut_freeze *f, struct sut_thread *t, uint64_t insn_addr, long nr,
		    const long args[6], long *ret, struct sut_err *err)
{
	struct user_regs_struct r = t->regs;
	r.rip = insn_addr;
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
	if (step_to_trap(f, t, insn_addr, err) < 0)
		return -1;
	if (ptrace(PTRACE_GETREGS, t->tid, 0, &r) < 0)
		return sut_errno(err, "pid %d: thread %d: PTRACE_GETREGS", (int)f->pid, (int)t->tid);
	*ret = (long)r.rax;
	return 0;
}

/* Puts everything back, even after a failure (the thread may still be stopped): the mask,
 * the registers, then the step state (clear_step), once for the whole batch. */
static int give_back(struct sut_freeze *f, struct sut_thread *t, const struct borrow *b,
		     int rc, struct sut_err *err)
{
	if (b->mask_blocked)
		ptrace(PTRACE_SETSIGMASK, t->tid, sizeof b->old_mask, &b->old_mask);
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &t->regs) == 0)
		t->regs_dirty = false;
	else if (rc == 0)
		rc = sut_errno(err, "pid %d: thread %d: cannot restore registers", (int)f->pid,
			       (int)t->tid);
	if (rc == 0)
		rc = clear_step(f, t, err);
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

int sut_ptrace_syscalls(struct sut_freeze *f, size_t ti, uint64_t insn_addr,
			struct sut_remote_call *calls, size_t n, size_t *done,
			struct sut_err *err)
{
	*done = 0;
	if (usable(f, ti, err) < 0)
		return -1;
	if (n > SUT_REMOTE_BATCH_MAX)
		return sut_errf(err, "pid %d: a batch of %zu remote calls", (int)f->pid, n);
	struct sut_thread *t = &f->threads[ti];

	/* Never a call the thread's seccomp filters would kill, trap, trace or fail: the whole
	 * batch is judged before its first call, a result passed on unknown. */
	struct sut_syscall_plan plan[SUT_REMOTE_BATCH_MAX];
	for (size_t i = 0; i < n; i++) {
		if (calls[i].from_ret && calls[i].from >= i)
			return sut_errf(err, "pid %d: remote call %zu takes the result of call %u",
					(int)f->pid, i, (unsigned)calls[i].from);
		plan[i] = (struct sut_syscall_plan){.nr = calls[i].nr, .unknown = calls[i].from_ret};
		for (int a = 0; a < 6; a++)
			plan[i].args[a] = (uint64_t)calls[i].args[a];
	}
	if (sut_seccomp_check(f->pid, t->tid, insn_addr, plan, n, err) < 0)
		return -1;

	/* One borrowing of the thread for the whole batch: signals blocked once, each call one
	 * single step from the step trap of the one before, the registers and the step state
	 * given back once. */
	struct borrow b;
	block_signals(t, &b);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		long args[6];
		for (int a = 0; a < 6; a++)
			args[a] = calls[i].from_ret & (1u << a) ? calls[calls[i].from].ret
								: calls[i].args[a];
		rc = one_call(f, t, insn_addr, calls[i].nr, args, &calls[i].ret, err);
		if (rc == 0)
			*done = i + 1;
		if (rc == 0 && KERNEL_ERR(calls[i].ret))
			break; /* the caller undoes what the calls before it did */
	}
	rc = give_back(f, t, &b, rc, err);
	return rc;
}

int sut_ptrace_syscall(struct sut_freeze *f, size_t ti, uint64_t insn_addr, long nr,
		       const long args[6], long *ret, struct sut_err *err)
{
	struct sut_remote_call c = {.nr = nr};
	for (int a = 0; a < 6; a++)
		c.args[a] = args[a];
	size_t done;
	if (sut_ptrace_syscalls(f, ti, insn_addr, &c, 1, &done, err) < 0)
		return -1;
	*ret = c.ret;
	return 0;
}
