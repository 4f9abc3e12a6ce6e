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
 * On the tool thread's request it also stops sleepers found awake at the second look and
 * holds them for judging (ptr_guard_hold). At its end it makes sure that no thread
 * leaves with the SIGTRAP of one of suture's int3s pending ("the end", below).
 *
 * The helper polls (every 100 us) rather than blocking in waitpid, so that it ends
 * promptly when asked; it only lives for one freeze. */
#include "ptrace/ptrace_internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
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

/* HELD_TRAP: stopped on one of suture's int3s; HELD_CHILD: a child process at its first
 * stop; HELD_STOP: a thread stopped at the tool thread's request (ptr_guard_hold), in an
 * interrupt, group or signal-delivery stop. */
enum held_kind { HELD_TRAP, HELD_CHILD, HELD_STOP };

struct held {
	pid_t tid;
	enum held_kind kind;
	uint64_t addr; /* HELD_TRAP: the entry whose int3 it met */
	uint64_t since_ns;
	int sig;    /* HELD_STOP: the signal of its delivery stop (delivered at the release) */
	bool group; /* HELD_STOP: a group stop (kept at the release) */
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
	bool boosted; /* ptr_guard_boost: SCHED_FIFO until the held threads are released */
	struct sut_err err;
	int phase;    /* 0 starting, 1 guarding, 2 asked to end (atomic) */
	pthread_mutex_t mu;
	pthread_mutex_t reap_mu; /* held while reaping: see ptr_guard_pause_reaping */
	struct {                 /* ptr_guard_share's work, while posted */
		void (*fn)(void *ctx, size_t i);
		void *ctx;
		size_t n, next, done; /* next, done: atomic */
		int posted, helpers;  /* atomic */
	} job;
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
	const pid_t *woke; /* given at the stop: sleepers switched in since their first look */
	size_t nwoke;
	pid_t *ran; /* threads of the process that reported a stop to the guard */
	size_t nran, capran;
	pid_t *kids; /* processes created by a tracee (clone/fork/vfork events) */
	size_t nkids, capkids;
	struct ptr_guard_end end; /* what the end found */
	/* a request of the tool thread (ptr_guard_hold): stop these threads and hold them */
	const pid_t *req;
	size_t nreq;
	int req_ms;
	struct ptr_held_view *req_out;
	int req_rc;
	int req_state; /* 0 none, 1 asked, 2 answered (atomic) */
	pid_t *exited; /* threads whose exit the guard saw */
	size_t nexited, capexited;
	pid_t *wanted; /* every thread ever requested: held at its stop, even a late one */
	size_t nwanted, capwanted;
};

static uint64_t now_ns(void)
{
	return sut_ptrace_now_ns();
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

/* Whether tid is traced by the guard (seized sleeper or a thread it auto-attached). */
static bool guard_traces(struct ptr_guard *g, pid_t tid)
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

bool ptr_guard_armed(struct ptr_guard *g)
{
	pthread_mutex_lock(&g->mu);
	bool armed = g->nexpect > 0;
	pthread_mutex_unlock(&g->mu);
	return armed;
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

static struct held *hold(struct ptr_guard *g, pid_t tid, enum held_kind kind, uint64_t addr)
{
	if (g->nheld == g->capheld) {
		g->capheld = g->capheld ? 2 * g->capheld : 8;
		g->held = sut_xrealloc(g->held, g->capheld * sizeof *g->held);
	}
	g->held[g->nheld] = (struct held){tid, kind, addr, now_ns(), 0, false};
	return &g->held[g->nheld++];
}

static struct held *held_of(struct ptr_guard *g, pid_t tid)
{
	for (size_t i = 0; i < g->nheld; i++)
		if (g->held[i].tid == tid)
			return &g->held[i];
	return NULL;
}

/* Whether tid is one the tool thread asked the guard to stop (ptr_guard_hold), now or in
 * an earlier request that it did not answer in time (its interrupt is still to come: it
 * is held then too, and released with its wait restarted). */
static bool requested(const struct ptr_guard *g, pid_t tid)
{
	for (size_t i = 0; i < g->nwanted; i++)
		if (g->wanted[i] == tid)
			return true;
	return false;
}

static bool trap_queued(pid_t pid, pid_t tid);

static void add_pid(pid_t **v, size_t *n, size_t *cap, pid_t tid)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i] == tid)
			return;
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*v = sut_xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = tid;
}

static bool is_thread_of(pid_t pid, pid_t tid)
{
	char path[96];
	snprintf(path, sizeof path, "/proc/%d/task/%d", (int)pid, (int)tid);
	return access(path, F_OK) == 0;
}

/* A clone, fork or vfork event of tid: a new thread of the process is traced from now on
 * (it can reach an entry only through its int3); a new process is remembered, so that
 * the end waits for its first stop (and gives it the final bytes). */
static void note_created(struct ptr_guard *g, pid_t tid, int event)
{
	unsigned long child = 0;
	if ((event != PTRACE_EVENT_CLONE && event != PTRACE_EVENT_FORK &&
	     event != PTRACE_EVENT_VFORK) ||
	    ptrace(PTRACE_GETEVENTMSG, tid, 0, &child) < 0 || !child || child > INT32_MAX)
		return;
	pid_t c = (pid_t)child;
	if (is_thread_of(g->pid, c)) {
		if (!guard_traces(g, c))
			add_traced(g, c);
	} else {
		add_pid(&g->kids, &g->nkids, &g->capkids, c);
	}
}

/* One stop or exit of a tracee (see the comment at the top). */
static void handle(struct ptr_guard *g, pid_t tid, int st)
{
	if (!WIFSTOPPED(st)) { /* exited: nothing to release */
		add_pid(&g->exited, &g->nexited, &g->capexited, tid);
		return;
	}
	int sig = WSTOPSIG(st), event = st >> 16;
	if (is_thread_of(g->pid, tid))
		add_pid(&g->ran, &g->nran, &g->capran, tid);
	bool group_sig = sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
	if (requested(g, tid) && !held_of(g, tid) &&
	    (event == PTRACE_EVENT_STOP || (!event && sig != SIGTRAP))) {
		/* a thread to hold for the tool thread: in its interrupt or group stop, unless
		 * an int3's SIGTRAP is still queued (its delivery stop comes next: held there);
		 * in the delivery stop of a signal of its own (delivered at the release) */
		if (event == PTRACE_EVENT_STOP && trap_queued(g->pid, tid)) {
			ptrace(PTRACE_CONT, tid, 0, 0);
			return;
		}
		struct held *h = hold(g, tid, HELD_STOP, 0);
		h->group = event == PTRACE_EVENT_STOP && group_sig;
		h->sig = event ? 0 : sig;
		return;
	}
	if (event == PTRACE_EVENT_STOP) {
		if (group_sig) {
			ptrace(PTRACE_LISTEN, tid, 0, 0); /* the group stop stays */
			return;
		}
		/* the first stop of a task auto-attached at its creation */
		if (!is_thread_of(g->pid, tid)) {
			hold(g, tid, HELD_CHILD, 0);
			return;
		}
		if (!guard_traces(g, tid))
			add_traced(g, tid);
		ptrace(PTRACE_CONT, tid, 0, 0);
		return;
	}
	if (event) {
		note_created(g, tid, event);
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
	pthread_mutex_lock(&g->reap_mu);
	while ((r = waitpid(-1, &st, __WALL | __WNOTHREAD | WNOHANG)) > 0)
		handle(g, r, st);
	pthread_mutex_unlock(&g->reap_mu);
}

size_t ptr_guard_pause_reaping(struct ptr_guard *g)
{
	pthread_mutex_lock(&g->reap_mu);
	pthread_mutex_lock(&g->mu);
	size_t alive = 0;
	for (size_t i = 0; i < g->ntraced; i++) {
		bool gone = false;
		for (size_t k = 0; k < g->nexited && !gone; k++)
			gone = g->exited[k] == g->traced[i];
		alive += !gone;
	}
	pthread_mutex_unlock(&g->mu);
	return alive;
}

void ptr_guard_resume_reaping(struct ptr_guard *g)
{
	pthread_mutex_unlock(&g->reap_mu);
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

static void held_for(struct ptr_guard *g, uint64_t since)
{
	uint64_t d = now_ns() - since;
	if (d > g->held_max_ns)
		g->held_max_ns = d;
}

/* A thread stopped on one of suture's int3s resumes on the entry, which now holds its
 * final bytes: PC put back, the SIGTRAP (suture's) dropped by the detach. */
static void release_trap(pid_t tid, uint64_t addr)
{
	struct user_regs_struct regs;
	if (ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0) {
		regs.rip = addr;
		ptrace(PTRACE_SETREGS, tid, 0, &regs);
	}
	ptrace(PTRACE_DETACH, tid, 0, 0);
}

static void release_thread(struct ptr_guard *g, pid_t tid, bool group, int sig);

/* Once the code is final: every thread held on an int3 resumes on its entry, every
 * thread held at the tool thread's request is released as a thaw releases it, every child
 * held at its first stop gets the final bytes and goes. */
static void release_held(struct ptr_guard *g)
{
	for (size_t i = 0; i < g->nheld; i++) {
		struct held *h = &g->held[i];
		if (h->kind == HELD_TRAP) {
			release_trap(h->tid, h->addr);
		} else if (h->kind == HELD_STOP) {
			release_thread(g, h->tid, h->group, h->sig);
		} else {
			copy_into_child(g->pid, h->tid, g->copy, g->ncopy);
			ptrace(PTRACE_DETACH, h->tid, 0, 0);
		}
		held_for(g, h->since_ns);
	}
	g->nheld = 0;
}

/* ---- the end: no thread leaves the guard with a SIGTRAP of suture's pending ----
 *
 * When the guard is asked to end, every byte suture wrote is final (or put back): no
 * int3 of suture's is left in the process, so no new trap on one can come. A thread that
 * met one before may not have reported its stop yet: it is between the trap and its
 * ptrace stop (preempted on its way out of the kernel; in a group stop taken before the
 * signal; stopped, but not yet reaped). At the guard's exit the kernel would detach it
 * and deliver the SIGTRAP, which kills the process. So every thread that may have run
 * during the freeze (a sleeper switched in since its first look, any thread that
 * reported a stop, any thread created meanwhile) is looked at: one asleep in a system
 * call across the look has nothing of suture's pending (asleep_in_call) and is left
 * asleep; any other is interrupted (PTRACE_INTERRUPT) and its stops are handled until
 * one lets it go with nothing of suture's pending:
 *   - an interrupt or group stop (or the first stop of a new thread): if a SIGTRAP sent
 *     by the kernel (si_code SI_KERNEL, what an int3 raises) is queued to it, it is
 *     resumed: the kernel takes synchronous signals first, so its next stop is that
 *     signal's delivery (no user instruction in between); otherwise it is released as
 *     a thaw releases a stopped thread (ptr_release_stopped: a wait the interrupt ended
 *     with EINTR is issued again; a group stop is kept);
 *   - the delivery stop of an int3 at an entry: PC back on the entry, the trap dropped;
 *   - the delivery stop of any other signal: released with it (the detach delivers it);
 *   - clone, fork, vfork events: resumed (a new thread joins the set, a new process is
 *     waited for); exec: the old memory is gone with every int3 in it, and the other
 *     threads with it: nothing is left to wait for;
 *   - an exit: nothing to release.
 * A child process is released at its first stop with the final bytes copied in; the
 * children the events announced and those the caller found are waited for.
 * The wait is bounded (END_WAIT_MS, a thread that is waiting for a CPU stops as soon as
 * it gets one). A thread that has not stopped by then is judged from /proc: asleep (S,
 * D), stopped (T, t) or a zombie with no SIGTRAP pending cannot be on its way to an int3
 * stop (a trapped thread goes through its signal delivery before it can sleep in a
 * call); anything else is counted in end.unresolved. */
#define END_WAIT_MS 2000

struct ending {
	pid_t tid;
	bool done;
	int conts; /* resumed because a SIGTRAP was queued (bounded) */
	uint64_t since_ns; /* its first stop in the end */
};

struct end {
	struct ending *v;
	size_t n, cap;
	pid_t *kids; /* child processes still to see */
	bool *kid_done;
	size_t nkids;
	bool exec_seen;
};

static struct ending *end_find(struct end *e, pid_t tid)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->v[i].tid == tid)
			return &e->v[i];
	return NULL;
}

/* Whether tid is asleep in a system call and was not switched in while it was looked at
 * (a look, then its switch count again): then no SIGTRAP of suture's is pending for it,
 * nor can one come. An int3 raises its SIGTRAP at once, and the thread takes it (a
 * delivery stop, reported to the guard) on its way back to user mode, before it can make
 * a call to sleep in; with the code final, no int3 of suture's is left to meet. */
static bool asleep_in_call(pid_t pid, pid_t tid)
{
	struct ptr_sample s;
	if (ptr_sample(pid, tid, &s) != 1)
		return false;
	bool still = ptr_sample_unchanged(&s);
	ptr_sample_close(&s);
	return still;
}

static void end_add(struct ptr_guard *g, struct end *e, pid_t tid)
{
	if (end_find(e, tid))
		return;
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 32;
		e->v = sut_xrealloc(e->v, e->cap * sizeof *e->v);
	}
	struct ending *x = &e->v[e->n++];
	*x = (struct ending){.tid = tid};
	if (asleep_in_call(g->pid, tid)) {
		x->done = true;
		g->end.asleep++;
		return;
	}
	/* ESRCH: not traced by the guard any more (it exited) */
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		x->done = true;
	else
		g->end.interrupted++;
}

static void kid_resolved(struct end *e, pid_t c)
{
	for (size_t i = 0; i < e->nkids; i++)
		if (e->kids[i] == c)
			e->kid_done[i] = true;
}

/* Whether the thread (in a ptrace stop) has a SIGTRAP queued that the kernel sent (an
 * int3's). Falls back on the status file's SigPnd when PTRACE_PEEKSIGINFO is refused. */
static bool trap_queued(pid_t pid, pid_t tid)
{
	siginfo_t si[16];
	struct __ptrace_peeksiginfo_args a = {.off = 0, .flags = 0, .nr = 16};
	for (int round = 0; round < 64; round++) {
		long n = ptrace(PTRACE_PEEKSIGINFO, tid, &a, si);
		if (n < 0)
			break;
		for (long i = 0; i < n && i < 16; i++)
			if (si[i].si_signo == SIGTRAP && si[i].si_code == SI_KERNEL)
				return true;
		if (n < 16)
			return false;
		a.off += (uint64_t)n;
	}
	struct ptr_status ps;
	return ptr_status_read(pid, tid, &ps) == 0 && (ps.sigpnd & (1ULL << (SIGTRAP - 1)));
}

static bool stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* A thread in an interrupt or group stop, or a signal-delivery stop of sig, released with
 * nothing of suture's pending (see above). */
static void release_thread(struct ptr_guard *g, pid_t tid, bool group, int sig)
{
	struct sut_thread t = {.tid = tid, .group_stop = group, .pending_sig = sig};
	if (ptrace(PTRACE_GETREGS, tid, 0, &t.regs) < 0) {
		ptrace(PTRACE_DETACH, tid, 0, (long)sig);
		return;
	}
	ptr_release_stopped(g->pid, &t);
}

/* One stop or exit reported during the end. */
static void end_handle(struct ptr_guard *g, struct end *e, pid_t tid, int st)
{
	struct ending *x = end_find(e, tid);
	if (!WIFSTOPPED(st)) { /* exited */
		if (x)
			x->done = true;
		kid_resolved(e, tid);
		return;
	}
	int sig = WSTOPSIG(st), event = st >> 16;
	if (!is_thread_of(g->pid, tid)) { /* a child process (or a thread gone meanwhile) */
		if (event == PTRACE_EVENT_STOP && !x) {
			copy_into_child(g->pid, tid, g->copy, g->ncopy);
			ptrace(PTRACE_DETACH, tid, 0, 0);
			kid_resolved(e, tid);
			return;
		}
		ptrace(PTRACE_DETACH, tid, 0, event ? 0L : (long)sig);
		if (x)
			x->done = true;
		return;
	}
	if (!x) { /* a thread that reported no stop before (or created now): one of the set */
		end_add(g, e, tid);
		x = end_find(e, tid);
	}
	if (x->done) { /* an exec'd process: the old program's int3s are gone */
		ptrace(PTRACE_DETACH, tid, 0, event ? 0L : (long)sig);
		return;
	}
	if (!x->since_ns)
		x->since_ns = now_ns();
	if (event == PTRACE_EVENT_EXEC) {
		e->exec_seen = true;
		for (size_t i = 0; i < e->n; i++)
			e->v[i].done = true;
		ptrace(PTRACE_DETACH, tid, 0, 0);
		return;
	}
	if (event && event != PTRACE_EVENT_STOP) { /* clone, fork, vfork */
		size_t had = g->nkids;
		note_created(g, tid, event);
		for (size_t k = had; k < g->nkids; k++) {
			e->kids = sut_xrealloc(e->kids, (e->nkids + 1) * sizeof *e->kids);
			e->kid_done = sut_xrealloc(e->kid_done, (e->nkids + 1) * sizeof *e->kid_done);
			e->kids[e->nkids] = g->kids[k];
			e->kid_done[e->nkids++] = false;
		}
		unsigned long child = 0;
		if (event == PTRACE_EVENT_CLONE && ptrace(PTRACE_GETEVENTMSG, tid, 0, &child) == 0 &&
		    child && child <= INT32_MAX && is_thread_of(g->pid, (pid_t)child))
			end_add(g, e, (pid_t)child);
		ptrace(PTRACE_CONT, tid, 0, 0);
		return;
	}
	if (event == PTRACE_EVENT_STOP || sig != SIGTRAP) {
		bool pending = x->conts < 8 && trap_queued(g->pid, tid);
		if (pending) { /* its int3's delivery stop comes next */
			x->conts++;
			g->end.late++;
			ptrace(PTRACE_CONT, tid, 0, event ? 0L : (long)sig);
			return;
		}
		if (event == PTRACE_EVENT_STOP)
			release_thread(g, tid, stop_signal(sig), 0);
		else
			release_thread(g, tid, false, sig);
		held_for(g, x->since_ns);
		x->done = true;
		return;
	}
	/* a SIGTRAP delivery stop: an int3 of suture's, or the program's own */
	siginfo_t si;
	struct user_regs_struct regs;
	if (ptrace(PTRACE_GETSIGINFO, tid, 0, &si) == 0 && si.si_code == SI_KERNEL &&
	    ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0 && expected(g, regs.rip - 1)) {
		if (!x->conts)
			g->end.late++;
		release_trap(tid, regs.rip - 1);
	} else {
		release_thread(g, tid, false, sig);
	}
	held_for(g, x->since_ns);
	x->done = true;
}

static bool end_complete(const struct end *e)
{
	for (size_t i = 0; i < e->n; i++)
		if (!e->v[i].done)
			return false;
	for (size_t i = 0; i < e->nkids; i++)
		if (!e->kid_done[i])
			return false;
	return true;
}

/* Threads and children the end still waits for that cannot be waiting on suture's trap
 * (see above), judged from /proc; the others are left waiting. */
static void end_judge(struct ptr_guard *g, struct end *e, bool last)
{
	for (size_t i = 0; i < e->nkids; i++) {
		if (e->kid_done[i])
			continue;
		int st;
		pid_t r = waitpid(e->kids[i], &st, __WALL | __WNOTHREAD | WNOHANG);
		if (r < 0)
			e->kid_done[i] = true; /* not the guard's (forked before the seize), or gone */
		else if (r > 0)
			end_handle(g, e, r, st);
		else if (last)
			g->end.unresolved++;
	}
	for (size_t i = 0; i < e->n; i++) {
		struct ending *x = &e->v[i];
		if (x->done)
			continue;
		struct ptr_status ps;
		if (ptr_status_read(g->pid, x->tid, &ps) < 0 || ps.state == 'Z' ||
		    ps.state == 'X') {
			x->done = true; /* gone */
			continue;
		}
		if (!last)
			continue;
		x->done = true;
		if (!strchr("SDTt", ps.state) || (ps.sigpnd & (1ULL << (SIGTRAP - 1))))
			g->end.unresolved++;
	}
}

static void end_run(struct ptr_guard *g)
{
	struct end e = {0};
	/* the set: sleepers that ran, threads that reported a stop, threads created */
	for (size_t i = 0; i < g->nwoke; i++)
		end_add(g, &e, g->woke[i]);
	for (size_t i = 0; i < g->nran; i++)
		end_add(g, &e, g->ran[i]);
	pthread_mutex_lock(&g->mu);
	size_t nborn = g->ntraced - g->nsorted;
	pid_t *born = sut_xcalloc(nborn ? nborn : 1, sizeof *born);
	memcpy(born, g->traced + g->nsorted, nborn * sizeof *born);
	pthread_mutex_unlock(&g->mu);
	for (size_t i = 0; i < nborn; i++)
		end_add(g, &e, born[i]);
	free(born);
	e.nkids = g->nkids + g->nmaybe;
	e.kids = sut_xcalloc(e.nkids ? e.nkids : 1, sizeof *e.kids);
	e.kid_done = sut_xcalloc(e.nkids ? e.nkids : 1, sizeof *e.kid_done);
	for (size_t i = 0; i < g->nkids; i++)
		e.kids[i] = g->kids[i];
	for (size_t i = 0; i < g->nmaybe; i++)
		e.kids[g->nkids + i] = g->maybe[i];
	uint64_t start = now_ns(), deadline = start + END_WAIT_MS * 1000000ULL;
	uint64_t next_judge = start + 5000000ULL;
	for (;;) {
		int st;
		pid_t r = waitpid(-1, &st, __WALL | __WNOTHREAD | WNOHANG);
		if (r > 0) {
			end_handle(g, &e, r, st);
			continue;
		}
		if (r < 0) { /* ECHILD: the guard traces nothing any more */
			for (size_t i = 0; i < e.n; i++)
				e.v[i].done = true;
			for (size_t i = 0; i < e.nkids; i++)
				e.kid_done[i] = true;
		}
		uint64_t now = now_ns();
		if (!end_complete(&e) && (now >= next_judge || now >= deadline)) {
			end_judge(g, &e, now >= deadline);
			next_judge = now + 5000000ULL;
		}
		if (end_complete(&e))
			break;
		struct timespec ts = {0, 50000};
		nanosleep(&ts, NULL);
	}
	g->end.wait_ns = now_ns() - start;
	free(e.v);
	free(e.kids);
	free(e.kid_done);
}

/* ---- holding sleepers that woke, for the tool thread to judge ----
 *
 * The tool thread found them switched in at its second look; the int3s are in place, so
 * from then on none of them can get past the first byte of an entry. Each is interrupted
 * and held at its first stop (see handle()); what it was doing is then in its registers,
 * which the tool thread judges as it judges a stopped thread under the full freeze. */
static void serve_hold(struct ptr_guard *g)
{
	for (size_t i = 0; i < g->nreq; i++) {
		add_pid(&g->wanted, &g->nwanted, &g->capwanted, g->req[i]);
		if (!held_of(g, g->req[i]))
			ptrace(PTRACE_INTERRUPT, g->req[i], 0, 0);
	}
	uint64_t deadline = now_ns() + (uint64_t)g->req_ms * 1000000ULL;
	int rc = 0;
	for (;;) {
		drain(g);
		size_t waiting = 0;
		for (size_t i = 0; i < g->nreq; i++) {
			pid_t tid = g->req[i];
			bool gone = false;
			for (size_t k = 0; k < g->nexited && !gone; k++)
				gone = g->exited[k] == tid;
			waiting += !gone && !held_of(g, tid);
		}
		if (!waiting)
			break;
		if (now_ns() >= deadline) {
			rc = -1;
			break;
		}
		struct timespec ts = {0, 20000};
		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < g->nreq; i++) {
		struct ptr_held_view *v = &g->req_out[i];
		memset(v, 0, sizeof *v);
		v->tid = g->req[i];
		struct held *h = held_of(g, v->tid);
		if (!h) {
			v->gone = true; /* exited, or (rc -1) not stopped */
			continue;
		}
		if (ptrace(PTRACE_GETREGS, v->tid, 0, &v->regs) < 0) {
			rc = -1;
			continue;
		}
		v->trap_addr = h->kind == HELD_TRAP ? h->addr : 0;
	}
	/* A child process created meanwhile was copied from a thread that may have been
	 * inside a function being replaced at that moment, and has since left it: the child
	 * would get the final bytes without being judged. Not judged here: no. */
	for (size_t i = 0; i < g->nheld && rc == 0; i++)
		if (g->held[i].kind == HELD_CHILD)
			rc = -1;
	if (g->nkids)
		rc = -1;
	g->req_rc = rc;
	g->nreq = 0;
	__atomic_store_n(&g->req_state, 2, __ATOMIC_RELEASE);
}

int ptr_guard_hold(struct ptr_guard *g, const pid_t *tids, size_t n, int ms,
		   struct ptr_held_view *out)
{
	if (!n)
		return 0;
	g->req = tids;
	g->req_ms = ms;
	g->req_out = out;
	g->nreq = n;
	__atomic_store_n(&g->req_state, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&g->req_state, __ATOMIC_ACQUIRE) != 2) {
		struct timespec ts = {0, 20000};
		nanosleep(&ts, NULL);
	}
	__atomic_store_n(&g->req_state, 0, __ATOMIC_RELEASE);
	g->req = NULL;
	return g->req_rc;
}

/* ptr_guard_share: chunks of the posted work, taken by whichever thread comes first. */
#define SHARE_CHUNK 16

static void share_work(struct ptr_guard *g)
{
	for (;;) {
		size_t i = __atomic_fetch_add(&g->job.next, SHARE_CHUNK, __ATOMIC_ACQ_REL);
		if (i >= g->job.n)
			return;
		size_t end = i + SHARE_CHUNK < g->job.n ? i + SHARE_CHUNK : g->job.n;
		for (size_t k = i; k < end; k++)
			g->job.fn(g->job.ctx, k);
		__atomic_fetch_add(&g->job.done, end - i, __ATOMIC_ACQ_REL);
	}
}

/* The guard's side: helpers is raised before posted is looked at, and the poster waits
 * for it to fall after taking the work down, so the guard never takes a chunk of a job
 * that is no longer there (sequentially consistent: one of the two sees the other). */
static void help(struct ptr_guard *g)
{
	__atomic_add_fetch(&g->job.helpers, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&g->job.posted, __ATOMIC_SEQ_CST))
		share_work(g);
	__atomic_sub_fetch(&g->job.helpers, 1, __ATOMIC_SEQ_CST);
}

void ptr_guard_share(struct ptr_guard *g, void (*fn)(void *ctx, size_t i), void *ctx,
		     size_t n)
{
	g->job.fn = fn;
	g->job.ctx = ctx;
	g->job.n = n;
	__atomic_store_n(&g->job.next, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&g->job.done, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&g->job.posted, 1, __ATOMIC_SEQ_CST);
	share_work(g);
	/* the guard's last chunk: one chunk's time at most, unless it lost its CPU */
	while (__atomic_load_n(&g->job.done, __ATOMIC_ACQUIRE) < n)
		sched_yield();
	__atomic_store_n(&g->job.posted, 0, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&g->job.helpers, __ATOMIC_SEQ_CST))
		sched_yield();
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
		if (__atomic_load_n(&g->req_state, __ATOMIC_ACQUIRE) == 1)
			serve_hold(g);
		help(g);
		drain(g);
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
	drain(g);
	release_held(g);
	if (__atomic_load_n(&g->boosted, __ATOMIC_ACQUIRE)) { /* nobody held any more */
		struct sched_param sp = {.sched_priority = 0};
		sched_setscheduler(0, SCHED_OTHER, &sp);
	}
	if (ptr_guard_armed(g)) /* an int3 may have been met: see "the end" above */
		end_run(g);
	return NULL;
}

void ptr_guard_boost(struct ptr_guard *g)
{
	struct sched_param sp = {.sched_priority = 1};
	if (sched_setscheduler(g->helper_tid, SCHED_FIFO, &sp) == 0)
		__atomic_store_n(&g->boosted, true, __ATOMIC_RELEASE);
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
	pthread_mutex_init(&g->reap_mu, NULL);
	/* the helper must not take the signals the transaction holds (they are blocked in
	 * this thread now, and a new thread inherits the mask) */
	if (pthread_create(&g->th, NULL, guard_main, g) != 0) {
		pthread_mutex_destroy(&g->mu);
		pthread_mutex_destroy(&g->reap_mu);
		free(g);
		return sut_errf(err, "pid %d: cannot start the thread that guards sleepers",
				(int)pid), NULL;
	}
	while (__atomic_load_n(&g->phase, __ATOMIC_ACQUIRE) == 0)
		sched_yield();
	g->want = NULL;
	if (g->start_rc < 0) {
		*err = g->err;
		ptr_guard_stop(g, NULL, 0, NULL, 0, NULL, 0, NULL);
		return NULL;
	}
	return g;
}

uint64_t ptr_guard_stop(struct ptr_guard *g, const struct ptr_range *r, size_t n,
			const pid_t *woke, size_t nwoke, const pid_t *maybe, size_t nmaybe,
			struct ptr_guard_end *end)
{
	g->copy = r;
	g->ncopy = n;
	g->woke = woke;
	g->nwoke = nwoke;
	g->maybe = maybe;
	g->nmaybe = nmaybe;
	__atomic_store_n(&g->phase, 2, __ATOMIC_RELEASE);
	pthread_join(g->th, NULL);
	uint64_t held = g->held_max_ns;
	if (end)
		*end = g->end;
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
	pthread_mutex_destroy(&g->reap_mu);
	free(g->traced);
	free(g->expect);
	free(g->held);
	free(g->ran);
	free(g->kids);
	free(g->exited);
	free(g->wanted);
	free(g);
	return held;
}
