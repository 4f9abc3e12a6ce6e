/* SPDX-License-Identifier: Apache-2.0 */
/* Memory the tool creates inside a target process with remote system calls: named memfd
 * mappings (the registry, patch images) and their removal. Internal to the apply layer.
 *
 * Invariant: every helper either completes or undoes its own partial work (a failed
 * ftruncate closes the memfd; a failed mmap leaves no mapping), so callers only undo
 * whole steps. */
#ifndef SUTURE_APPLY_REMOTE_H
#define SUTURE_APPLY_REMOTE_H

#include <stdint.h>
#include <sys/types.h>

#include "proc/proc.h"
#include "ptrace/ptrace.h"
#include "util/err.h"

struct sut_remote {
	struct sut_freeze *f;
	size_t ti;     /* thread running the calls */
	struct sut_syscall_site site; /* the code the calls borrow, the thread's stack */
	uint64_t scratch; /* below the thread's stack pointer and red zone: where the memfd's
			     name is written (0: through a placeholder mapping instead) */
};

/* Looks up, now, while nobody is held, the code the calls borrow (kept per mapped file:
 * proc_syscall_site.c), so that sut_remote_init inside a hold only checks its bytes.
 * Transactions that may make remote calls inside a freeze call it before the freeze. */
void sut_remote_prepare(pid_t pid, const struct sut_maps *maps);

/* Picks the thread and the syscall instruction inside an existing freeze. */
int sut_remote_init(struct sut_remote *r, struct sut_freeze *f, const struct sut_maps *maps,
		    struct sut_err *err);

/* Maps `rx + rw` bytes of a fresh memfd named `name` at `place` (exactly there, never
 * replacing anything; place 0 lets the kernel choose): the first rx bytes with rx_prot,
 * the rest read-write. *addr receives the address. */
int sut_remote_map(struct sut_remote *r, const char *name, uint64_t place, uint64_t rx,
		   int rx_prot, uint64_t rw, uint64_t *addr, struct sut_err *err);
int sut_remote_unmap(struct sut_remote *r, uint64_t addr, uint64_t len, struct sut_err *err);

/* Whether the thread's seccomp filters allow every call sut_remote_map (failure path
 * included) or sut_remote_unmap would make with these arguments: a sequence is checked
 * before its first call, so a refusal changes nothing. (Each call is checked once more,
 * with its exact arguments, just before it is made: sut_ptrace_syscall.) */
int sut_remote_check_map(const struct sut_remote *r, uint64_t place, uint64_t rx, int rx_prot,
			 uint64_t rw, struct sut_err *err);
int sut_remote_check_unmap(const struct sut_remote *r, uint64_t addr, uint64_t len,
			   struct sut_err *err);

/* Runs fn with one thread of pid stopped, then resumes it. For staging while the other
 * threads keep running. The thread is the one holding costs the application least
 * (remote.c, enum stage_cost): one asleep in a call that ends by itself within a second,
 * not the main thread first (stopped just after it fell asleep again when its sleeps are
 * short), then the main one so asleep, then running threads other than the main one,
 * then the main one, then one finishing an interrupted timed sleep (restart_syscall), and
 * a thread asleep for good only when nothing else exists. Each attempt to stop a thread
 * is bounded (a thread that does not stop within a few milliseconds is waiting for a CPU:
 * it is released and another thread, or the same later, is tried; the cheap ones again
 * for some 50 ms before a sleeper is taken) until timeout_ms. After the hold of a short
 * sleeper, returns once it sleeps a sleep of its own again, so that the caller's next
 * hold (the freeze) does not fall in the same sleep. held_max_ns (may be NULL) is raised to the longest
 * time one thread was held, seize to detach, failed attempts included. maps: the
 * process's maps, where the syscall instruction the calls borrow is looked for (the job's
 * view; NULL reads them). */
int sut_with_one_thread(pid_t pid, const struct sut_maps *maps, int timeout_ms,
			int (*fn)(struct sut_remote *r, void *arg, struct sut_err *err), void *arg,
			uint64_t *held_max_ns, struct sut_err *err);

#endif
