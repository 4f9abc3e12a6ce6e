/* SPDX-License-Identifier: Apache-2.0 */
/* The guard of a partial freeze: a helper thread of suture that seizes the sleepers.
 *
 * Why a thread of its own: PTRACE_SEIZE attaches without stopping or waking, but
 * PTRACE_DETACH needs a tracee in a ptrace stop, and stopping a sleeper is what the
 * partial freeze must not do. When a tracing thread exits, the kernel detaches each of
 * its tracees (exit_ptrace); one that is not in a ptrace stop is not woken. So the
 * sleepers are seized by a thread that exits at the thaw, and stay asleep throughout.
 *
 * While they are seized, a sleeper that wakes and meets one of suture's int3s stops for
 * the guard instead of dying of SIGTRAP; it is held until the code is final and then
 * resumes on the entry (PC put back, the trap dropped). Anything else it does is let
 * through at once: a signal is delivered as the kernel was about to, a group stop is
 * kept (PTRACE_LISTEN), clone/fork/exec events are resumed. What a seized thread
 * creates is seized too (TRACECLONE/FORK/VFORK): a new thread of the process is let run
 * (it can reach an entry only through its int3, like the sleepers); a new process is
 * held until the thaw and then given the bytes suture wrote into its parent, since it
 * may have been copied with an int3 in an entry.
 *
 * The helper polls (every 100 us) rather than blocking in waitpid, so that it ends
 * promptly when asked; it only lives for one freeze. */
#include "ptrace/ptrace_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc/proc.h"
#include "util/buf.h"

#ifndef SI_KERNEL
#define SI_KERNEL 0x80
#endif

enum held_kind { HELD_TRAP, HELD_CHILD };

struct held {
	pid_t tid;
	enum held_kind kind;
	uint64_t addr; /* HELD_TRAP: the entry whose int3 it met */
	uint64_t since_ns;
};

struct ptr_guard {
	pid_t pid;
	pthread_t th;
	pid_t helper_tid;
	const pid_t *want; /* to seize, during the start only */
	size_t nwant;
	bool *gone;
	int start_rc; /* 0 ok, -1 refused (err) */
	int nice;     /* taken once the seizes are done */
	struct sut_err err;
	int phase;    /* 0 starting, 1 guarding, 2 asked to end (atomic) */
	pthread_mutex_t mu;
	pid_t *traced; /* everything it traces (sorted part: the seized sleepers) */
	size_t ntraced, nsorted, captraced;
	uint64_t *expect;
	size_t nexpect, capexpect;
	struct held *held;
	size_t nheld, capheld;
	uint64_t held_max_ns;
	const struct ptr_range *copy; /* given at the stop, for held children */
	size_t ncopy;
	const pid_t *maybe; /* given at the stop: children of threads that ran meanwhile */
	size_t nmaybe;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

static void add_traced(struct ptr_guard *g, pid_t tid)
{
	pthread_mutex_lock(&g->mu);
	if (g->ntraced == g->captraced) {
		g->captraced = g->captraced ? 2 * g->captraced : 64;
		g->traced = sut_xrealloc(g->traced, g->captraced * sizeof *g->traced);
	}
	g->traced[g->ntraced++] = tid;
	pthread_mutex_unlock(&g->mu);
}

bool ptr_guard_traces(struct ptr_guard *g, pid_t tid)
{
	bool found = false;
	pthread_mutex_lock(&g->mu);
	found = bsearch(&tid, g->traced, g->nsorted, sizeof tid, cmp_pid) != NULL;
	for (size_t i = g->nsorted; i < g->ntraced && !found; i++)
		found = g->traced[i] == tid;
	pthread_mutex_unlock(&g->mu);
	return found;
}

size_t ptr_guard_new_threads(struct ptr_guard *g, pid_t *out, size_t cap)
{
	size_t k = 0;
	pthread_mutex_lock(&g->mu);
	for (size_t i = g->nsorted; i < g->ntraced && k < cap; i++)
		out[k++] = g->traced[i];
	pthread_mutex_unlock(&g->mu);
	return k;
}

void ptr_guard_expect_trap(struct ptr_guard *g, uint64_t addr)
{
	pthread_mutex_lock(&g->mu);
	if (g->nexpect == g->capexpect) {
		g->capexpect = g->capexpect ? 2 * g->capexpect : 8;
		g->expect = sut_xrealloc(g->expect, g->capexpect * sizeof *g->expect);
	}
	g->expect[g->nexpect++] = addr;
	pthread_mutex_unlock(&g->mu);
}

static bool expected(struct ptr_guard *g, uint64_t addr)
{
	bool yes = false;
	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < g->nexpect && !yes; i++)
		yes = g->expect[i] == addr;
	pthread_mutex_unlock(&g->mu);
	return yes;
}

static void hold(struct ptr_guard *g, pid_t tid, enum held_kind kind, uint64_t addr)
{
	if (g->nheld == g->capheld) {
		g->capheld = g->capheld ? 2 * g->capheld : 8;
		g->held = sut_xrealloc(g->held, g->capheld * sizeof *g->held);
	}
	g->held[g->nheld++] = (struct held){tid, kind, addr, now_ns()};
}

static bool is_thread_of(pid_t pid, pid_t tid)
{
	char path[96];
	snprintf(path, sizeof path, "/proc/%d/task/%d", (int)pid, (int)tid);
	return access(path, F_OK) == 0;
}

/* One stop or exit of a tracee (see the comment at the top). */
static void handle(struct ptr_guard *g, pid_t tid, int st)
{
	if (!WIFSTOPPED(st))
		return; /* exited: nothing to release */
	int sig = WSTOPSIG(st), event = st >> 16;
	if (event == PTRACE_EVENT_STOP) {
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
			ptrace(PTRACE_LISTEN, tid, 0, 0); /* the group stop stays */
			return;
		}
		/* the first stop of a task auto-attached at its creation */
		if (!is_thread_of(g->pid, tid)) {
			hold(g, tid, HELD_CHILD, 0);
			return;
		}
		if (!ptr_guard_traces(g, tid))
			add_traced(g, tid);
		ptrace(PTRACE_CONT, tid, 0, 0);
		return;
	}
	if (event) {
		if (event == PTRACE_EVENT_CLONE) {
			unsigned long child = 0;
			if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &child) == 0 && child &&
			    is_thread_of(g->pid, (pid_t)child) && !ptr_guard_traces(g, (pid_t)child))
				add_traced(g, (pid_t)child);
		}
		ptrace(PTRACE_CONT, tid, 0, 0);
		return;
	}
	if (sig == SIGTRAP) {
		siginfo_t si;
		struct user_regs_struct regs;
		if (ptrace(PTRACE_GETSIGINFO, tid, 0, &si) == 0 && si.si_code == SI_KERNEL &&
		    ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0 && expected(g, regs.rip - 1)) {
			hold(g, tid, HELD_TRAP, regs.rip - 1);
			return;
		}
	}
	ptrace(PTRACE_CONT, tid, 0, (long)sig); /* its own signal, delivered now */
}

static void drain(struct ptr_guard *g)
{
	int st;
	pid_t r;
	while ((r = waitpid(-1, &st, __WALL | __WNOTHREAD | WNOHANG)) > 0)
		handle(g, r, st);
}

/* A child process caught at its creation gets every range suture wrote into its parent
 * during the freeze, as the parent holds it now. */
static void copy_into_child(pid_t pid, pid_t child, const struct ptr_range *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t *buf = sut_xmalloc(r[i].len);
		struct sut_err e;
		if (sut_proc_read(pid, r[i].addr, buf, r[i].len, &e) == 0)
			sut_ptrace_write(child, r[i].addr, buf, r[i].len, &e);
		free(buf);
	}
}

/* In the helper, once the code is final: every held thread resumes, those trapped on an
 * entry with their PC back on it (they execute the final bytes), children after the copy.
 * The SIGTRAP of the int3 is dropped: it was suture's. */
/* A child forked by a seized thread is traced from its creation, but its first stop
 * may not have been reported yet: every child of a thread that ran during the freeze is
 * waited for (briefly) if it is ours, and held like the others, so that none runs with
 * an int3 its parent no longer has. Children forked before the seize are not ours
 * (ECHILD) and are left alone. */
static void collect_maybe(struct ptr_guard *g)
{
	for (size_t i = 0; i < g->nmaybe; i++) {
		pid_t c = g->maybe[i];
		bool known = false;
		for (size_t k = 0; k < g->nheld && !known; k++)
			known = g->held[k].tid == c;
		for (int tries = 0; !known && tries < 2000; tries++) {
			int st;
			pid_t r = waitpid(c, &st, __WALL | __WNOTHREAD | WNOHANG);
			if (r < 0)
				break; /* not ours, or gone */
			if (r == c) {
				if (WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_STOP)
					hold(g, c, HELD_CHILD, 0);
				else
					handle(g, c, st);
				break;
			}
			struct timespec ts = {0, 100000};
			nanosleep(&ts, NULL);
		}
	}
}

static void release_held(struct ptr_guard *g)
{
	collect_maybe(g);
	for (size_t i = 0; i < g->nheld; i++) {
		struct held *h = &g->held[i];
		if (h->kind == HELD_TRAP) {
			struct user_regs_struct regs;
			if (ptrace(PTRACE_GETREGS, h->tid, 0, &regs) == 0) {
				regs.rip = h->addr;
				ptrace(PTRACE_SETREGS, h->tid, 0, &regs);
			}
		} else {
			copy_into_child(g->pid, h->tid, g->copy, g->ncopy);
		}
		ptrace(PTRACE_DETACH, h->tid, 0, 0);
		uint64_t d = now_ns() - h->since_ns;
		if (d > g->held_max_ns)
			g->held_max_ns = d;
	}
	g->nheld = 0;
}

static void *guard_main(void *arg)
{
	struct ptr_guard *g = arg;
	g->helper_tid = (pid_t)syscall(SYS_gettid);
	long opts = PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
		    PTRACE_O_TRACEEXEC;
	for (size_t i = 0; i < g->nwant; i++) {
		if (ptrace(PTRACE_SEIZE, g->want[i], 0, opts) == 0) {
			add_traced(g, g->want[i]);
			continue;
		}
		if (errno == ESRCH) {
			g->gone[i] = true;
			continue;
		}
		sut_errno(&g->err, "pid %d: cannot seize thread %d", (int)g->pid, (int)g->want[i]);
		g->start_rc = -1;
		break;
	}
	if (g->nice != 19)
		setpriority(PRIO_PROCESS, (id_t)g->helper_tid, g->nice);
	pthread_mutex_lock(&g->mu);
	qsort(g->traced, g->ntraced, sizeof *g->traced, cmp_pid);
	g->nsorted = g->ntraced;
	pthread_mutex_unlock(&g->mu);
	__atomic_store_n(&g->phase, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&g->phase, __ATOMIC_ACQUIRE) == 1) {
		drain(g);
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
	drain(g);
	release_held(g);
	return NULL;
}

struct ptr_guard *ptr_guard_start(pid_t pid, const pid_t *tids, size_t n, bool *gone,
				  int nice, struct sut_err *err)
{
	struct ptr_guard *g = sut_xcalloc(1, sizeof *g);
	g->nice = nice;
	g->pid = pid;
	g->want = tids;
	g->nwant = n;
	g->gone = gone;
	pthread_mutex_init(&g->mu, NULL);
	/* the helper must not take the signals the transaction holds (they are blocked in
	 * this thread now, and a new thread inherits the mask) */
	if (pthread_create(&g->th, NULL, guard_main, g) != 0) {
		pthread_mutex_destroy(&g->mu);
		free(g);
		return sut_errf(err, "pid %d: cannot start the thread that guards sleepers",
				(int)pid), NULL;
	}
	while (__atomic_load_n(&g->phase, __ATOMIC_ACQUIRE) == 0)
		sched_yield();
	g->want = NULL;
	if (g->start_rc < 0) {
		*err = g->err;
		ptr_guard_stop(g, NULL, 0, NULL, 0);
		return NULL;
	}
	return g;
}

uint64_t ptr_guard_stop(struct ptr_guard *g, const struct ptr_range *r, size_t n,
			const pid_t *maybe, size_t nmaybe)
{
	g->copy = r;
	g->ncopy = n;
	g->maybe = maybe;
	g->nmaybe = nmaybe;
	__atomic_store_n(&g->phase, 2, __ATOMIC_RELEASE);
	pthread_join(g->th, NULL);
	uint64_t held = g->held_max_ns;
	/* pthread_join returns once the thread has cleared its tid, a little before the
	 * kernel detaches its tracees (exit_ptrace, in the same exit): wait until the thread
	 * is gone from /proc, so that a following freeze can seize them again. */
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d", (int)g->helper_tid);
	for (int i = 0; i < 20000 && access(path, F_OK) == 0; i++) {
		struct timespec ts = {0, 10000};
		nanosleep(&ts, NULL);
	}
	pthread_mutex_destroy(&g->mu);
	free(g->traced);
	free(g->expect);
	free(g->held);
	free(g);
	return held;
}
