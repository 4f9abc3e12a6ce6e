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

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

/* System calls that the kernel ends with EINTR, instead of restarting, when a ptrace stop
 * interrupts them, and that are safe to issue again with the same arguments when they
 * returned EINTR (nothing was consumed): epoll waits (always), and socket receives and
 * accepts with a timeout (SO_RCVTIMEO), where the socket layer returns EINTR too. */
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
	case SYS_io_getevents:
	case SYS_semop:
	case SYS_semtimedop:
		return true;
	default:
		return false;
	}
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
	r->rip -= 2;
	r->rax = r->orig_rax;
	r->orig_rax = (unsigned long long)-1;
	t->regs_dirty = true;
	(void)pid;
}

int sut_ptrace_thaw(struct sut_freeze *f, struct sut_err *err)
{
	int rc = 0;
	for (size_t i = 0; i < f->n; i++) {
		struct sut_thread *t = &f->threads[i];
		restart_interrupted_wait(t, f->pid);
		if (t->regs_dirty && ptrace(PTRACE_SETREGS, t->tid, 0, &t->regs) < 0) {
			if (rc == 0)
				sut_errno(err, "pid %d: thread %d: cannot restore registers",
					  (int)f->pid, (int)t->tid);
			rc = -1;
		}
		t->regs_dirty = false;
		int sig = t->pending_sig ? t->pending_sig : t->deferred_sig;
		/* Both can only be set when a second signal arrived during a remote syscall
		 * of a thread that could not block signals: queue the other one again rather
		 * than lose it (it is then delivered with our siginfo). */
		if (t->pending_sig && t->deferred_sig && t->deferred_sig != t->pending_sig)
			syscall(SYS_tgkill, f->pid, t->tid, t->deferred_sig);
		if (ptrace(PTRACE_DETACH, t->tid, 0, (long)sig) < 0) {
			if (rc == 0)
				sut_errno(err, "pid %d: thread %d: cannot detach", (int)f->pid,
					  (int)t->tid);
			rc = -1;
		}
		t->pending_sig = t->deferred_sig = 0;
	}
	sut_ptrace_release_leftovers();
	return rc;
}
