/* SPDX-License-Identifier: Apache-2.0 */
/* Stopping every thread of a process: seize, interrupt, collect, repeat until stable.
 *
 * Why this order: interrupting every known thread before collecting any of them makes the
 * stop window as short as possible (all threads head for the stop in parallel). Once every
 * thread in the set is stopped none of them can clone, so re-reading /proc/PID/task and
 * finding nobody new proves the set is complete. Threads that exit meanwhile are dropped.
 *
 * The census proves the same without the list (a thousand directory entries, 0.9 ms with
 * every thread held): the kernel counts a process's threads (num_threads, in any of its
 * stat files) from the moment a thread is listed until it is reaped. The threads stopped
 * here are counted (a stopped thread cannot exit unreaped: its tracer reaps it), and so
 * are the sleepers a partial freeze's guard traces, minus those it reaped, with its
 * reaping paused while the count is read. When the two numbers are equal there is no
 * thread outside the set; when they differ (a thread created since the list was read, a
 * zombie, an exit not yet reaped) the list is read again, as before. A thread whose clone
 * was under way when it stopped either finished it (the new thread is counted) or had it
 * abandoned by the interrupt (copy_process restarts on a pending signal).
 *
 * Stops found at collection (man 2 ptrace):
 *   PTRACE_EVENT_STOP + SIGTRAP       the interrupt stop we asked for;
 *   PTRACE_EVENT_STOP + a stop signal  group-stop: the process was stopped (SIGSTOP...)
 *                                      and stays stopped after detach;
 *   plain stop with signal S          signal-delivery-stop: S was about to be delivered.
 *                                      It is kept and re-delivered on detach, exactly once;
 *                                      the still-pending interrupt trap is cleared by the
 *                                      detach itself. */
#include "ptrace/ptrace.h"
#include "ptrace/ptrace_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc/proc.h"
#include "util/buf.h"

/* DEFERRED: seen in an uninterruptible (or killable) sleep, 'D': an interrupt would not
 * stop it until it leaves the kernel, maybe long after this freeze gave up, and a thread
 * that is seized but not stopped cannot be detached. So it is not seized until it leaves
 * that sleep; if it never does before the deadline, nothing of this freeze stays on it. */
enum slot_state { DEFERRED, SEIZED, STOPPED, GONE };

struct slot {
	pid_t tid;
	enum slot_state state;
	struct sut_thread t;
	unsigned redelivered; /* signals let through on the way to the interrupt stop */
};

struct freezer {
	pid_t pid;
	struct slot *v;
	size_t n, cap;
	uint64_t deadline_ns;
	pid_t stuck; /* a thread that did not stop by the deadline */
	uint64_t held_max_ns; /* release_all: longest seize-to-detach time */
	bool partial; /* the stop of a partial freeze: its guard may trace new threads */
	struct ptr_guard *guard; /* that guard (the census counts what it traces) */
	struct sut_freeze_phases ph; /* where the time went (published with the threads) */
	uint64_t stop_start_ns; /* just before the first seize */
	int taskfd;             /* /proc/PID/task, for the state reads (-1: by path) */
	bool boosted;           /* ptr_boost: until the thaw, or release_all */
	int prio_was;
};

/* Threads this tool thread interrupted but could not release because they had not
 * stopped yet (they were in the kernel, out of reach of the interrupt, when their freeze
 * gave up). Each will stop when it leaves the kernel; it is then released at once by the
 * next call into this layer (every freeze, stop and thaw begins by reaping them), and at
 * the latest when this process exits (release_leftovers_at_exit). Per tool thread: only
 * the tracer can wait for and detach its tracees.
 *
 * Invariant 5 holds for them too: the interrupt has already woken such a thread out of
 * its wait, and a call that ends with EINTR on a ptrace stop (thaw.c) is ending with it,
 * so the stop it reaches is released through ptr_release_stopped, which issues
 * that call again, like every other release of a stopped thread. A plain detach would
 * hand the thread its EINTR; so would leaving it to the kernel's detach at our exit,
 * before it has stopped (the interrupt is then dropped and the thread returns to user
 * mode with the EINTR): hence the wait at exit. */
struct leftover {
	pid_t pid, tid;
};
static __thread struct leftover *leftover;
static __thread size_t nleftover;

/* Every stop of a leftover is one this layer asked for (the interrupt), or a signal or
 * group stop met on the way, like at collection. */
static void record_stop(struct sut_thread *t, int st);

void sut_ptrace_release_leftovers(void)
{
	size_t k = 0;
	for (size_t i = 0; i < nleftover; i++) {
		int st;
		pid_t r = waitpid(leftover[i].tid, &st, __WALL | WNOHANG);
		if (r == 0) {
			leftover[k++] = leftover[i]; /* still running in the kernel */
			continue;
		}
		if (r > 0 && WIFSTOPPED(st)) {
			struct sut_thread t = {.tid = leftover[i].tid};
			record_stop(&t, st);
			/* unreadable registers: released as they are (nothing to re-issue) */
			if (ptrace(PTRACE_GETREGS, t.tid, 0, &t.regs) < 0)
				memset(&t.regs, 0, sizeof t.regs);
			if (ptr_release_stopped(leftover[i].pid, &t) == -1 && errno != ESRCH) {
				leftover[k++] = leftover[i];
				continue;
			}
		}
		/* exited, detached, or not ours any more */
	}
	nleftover = k;
	if (!k) {
		free(leftover);
		leftover = NULL;
	}
}

bool ptr_is_leftover(pid_t tid)
{
	for (size_t i = 0; i < nleftover; i++)
		if (leftover[i].tid == tid)
			return true;
	return false;
}

/* A leftover is a runnable thread on its way to its interrupt stop (threads in 'D' are
 * never seized), so it stops soon; this bounds the wait should it not. */
#define LEFTOVER_EXIT_WAIT_MS 2000

static void release_leftovers_at_exit(void)
{
	for (int i = 0; nleftover && i < LEFTOVER_EXIT_WAIT_MS; i++) {
		sut_ptrace_release_leftovers();
		if (nleftover) {
			struct timespec ts = {0, 1000000L};
			nanosleep(&ts, NULL);
		}
	}
}

static void add_leftover(pid_t pid, pid_t tid)
{
	static int registered;
	if (!__atomic_exchange_n(&registered, 1, __ATOMIC_SEQ_CST))
		atexit(release_leftovers_at_exit);
	leftover = sut_xrealloc(leftover, (nleftover + 1) * sizeof *leftover);
	leftover[nleftover++] = (struct leftover){pid, tid};
}

uint64_t sut_ptrace_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return sut_ptrace_now_ns();
}

static int cmp_tid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

/* The tids of the slots, sorted (for known_in: a round at 1000 threads compares each
 * listed thread with every slot, a million comparisons by a linear search). */
static pid_t *known_sorted(const struct freezer *fz)
{
	pid_t *k = sut_xmalloc((fz->n ? fz->n : 1) * sizeof *k);
	for (size_t i = 0; i < fz->n; i++)
		k[i] = fz->v[i].tid;
	qsort(k, fz->n, sizeof *k, cmp_tid);
	return k;
}

static bool known_in(const pid_t *sorted, size_t n, pid_t tid)
{
	return bsearch(&tid, sorted, n, sizeof tid, cmp_tid) != NULL;
}

/* TracerPid from /proc/PID/task/TID/status, 0 when untraced or unreadable. */
static pid_t tracer_of(pid_t pid, pid_t tid)
{
	struct ptr_status ps;
	return ptr_status_read(pid, tid, &ps) == 0 && ps.tracer > 0 ? (pid_t)ps.tracer : 0;
}

/* Scheduler state letter of a thread ('R', 'S', 'Z'...), '?' when unreadable. */
char ptr_thread_state(pid_t pid, pid_t tid)
{
	char buf[512];
	const char *p = sut_proc_stat_fields(pid, tid, buf, sizeof buf);
	return p ? p[0] : '?';
}

/* The priority of the freeze. Every thread interrupted or detached is woken, and a woken
 * thread of the target at the same priority as this tool thread preempts it at once (it
 * has slept, so the scheduler owes it CPU time), runs to its stop or on, and only then
 * lets this thread interrupt or release the next one: each thread's hold then includes a
 * context switch per thread after it. Raised, this thread is not preempted by them: the
 * woken threads run on the other CPUs, or on this one when it waits itself (collect
 * sleeps between its polls after a few), which is when they are meant to run. Measured at
 * 100 threads on 2 CPUs: interrupting them 1.5 ms at the normal priority, 0.8 at nice
 * -20, 0.35 under SCHED_FIFO; releasing them 1.7, 1.3, 0.7 ms. Only the span in which
 * threads are held: before it, a tool at high priority would take CPU time from a
 * running target, and after the thaw the target's threads need the CPUs. A bound on the
 * span: the attempt's deadline (250 ms), and the kernel's limit on real-time CPU time
 * (sched_rt_runtime_us) keeps other processes running even then. When FIFO is refused,
 * nice -20. The stop of a partial freeze too, and its guard's helper with it
 * (ptr_guard_boost): when a thousand sleepers wake in step while the few stopped threads
 * are held, this thread's judging of them at the normal priority was preempted by each
 * waking thread in turn (123 of them judged in 16.6 ms instead of 4.4), and the held
 * threads waited for the whole wake-up; the guard, which answers a trapped sleeper and
 * stops those found running, would wait behind them too. Both sleep while they wait
 * (the guard polls every 100 us), so the woken threads still get the CPUs then. */
#define PTR_WAS_NORMAL 1000 /* *was: SCHED_FIFO was set over the normal policy */

bool ptr_boost(int *was)
{
	pid_t self = (pid_t)syscall(SYS_gettid);
	if (sched_getscheduler(0) != SCHED_OTHER)
		return false; /* a caller's own policy is left alone */
	struct sched_param sp = {.sched_priority = 1};
	if (sched_setscheduler(0, SCHED_FIFO, &sp) == 0) {
		*was = PTR_WAS_NORMAL;
		return true;
	}
	errno = 0;
	int cur = getpriority(PRIO_PROCESS, (id_t)self);
	if (errno || cur == -20 || setpriority(PRIO_PROCESS, (id_t)self, -20) < 0)
		return false;
	*was = cur;
	return true;
}

void ptr_unboost(int was)
{
	if (was == PTR_WAS_NORMAL) {
		struct sched_param sp = {.sched_priority = 0};
		sched_setscheduler(0, SCHED_OTHER, &sp); /* the nice value was kept */
		return;
	}
	setpriority(PRIO_PROCESS, (id_t)(pid_t)syscall(SYS_gettid), was);
}

/* The state letter through the freeze's descriptor of /proc/PID/task (-1: by path). */
static char state_at(int taskfd, pid_t pid, pid_t tid)
{
	char buf[1024];
	const char *p = sut_proc_task_stat_at(taskfd, pid, tid, buf, sizeof buf);
	return p ? p[0] : '?';
}

/* Seizes and interrupts tid. Returns 0 (slot added, or the thread already vanished) or -1
 * on a permission problem, with the message naming the thread and the reason. */
static struct slot *new_slot(struct freezer *fz, pid_t tid, enum slot_state state)
{
	if (fz->n == fz->cap) {
		fz->cap = fz->cap ? fz->cap * 2 : 16;
		fz->v = sut_xrealloc(fz->v, fz->cap * sizeof *fz->v);
	}
	struct slot *s = &fz->v[fz->n++];
	memset(s, 0, sizeof *s);
	s->tid = tid;
	s->t.tid = tid;
	s->state = state;
	return s;
}

/* Seizes the thread of slot s (DEFERRED until now), and interrupts it unless !interrupt
 * (add_new interrupts the threads of a round together, once all are seized). */
static int attach_slot(struct freezer *fz, struct slot *s, bool interrupt, struct sut_err *err);

static int seize_slot(struct freezer *fz, struct slot *s, struct sut_err *err)
{
	return attach_slot(fz, s, true, err);
}

/* One thread alone (sut_ptrace_stop_one): its state, then its seize. */
static int seize(struct freezer *fz, pid_t tid, struct sut_err *err)
{
	struct slot *s = new_slot(fz, tid, DEFERRED);
	if (ptr_thread_state(fz->pid, tid) == 'D')
		return 0;
	return seize_slot(fz, s, err);
}

/* The threads of tids[0..n) that are new to the freeze (neither known nor skipped) get a
 * slot; returns how many. Their state is read first, for all of them, and only then are
 * they seized, all of them, and then interrupted, in one tight loop: reading a thread's stat file costs
 * several system calls and the kernel's formatting of the whole line, tens of µs each on
 * a busy machine, and interleaved with the interrupts it made every thread interrupted
 * earlier wait for the state reads of all the threads after it (at 100 threads, 2.4 ms
 * of a 8.5 ms freeze). Read before the first interrupt, it holds nobody. A thread may
 * enter a 'D' sleep between the read and its seize, as it could between the two calls
 * before: the collection then waits for it, as for any thread slow to stop. */
static size_t add_new(struct freezer *fz, const pid_t *tids, size_t n, const pid_t *skip,
		      size_t nskip, struct sut_err *err, int *rc);

static bool skipped(const pid_t *skip, size_t nskip, pid_t tid);

static int attach_slot(struct freezer *fz, struct slot *s, bool interrupt, struct sut_err *err)
{
	pid_t tid = s->tid;
	/* from the seize: a seized thread that meets a signal stops (signal-delivery-stop)
	 * before it is interrupted, and is held from then on */
	s->t.held_since_ns = now_ns();
	/* A thread an earlier attempt of this tool thread interrupted but could not release
	 * (it had not stopped: on a loaded machine it waits for a CPU) is still ours: wait for
	 * its stop, which releases it, until this attempt's deadline. */
	while (ptr_is_leftover(tid) && now_ns() < fz->deadline_ns) {
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
		sut_ptrace_release_leftovers();
	}
	/* TRACESYSGOOD: the syscall stops of a remote call (remote_syscall.c) are told from
	 * a SIGTRAP of the thread's own; no other stop changes */
	if (ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD) < 0) {
		if (errno == ESRCH) {
			s->state = GONE; /* exited between the directory read and now */
			return 0;
		}
		int e = errno;
		/* A thread an earlier attempt of this tool thread interrupted and could not
		 * release (it had not stopped yet, under load: waiting for a CPU) is still ours:
		 * it is taken back, its interrupt queued again, rather than refused. */
		for (size_t i = 0; e == EPERM && i < nleftover; i++) {
			if (leftover[i].tid != tid)
				continue;
			leftover[i] = leftover[--nleftover];
			s->state = SEIZED;
			if (interrupt)
				ptrace(PTRACE_INTERRUPT, tid, 0, 0);
			return 0;
		}
		s->state = GONE;
		pid_t tracer = tracer_of(fz->pid, tid);
		char own[64];
		snprintf(own, sizeof own, "/proc/self/task/%d", (int)tracer);
		if (fz->partial && tracer && tracer != (pid_t)syscall(SYS_gettid) &&
		    access(own, F_OK) == 0)
			return 0; /* the partial freeze's guard caught it being created */
		if (tracer && tracer != getpid())
			return sut_errf(err, "pid %d: cannot trace thread %d: already traced by pid %d "
					"(another debugger attached)", (int)fz->pid, (int)tid,
					(int)tracer);
		errno = e;
		if (e == EPERM)
			return sut_errf(err, "pid %d: cannot trace: Operation not permitted (another "
					"debugger attached, or ptrace_scope / permissions)",
					(int)fz->pid);
		return sut_errno(err, "pid %d: cannot trace thread %d", (int)fz->pid, (int)tid);
	}
	s->state = SEIZED;
	/* ESRCH here means it is dying; collection will see its exit. */
	if (interrupt)
		ptrace(PTRACE_INTERRUPT, tid, 0, 0);
	return 0;
}

/* Classifies a stop status into the thread record (see the comment at the top). */
static void record_stop(struct sut_thread *t, int st)
{
	int sig = WSTOPSIG(st);
	if ((st >> 16) == PTRACE_EVENT_STOP) {
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
			t->group_stop = true;
	} else if ((st >> 16) == 0) {
		t->pending_sig = sig;
	}
}

/* Polls every SEIZED slot until all are stopped or gone, or the deadline passes. */
static int collect(struct freezer *fz, struct sut_err *err)
{
	unsigned spins = 0;
	for (;;) {
		size_t waiting = 0;
		for (size_t i = 0; i < fz->n; i++) {
			struct slot *s = &fz->v[i];
			if (s->state == DEFERRED) {
				char c = ptr_thread_state(fz->pid, s->tid);
				if (c == '?') {
					s->state = GONE;
				} else if (c != 'D') {
					if (seize_slot(fz, s, err) < 0)
						return -1;
				}
				if (s->state == DEFERRED || s->state == SEIZED)
					waiting++;
				continue;
			}
			if (s->state != SEIZED)
				continue;
			int st;
			pid_t r = waitpid(s->tid, &st, __WALL | WNOHANG);
			if (r == 0 || (r < 0 && errno == EINTR)) {
				waiting++;
				continue;
			}
			if (r < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
				s->state = GONE; /* exited: nothing to release */
				continue;
			}
			/* A signal-delivery-stop met on the way to the interrupt stop: let the
			 * kernel deliver that signal now, as it was about to (handler frame set
			 * up, order and siginfo kept), and wait again: the interrupt is still
			 * pending, so the thread traps before it runs a single instruction. Such a
			 * thread can then run remote syscalls, which a signal storm would
			 * otherwise deny every thread. Bounded, in case signals never stop. */
			if ((st >> 16) == 0 && WSTOPSIG(st) && s->redelivered < 10000 &&
			    ptrace(PTRACE_CONT, s->tid, 0, (long)WSTOPSIG(st)) == 0) {
				s->redelivered++;
				waiting++;
				continue;
			}
			record_stop(&s->t, st);
			if (ptrace(PTRACE_GETREGS, s->tid, 0, &s->t.regs) < 0) {
				if (errno == ESRCH) { /* killed while stopped */
					s->state = GONE;
					continue;
				}
				s->state = STOPPED;
				return sut_errno(err, "pid %d: thread %d: PTRACE_GETREGS",
						 (int)fz->pid, (int)s->tid);
			}
			s->state = STOPPED;
		}
		if (!waiting)
			return 0;
		if (now_ns() > fz->deadline_ns) {
			/* A zombie thread (an exited leader waiting for its group) never stops
			 * and has nothing to patch: drop it instead of failing. */
			size_t stuck = 0;
			pid_t first = 0;
			bool in_d = false;
			for (size_t i = 0; i < fz->n; i++) {
				struct slot *s = &fz->v[i];
				if (s->state != SEIZED && s->state != DEFERRED)
					continue;
				char c = ptr_thread_state(fz->pid, s->tid);
				if (c == 'Z' || c == 'X' || c == '?') {
					if (s->state == SEIZED)
						ptrace(PTRACE_DETACH, s->tid, 0, 0);
					s->state = GONE;
				} else if (!stuck++) {
					first = s->tid;
					in_d = c == 'D';
				}
			}
			if (!stuck)
				return 0;
			fz->stuck = first;
			return sut_errf(err, "pid %d: thread %d did not stop within the timeout%s "
					"(%zu thread(s) not stopped)", (int)fz->pid, (int)first,
					in_d ? " (in an uninterruptible sleep in the kernel)" : "",
					stuck);
		}
		/* Most threads stop within microseconds once they get a CPU: yield a few times,
		 * then sleep briefly, which gives them this thread's CPU too. Raised (see
		 * ptr_boost), a yield would hand it to nobody: it sleeps at once (and a
		 * real-time thread's sleep has no timer slack). */
		if (spins++ < 4 && !fz->boosted) {
			sched_yield();
		} else {
			struct timespec ts = {0, spins < 40 ? 30000 : 100000};
			nanosleep(&ts, NULL);
		}
	}
}

/* Releases every thread as it was found: a pending signal goes back with the detach.
 * The stopped ones first, at once: a thread that will not stop must not hold the others.
 * Threads still running toward their interrupt stop cannot be detached until they stop:
 * they get a short grace period, then become leftovers, released as soon as they stop
 * (sut_ptrace_release_leftovers). Deferred threads were never seized. */
static void note_held(struct freezer *fz, const struct slot *s)
{
	uint64_t held = now_ns() - s->t.held_since_ns;
	if (held > fz->held_max_ns)
		fz->held_max_ns = held;
}

static void freezer_close(struct freezer *fz)
{
	if (fz->taskfd >= 0)
		close(fz->taskfd);
	fz->taskfd = -1;
}

static void release_all(struct freezer *fz)
{
	for (size_t i = 0; i < fz->n; i++) {
		struct slot *s = &fz->v[i];
		if (s->state == STOPPED) {
			ptr_release_stopped(fz->pid, &s->t);
			note_held(fz, s);
			s->state = GONE;
		} else if (s->state == DEFERRED) {
			s->state = GONE;
		}
	}
	fz->deadline_ns = now_ns() + 20000000ULL; /* 20 ms */
	struct sut_err ignored;
	collect(fz, &ignored);
	for (size_t i = 0; i < fz->n; i++) {
		struct slot *s = &fz->v[i];
		if (s->state == STOPPED) {
			ptr_release_stopped(fz->pid, &s->t);
			note_held(fz, s);
		} else if (s->state == SEIZED)
			add_leftover(fz->pid, s->tid);
	}
	free(fz->v);
	fz->v = NULL;
	fz->n = fz->cap = 0;
	freezer_close(fz);
	if (fz->boosted)
		ptr_unboost(fz->prio_was);
	fz->boosted = false;
}

/* Moves the stopped threads into out, leader first. */
static void publish(struct freezer *fz, struct sut_freeze *out)
{
	out->pid = fz->pid;
	out->threads = sut_xcalloc(fz->n ? fz->n : 1, sizeof *out->threads);
	out->n = 0;
	for (int leader = 1; leader >= 0; leader--)
		for (size_t i = 0; i < fz->n; i++)
			if (fz->v[i].state == STOPPED && (fz->v[i].tid == fz->pid) == leader)
				out->threads[out->n++] = fz->v[i].t;
	out->stop_ns = now_ns();
	out->ph = fz->ph;
	out->stop_start_ns = fz->stop_start_ns;
	out->boosted = fz->boosted; /* the thaw ends it */
	out->prio_was = fz->prio_was;
	fz->boosted = false;
	free(fz->v);
	fz->v = NULL;
	freezer_close(fz);
}

static void freezer_init(struct freezer *fz, pid_t pid, int timeout_ms)
{
	memset(fz, 0, sizeof *fz);
	fz->pid = pid;
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
	fz->taskfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fz->deadline_ns = now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ULL;
}

/* skip is sorted (ptr_freeze_except) */
static bool skipped(const pid_t *skip, size_t nskip, pid_t tid)
{
	return nskip && known_in(skip, nskip, tid);
}

static size_t add_new(struct freezer *fz, const pid_t *tids, size_t n, const pid_t *skip,
		      size_t nskip, struct sut_err *err, int *rc)
{
	size_t first = fz->n;
	uint64_t t0 = now_ns();
	/* the slots there were before this round (tids has no duplicates) */
	size_t before = fz->n;
	pid_t *had = known_sorted(fz);
	for (size_t i = 0; i < n; i++) {
		if (known_in(had, before, tids[i]) || skipped(skip, nskip, tids[i]))
			continue;
		struct slot *s = new_slot(fz, tids[i], DEFERRED);
		/* SEIZED here means "to seize": a thread not in 'D' */
		if (state_at(fz->taskfd, fz->pid, tids[i]) != 'D')
			s->state = SEIZED;
	}
	free(had);
	uint64_t t1 = now_ns();
	fz->ph.state_ns += t1 - t0;
	if (!fz->stop_start_ns)
		fz->stop_start_ns = t1;
	/* Seized first, all of them: PTRACE_SEIZE neither stops nor wakes a thread, so the
	 * interrupts that follow are one call each, back to back, and every thread heads for
	 * its stop within the time of those calls alone. */
	*rc = 0;
	for (size_t i = first; i < fz->n; i++) {
		struct slot *s = &fz->v[i];
		if (s->state != SEIZED)
			continue;
		s->state = DEFERRED;
		if (attach_slot(fz, s, false, err) < 0) {
			*rc = -1;
			/* the slots after it were never seized */
			for (size_t k = i + 1; k < fz->n; k++)
				if (fz->v[k].state == SEIZED)
					fz->v[k].state = GONE;
			break;
		}
	}
	uint64_t t2 = now_ns();
	fz->ph.seize_ns += t2 - t1;
	if (fz->n > first && !fz->boosted) {
		fz->boosted = ptr_boost(&fz->prio_was);
		if (fz->boosted && fz->guard)
			ptr_guard_boost(fz->guard);
	}
	/* after a failed seize too: the threads seized before it are released by
	 * release_all, which needs them stopped */
	for (size_t i = first; i < fz->n; i++)
		if (fz->v[i].state == SEIZED)
			ptrace(PTRACE_INTERRUPT, fz->v[i].tid, 0, 0);
	fz->ph.interrupt_ns += now_ns() - t2;
	return fz->n - first;
}

int sut_ptrace_freeze(pid_t pid, int timeout_ms, struct sut_freeze *out, struct sut_err *err)
{
	return ptr_freeze_except(pid, timeout_ms, NULL, 0, NULL, out, err);
}

/* The census (see the top): whether the kernel counts exactly the threads this freeze
 * holds stopped and those its guard traces alive, so that no other thread exists. */
static bool census_complete(struct freezer *fz)
{
	size_t known = 0;
	for (size_t i = 0; i < fz->n; i++) {
		if (fz->v[i].state == STOPPED)
			known++;
		else if (fz->v[i].state != GONE)
			return false;
	}
	if (fz->guard)
		known += ptr_guard_pause_reaping(fz->guard);
	long nr = sut_proc_num_threads(fz->taskfd, fz->pid, fz->pid);
	if (fz->guard)
		ptr_guard_resume_reaping(fz->guard);
	return nr > 0 && (size_t)nr == known;
}

/* ptr_freeze_except with skip sorted. */
static int freeze_except(pid_t pid, int timeout_ms, const pid_t *skip, size_t nskip,
			 struct ptr_guard *guard, struct sut_freeze *out, struct sut_err *err);

int ptr_freeze_except(pid_t pid, int timeout_ms, const pid_t *skip, size_t nskip,
		      struct ptr_guard *guard, struct sut_freeze *out, struct sut_err *err)
{
	/* sorted, for skipped(): the partial freeze skips up to every thread of a thousand */
	pid_t *sorted = sut_xmalloc((nskip ? nskip : 1) * sizeof *sorted);
	if (nskip)
		memcpy(sorted, skip, nskip * sizeof *skip);
	qsort(sorted, nskip, sizeof *sorted, cmp_tid);
	int rc = freeze_except(pid, timeout_ms, sorted, nskip, guard, out, err);
	free(sorted);
	return rc;
}

static int freeze_except(pid_t pid, int timeout_ms, const pid_t *skip, size_t nskip,
			 struct ptr_guard *guard, struct sut_freeze *out, struct sut_err *err)
{
	struct freezer fz;
	sut_ptrace_release_leftovers();
	freezer_init(&fz, pid, timeout_ms);
	fz.partial = nskip > 0;
	fz.guard = guard;
	memset(out, 0, sizeof *out);
	/* Whether the last collection ended past the deadline. Only the next read of the
	 * thread list tells whether the set settled: a collection that merely ended late
	 * (under load, the last thread got a CPU just after the deadline) and finds nobody
	 * new on that read is a complete freeze, not a failure. */
	bool late = false;
	for (;;) {
		pid_t *tids;
		size_t n, added = 0;
		uint64_t l0 = now_ns();
		/* after a collection: the census first, the list only when it does not prove
		 * the set complete */
		if (fz.ph.rounds && census_complete(&fz)) {
			fz.ph.list_ns += now_ns() - l0;
			fz.ph.census++;
			break;
		}
		if (sut_proc_threads(pid, &tids, &n, err) < 0) {
			release_all(&fz);
			return -1;
		}
		fz.ph.list_ns += now_ns() - l0;
		fz.ph.rounds++;
		int rc;
		added = add_new(&fz, tids, n, skip, nskip, err, &rc);
		free(tids);
		if (rc < 0) {
			release_all(&fz);
			return -1;
		}
		if (!added)
			break; /* every listed thread is known and stopped: the set is stable */
		if (late) {
			sut_errf(err, "pid %d: thread set did not settle within the timeout", (int)pid);
			release_all(&fz);
			return -1;
		}
		uint64_t c0 = now_ns();
		if (collect(&fz, err) < 0) {
			out->stuck = fz.stuck;
			release_all(&fz);
			out->held_max_ns = fz.held_max_ns;
			return -1;
		}
		fz.ph.collect_ns += now_ns() - c0;
		late = now_ns() > fz.deadline_ns;
	}
	size_t stopped = 0;
	for (size_t i = 0; i < fz.n; i++)
		stopped += fz.v[i].state == STOPPED;
	if (!stopped && !nskip) {
		release_all(&fz);
		return sut_errf(err, "pid %d: no such process (every thread exited)", (int)pid);
	}
	publish(&fz, out);
	return 0;
}

int sut_ptrace_stop_one(pid_t pid, pid_t tid, int timeout_ms, struct sut_freeze *out,
			struct sut_err *err)
{
	struct freezer fz;
	sut_ptrace_release_leftovers();
	freezer_init(&fz, pid, timeout_ms);
	memset(out, 0, sizeof *out);
	if (seize(&fz, tid, err) < 0) {
		release_all(&fz);
		return -1;
	}
	if (collect(&fz, err) < 0) {
		out->stuck = fz.stuck;
		release_all(&fz);
		out->held_max_ns = fz.held_max_ns;
		return -1;
	}
	if (!fz.n || fz.v[0].state != STOPPED) {
		release_all(&fz);
		return sut_errf(err, "pid %d: thread %d: no such thread", (int)pid, (int)tid);
	}
	publish(&fz, out);
	return 0;
}

void sut_freeze_free(struct sut_freeze *f)
{
	if (!f)
		return;
	if (f->boosted) /* never thawed */
		ptr_unboost(f->prio_was);
	f->boosted = false;
	free(f->threads);
	f->threads = NULL;
	f->n = 0;
	if (f->sl) { /* never thawed: release the sleepers all the same */
		ptr_sleepers_release(f->sl, f->pid, NULL);
		f->sl = NULL;
	}
	free(f->asleep);
	f->asleep = NULL;
	f->nasleep = 0;
}
