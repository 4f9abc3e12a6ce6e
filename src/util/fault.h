/* SPDX-License-Identifier: Apache-2.0 */
/* Fault injection for testing invariant 6 (a dying patcher leaves a running process).
 *
 * SUTURE_FAULT=STEP[:ACTION] makes the transaction stop at the named step: ACTION "kill"
 * (the default) sends SIGKILL to suture itself, as an operator's kill -9 would; "fail"
 * makes the step return an error, as a failed write would; "pause=MS" sleeps MS
 * milliseconds there and goes on (a window for tests that signal suture mid-step).
 * Steps, in transaction order:
 *   apply:  stage-mapped (inside staging, the image mapped, a target thread still held
 *           for the remote calls), staged, frozen, journal, jump (after the first jump
 *           is written), committed
 *   revert: revert-frozen, revert-journal, revert-restore (after the first restore),
 *           revert-committed
 *   far-jump:fail (apply, at plan time): each replacement is taken to be 4 GiB further
 *           away than it is, a jump that cannot be encoded
 *   stage-gap:fail (apply, in staging, once): a page named suture-test-gap is mapped into
 *           the planned gap before staging checks it, as a starting process's dynamic
 *           linker may; staging must pick another gap
 *   remote-loaded, remote-entry, remote-called, remote-returned (the ptrace layer, in
 *           the first batch of remote system calls: the first call's registers loaded,
 *           the thread at its syscall entry, at the end of the call, back in the
 *           interrupt stop with the registers still borrowed)
 *   khold-load:fail (sutured, at start): the kernel hold's BPF program does not load, as
 *           on a kernel without BPF or uprobes; sutured falls back to the connector
 * ACTION "stop" stops suture with SIGSTOP at the step (a test then changes the target
 * between two steps and resumes suture with SIGCONT).
 * Unset (the normal case) costs one getenv per step. Ignored when the environment is
 * not believed (util/env.h). */
#ifndef SUTURE_UTIL_FAULT_H
#define SUTURE_UTIL_FAULT_H

#include "util/err.h"

/* 0 to go on; -1 (with a message) when told to fail here. Does not return when told to
 * kill. */
int sut_fault(const char *step, struct sut_err *err);

#endif
