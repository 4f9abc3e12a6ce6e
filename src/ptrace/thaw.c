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
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

int sut_ptrace_thaw(struct sut_freeze *f, struct sut_err *err)
{
	int rc = 0;
	for (size_t i = 0; i < f->n; i++) {
		struct sut_thread *t = &f->threads[i];
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
	return rc;
}
