/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the ptrace layer: what freeze.c and thaw.c share. */
#ifndef SUTURE_PTRACE_PTRACE_INTERNAL_H
#define SUTURE_PTRACE_PTRACE_INTERNAL_H

#include "ptrace/ptrace.h"

/* Releases one thread stopped by this layer (in an interrupt, group or signal-delivery
 * stop, t->regs as read at that stop): a wait the stop ended with EINTR is issued again
 * (thaw.c), dirty registers are put back, and the detach carries the pending signal.
 * Every detach of a stopped thread goes through here: a successful thaw, a failed attempt,
 * a staging stop that gave up, a leftover that stopped later (invariant 5). Returns the
 * 0, -1 when the detach failed, -2 when the registers could not be put back (the detach
 * is still tried), errno set. */
int sut_ptrace_release_stopped(pid_t pid, struct sut_thread *t);

#endif
