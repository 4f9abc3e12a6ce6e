/* SPDX-License-Identifier: Apache-2.0 */
/* Resuming a frozen process exactly as it was found (DESIGN.md invariant 5).
 *
 * Registers changed by remote syscalls are put back first, so a blocking call that the
 * interrupt stop cut short (rax = -ERESTARTSYS and friends, orig_rax = its number) is
 * restarted by the kernel on the way out, invisibly. The detach then carries the signal
 * found in a signal-delivery-stop (or deferred during a remote syscall), so it is delivered
 * once; a thread in the SIGTRAP stop of our own single step detaches with 0, so that trap
 * is never delivered. Group-stopped threads stay stopped: the kernel re-enters the group
 * stop on detach while the process is stopped. */
#include "ptrace/ptrace.h"
#include "ptrace/ptrace_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* System calls that the kernel ends with EINTR, instead of restarting, when a ptrace stop
 * interrupts them, and that are safe to issue again with the same arguments when they
 * returned EINTR (an EINTR from them means nothing was consumed or done):
 *   epoll waits (always);
 *   socket receives and accepts with a timeout (SO_RCVTIMEO), where the socket layer
 *   returns EINTR instead of -ERESTARTSYS;
 *   socket sends and writes with SO_SNDTIMEO (EINTR only when nothing was sent: a partial
 *   send returns its count), and connect with SO_SNDTIMEO: called again on a socket whose
 *   attempt is still under way, connect waits for that same attempt (the kernel's own
 *   -ERESTARTSYS restart of a connect without timeout relies on exactly this);
 *   rt_sigtimedwait (sigtimedwait, sigwaitinfo): EINTR means no signal was taken; a
 *   signal of the waited set that arrived during the stop is taken by the call again. */
static bool eintr_on_stop(long nr)
{
	switch (nr) {
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
#endif
	case SYS_read:
	case SYS_readv:
	case SYS_recvfrom:
	case SYS_recvmsg:
	case SYS_recvmmsg:
	case SYS_accept:
	case SYS_accept4:
	case SYS_write:
	case SYS_writev:
	case SYS_sendto:
	case SYS_sendmsg:
	case SYS_sendmmsg:
	case SYS_connect:
	case SYS_rt_sigtimedwait:
	case SYS_io_getevents:
	case SYS_semop:
	case SYS_semtimedop:
		return true;
	default:
		return false;
	}
}

/* Whether the thread has a signal pending that it does not block: then the EINTR may be
 * that signal's (it is delivered on detach, and the program asked for its EINTR), so the
 * call is not issued again. Unreadable status counts as pending (leave the EINTR). */
static bool unblocked_signal_pending(pid_t pid, pid_t tid)
{
	struct ptr_status ps;
	if (ptr_status_read(pid, tid, &ps) < 0 || !ps.has_shdpnd)
		return true;
	return ((ps.sigpnd | ps.shdpnd) & ~ps.sigblk) != 0;
}

/* Invariant 5: a thread whose wait our stop cut short with EINTR (no signal of its own was
 * delivered: that would have moved its PC into the handler and set rax to 0) goes back to
 * the syscall instruction so it waits again. A finite timeout starts afresh: the wait may
 * last longer than asked by the time spent before the stop, never shorter. */
static void restart_interrupted_wait(struct sut_thread *t, pid_t pid)
{
	struct user_regs_struct *r = &t->regs;
	if ((long long)r->orig_rax < 0 || (long long)r->rax != -EINTR ||
	    !eintr_on_stop((long)r->orig_rax) || t->group_stop || t->pending_sig)
		return;
	errno = 0;
	long word = ptrace(PTRACE_PEEKTEXT, t->tid, r->rip - 2, 0);
	if (errno || (word & 0xffff) != 0x050f) /* the syscall instruction just executed */
		return;
	if (unblocked_signal_pending(pid, t->tid))
		return;
	r->rip -= 2;
	r->rax = r->orig_rax;
	r->orig_rax = (unsigned long long)-1;
	t->regs_dirty = true;
}

int ptr_release_stopped(pid_t pid, struct sut_thread *t)
{
	int rc = 0, e = 0;
	restart_interrupted_wait(t, pid);
	if (t->regs_dirty && ptrace(PTRACE_SETREGS, t->tid, 0, &t->regs) < 0) {
		rc = -2;
		e = errno;
	}
	t->regs_dirty = false;
	/* pending_sig: the thread is still in the signal-delivery-stop of that signal,
	 * and the detach delivers it. deferred_sig: a signal met during a remote
	 * syscall, in a stop the thread has left since (it is in an interrupt stop
	 * now), where the kernel ignores the detach's signal: it is queued again
	 * instead (then delivered with our siginfo). SIGSTOP, which no mask blocks, is
	 * the usual one: a process being stopped (sutured's kernel hold) while suture
	 * stages would otherwise run on, and its stop be lost. */
	int sig = t->pending_sig;
	if (t->deferred_sig && t->deferred_sig != t->pending_sig)
		syscall(SYS_tgkill, pid, t->tid, t->deferred_sig);
	t->pending_sig = t->deferred_sig = 0;
	if (ptrace(PTRACE_DETACH, t->tid, 0, (long)sig) < 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	errno = e;
	return rc;
}

int sut_ptrace_thaw(struct sut_freeze *f, struct sut_err *err)
{
	int rc = 0;
	uint64_t t0 = sut_ptrace_now_ns();
	for (size_t i = 0; i < f->n; i++) {
		struct sut_thread *t = &f->threads[i];
		int r = ptr_release_stopped(f->pid, t);
		if (r < 0) {
			if (rc == 0)
				sut_errno(err, "pid %d: thread %d: %s", (int)f->pid, (int)t->tid,
					  r == -2 ? "cannot restore registers" : "cannot detach");
			rc = -1;
		}
		uint64_t now = sut_ptrace_now_ns();
		if (t->held_since_ns && now - t->held_since_ns > f->held_max_ns)
			f->held_max_ns = now - t->held_since_ns;
	}
	f->released_ns = sut_ptrace_now_ns();
	if (f->sl && f->boosted) { /* nobody this thread stopped is held any more */
		ptr_unboost(f->prio_was);
		f->boosted = false;
	}
	if (f->sl) { /* a partial freeze: the sleepers go on sleeping */
		struct ptr_guard_end end = {0};
		uint64_t held = ptr_sleepers_release(f->sl, f->pid, &end);
		f->ph.end_asleep = end.asleep;
		f->ph.end_interrupted = end.interrupted;
		f->sl = NULL;
		if (held > f->held_max_ns)
			f->held_max_ns = held;
	}
	sut_ptrace_release_leftovers();
	if (f->boosted)
		ptr_unboost(f->prio_was);
	f->boosted = false;
	f->ph.thaw_ns = sut_ptrace_now_ns() - t0;
	return rc;
}
