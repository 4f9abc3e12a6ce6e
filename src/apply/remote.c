/* SPDX-License-Identifier: Apache-2.0 */
#include "apply/remote.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif

/* Bytes below the borrowed thread's stack pointer that the memfd's name is written to:
 * past the 128-byte red zone the ABI lets a function keep there, in memory a signal
 * frame would take, so nothing of the program lives in it while the thread is stopped. */
#define RED_ZONE 128
#define SCRATCH_LEN 256
_Static_assert(RED_ZONE + SCRATCH_LEN + 16 <= SUT_REMOTE_FRAME_GAP,
	       "the way home of the calls (ptrace layer) keeps below the scratch area");

/* The scratch area, when it is mapped and writable (a probe: read, written back as it
 * was); 0 otherwise (staging then names the memfd through a placeholder mapping). */
static uint64_t stack_scratch(pid_t pid, const struct sut_thread *t)
{
	uint64_t sp = t->regs.rsp;
	if (sp < 4096 + RED_ZONE + SCRATCH_LEN)
		return 0;
	uint64_t at = (sp - RED_ZONE - SCRATCH_LEN) & ~15ull;
	uint8_t was[SCRATCH_LEN];
	struct sut_err ignored;
	if (sut_proc_read(pid, at, was, sizeof was, &ignored) < 0 ||
	    sut_ptrace_write(pid, at, was, sizeof was, &ignored) < 0)
		return 0;
	return at;
}

void sut_remote_prepare(pid_t pid, const struct sut_maps *maps)
{
	struct sut_syscall_site warm;
	struct sut_err ignored;
	(void)sut_proc_find_syscall_site(pid, maps, &warm, &ignored);
}

int sut_remote_init(struct sut_remote *r, struct sut_freeze *f, const struct sut_maps *maps,
		    struct sut_err *err)
{
	r->f = f;
	long ti = sut_freeze_syscall_thread(f);
	if (ti < 0)
		return sut_errf(err, "pid %d: no thread is in a state that can run a system call",
				(int)f->pid);
	r->ti = (size_t)ti;
	if (sut_proc_find_syscall_site(f->pid, maps, &r->site, err) < 0)
		return -1;
	const struct sut_thread *t = &f->threads[r->ti];
	const struct sut_map *stack = sut_maps_find(maps, t->regs.rsp);
	if (stack && stack->perms[0] == 'r' && stack->perms[1] == 'w') {
		r->site.stack_lo = stack->start;
		r->site.stack_hi = stack->end;
	}
	r->scratch = stack_scratch(f->pid, t);
	return 0;
}

/* How a memfd mapping is made. Named through the stack (the usual way): memfd_create with
 * the name in the scratch area, ftruncate, the mapping at `place` (MAP_FIXED_NOREPLACE:
 * atomic against a gap taken meanwhile), its read-write part, close: one batch, one
 * borrowing of the thread. Through a placeholder (no scratch area, or the kernel chooses
 * the address of a mapping with a read-write part): an anonymous mapping first reserves
 * the range and holds the name, and the memfd mapping replaces it (MAP_FIXED over our own
 * placeholder only). Neither ever maps over memory that is not staging's. */
static bool via_stack(const struct sut_remote *r, uint64_t place, uint64_t rw)
{
	return r->scratch && (place || !rw);
}

/* The calls sut_remote_map makes, those of its failure path included; arguments the kernel
 * decides (the memfd's number, an address it chooses) are unknown to the check. */
static size_t map_plan(const struct sut_remote *r, uint64_t place, uint64_t rx, int rx_prot,
		       uint64_t rw, struct sut_syscall_plan *p)
{
	uint64_t total = rx + rw;
	size_t n = 0;
	uint8_t at; /* bit of an argument that is an address unknown in advance */
	uint64_t fixed;
	if (via_stack(r, place, rw)) {
		at = place ? 0 : 1;
		fixed = place ? MAP_FIXED_NOREPLACE : 0;
		p[n++] = (struct sut_syscall_plan){SYS_memfd_create, {r->scratch, MFD_CLOEXEC}, 0, 0};
	} else {
		at = place ? 0 : 1;
		int flags = MAP_PRIVATE | MAP_ANONYMOUS | (place ? MAP_FIXED_NOREPLACE : 0);
		p[n++] = (struct sut_syscall_plan){SYS_mmap, {place, total, PROT_READ | PROT_WRITE,
							      (uint64_t)flags, (uint64_t)-1, 0}, 0, 0};
		p[n++] = (struct sut_syscall_plan){SYS_memfd_create, {place, MFD_CLOEXEC}, at, 0};
		fixed = MAP_FIXED;
	}
	p[n++] = (struct sut_syscall_plan){SYS_ftruncate, {0, total}, 1, 0};
	p[n++] = (struct sut_syscall_plan){SYS_mmap, {place, rx, (uint64_t)rx_prot,
						      MAP_PRIVATE | fixed, 0, 0},
					   (uint8_t)(at | 1u << 4), 0};
	if (rw)
		p[n++] = (struct sut_syscall_plan){SYS_mmap, {place + rx, rw, PROT_READ | PROT_WRITE,
							      MAP_PRIVATE | fixed, 0, rx},
						   (uint8_t)(at | 1u << 4), 0};
	p[n++] = (struct sut_syscall_plan){SYS_close, {0}, 1, 0};
	p[n++] = (struct sut_syscall_plan){SYS_munmap, {place, rx}, at, 0};
	p[n++] = (struct sut_syscall_plan){SYS_munmap, {place, total}, at, 0};
	return n;
}

int sut_remote_check_map(const struct sut_remote *r, uint64_t place, uint64_t rx, int rx_prot,
			 uint64_t rw, struct sut_err *err)
{
	struct sut_syscall_plan p[10];
	size_t n = map_plan(r, place, rx, rx_prot, rw, p);
	return sut_seccomp_check(r->f->pid, r->f->threads[r->ti].tid, r->site.insn, p, n, err);
}

int sut_remote_check_unmap(const struct sut_remote *r, uint64_t addr, uint64_t len,
			   struct sut_err *err)
{
	struct sut_syscall_plan p = {SYS_munmap, {addr, len}, 0, 0};
	return sut_seccomp_check(r->f->pid, r->f->threads[r->ti].tid, r->site.insn, &p, 1, err);
}

#define KERR(ret) ((unsigned long)(ret) > -4096UL)

static int batch(struct sut_remote *r, struct sut_remote_call *c, size_t n, size_t *done,
		 struct sut_err *err)
{
	return sut_ptrace_syscalls(r->f, r->ti, &r->site, c, n, done, NULL, err);
}

/* Undo after a failure: close the memfd if it is open, unmap [addr, addr + len) if
 * staging mapped it (len 0: nothing mapped). A failure to undo keeps the first error. */
static void undo_map(struct sut_remote *r, long fd, uint64_t addr, uint64_t len)
{
	struct sut_remote_call c[2];
	size_t n = 0, done;
	if (len)
		c[n++] = (struct sut_remote_call){.nr = SYS_munmap, .args = {(long)addr, (long)len}};
	if (fd >= 0)
		c[n++] = (struct sut_remote_call){.nr = SYS_close, .args = {fd}};
	struct sut_err ignored;
	if (n)
		batch(r, c, n, &done, &ignored);
}

static int kernel_err(long ret, struct sut_err *err, const char *fmt, pid_t pid, const char *name)
{
	errno = (int)-ret;
	return sut_errno(err, fmt, (int)pid, name);
}

int sut_remote_map(struct sut_remote *r, const char *name, uint64_t place, uint64_t rx,
		   int rx_prot, uint64_t rw, uint64_t *addr, struct sut_err *err)
{
	pid_t pid = r->f->pid;
	uint64_t total = rx + rw;
	char nm[SCRATCH_LEN];
	if (strlen(name) >= sizeof nm)
		return sut_errf(err, "pid %d: memfd name too long: %s", (int)pid, name);
	snprintf(nm, sizeof nm, "%s", name);
	bool stack = via_stack(r, place, rw);
	uint64_t name_at, at = place, fixed;
	size_t done;
	if (stack) {
		name_at = r->scratch;
		fixed = place ? MAP_FIXED_NOREPLACE : 0;
	} else {
		int flags = MAP_PRIVATE | MAP_ANONYMOUS | (place ? MAP_FIXED_NOREPLACE : 0);
		struct sut_remote_call ph = {.nr = SYS_mmap,
					     .args = {(long)place, (long)total,
						      PROT_READ | PROT_WRITE, flags, -1, 0}};
		if (batch(r, &ph, 1, &done, err) < 0)
			return -1;
		if (KERR(ph.ret)) {
			errno = (int)-ph.ret;
			return sut_errno(err, "pid %d: remote mmap of %s at 0x%llx", (int)pid, name,
					 (unsigned long long)place);
		}
		at = (uint64_t)ph.ret;
		name_at = at;
		fixed = MAP_FIXED; /* over our own placeholder */
	}
	if (place && at != place) {
		/* an old kernel ignoring MAP_FIXED_NOREPLACE treats it as a hint */
		undo_map(r, -1, at, total);
		return sut_errf(err, "pid %d: could not map %s at 0x%llx", (int)pid, name,
				(unsigned long long)place);
	}
	if (sut_ptrace_write(pid, name_at, nm, strlen(nm) + 1, err) < 0) {
		if (!stack)
			undo_map(r, -1, at, total);
		return -1;
	}
	/* memfd_create, ftruncate, the mapping (its read-only or executable part, then its
	 * read-write part), close: one borrowing of the thread */
	struct sut_remote_call c[SUT_REMOTE_BATCH_MAX];
	size_t n = 0;
	c[n++] = (struct sut_remote_call){.nr = SYS_memfd_create, .args = {(long)name_at, MFD_CLOEXEC}};
	c[n++] = (struct sut_remote_call){.nr = SYS_ftruncate, .args = {0, (long)total},
					  .from_ret = 1, .from = 0};
	c[n++] = (struct sut_remote_call){.nr = SYS_mmap,
					  .args = {(long)at, (long)rx, rx_prot,
						   MAP_PRIVATE | (long)fixed, 0, 0},
					  .from_ret = 1u << 4, .from = 0};
	size_t imap = n - 1, irw = 0;
	if (rw) {
		irw = n;
		c[n++] = (struct sut_remote_call){.nr = SYS_mmap,
						  .args = {(long)(at + rx), (long)rw,
							   PROT_READ | PROT_WRITE,
							   MAP_PRIVATE | (long)fixed, 0, (long)rx},
						  .from_ret = 1u << 4, .from = 0};
	}
	c[n++] = (struct sut_remote_call){.nr = SYS_close, .args = {0}, .from_ret = 1, .from = 0};
	if (batch(r, c, n, &done, err) < 0)
		return -1; /* the thread cannot be driven: nothing more can be undone */
	long fd = done >= 1 && !KERR(c[0].ret) ? c[0].ret : -1;
	if (done == n && !KERR(c[n - 1].ret))
		fd = -1; /* closed */
	/* what the mapping calls made, and whether each landed where asked */
	bool rx_ok = done > imap && !KERR(c[imap].ret) && (!at || (uint64_t)c[imap].ret == at);
	bool rw_ok = !rw || (done > irw && !KERR(c[irw].ret) && (uint64_t)c[irw].ret == at + rx);
	uint64_t got = done > imap && !KERR(c[imap].ret) ? (uint64_t)c[imap].ret : 0;
	if (!stack) {
		/* the placeholder covers the whole range: one munmap undoes everything */
		if (done < n || KERR(c[done - 1].ret) || !rx_ok || !rw_ok) {
			undo_map(r, fd, at, total);
			goto failed;
		}
	} else if (done < n || KERR(c[done - 1].ret) || !rx_ok || !rw_ok) {
		uint64_t len = got ? (rw && done > irw && !KERR(c[irw].ret) ? total : rx) : 0;
		undo_map(r, fd, got, len);
		goto failed;
	}
	*addr = got;
	return 0;
failed:
	for (size_t i = 0; i < done; i++)
		if (KERR(c[i].ret)) {
			static const char *what[] = {"remote memfd_create(%s)", "remote ftruncate of %s",
						     "remote mmap of %s", "remote mmap of %s",
						     "remote close of %s"};
			const char *w = c[i].nr == SYS_memfd_create ? what[0]
				      : c[i].nr == SYS_ftruncate    ? what[1]
				      : c[i].nr == SYS_mmap         ? what[2]
								    : what[4];
			char fmt[80];
			snprintf(fmt, sizeof fmt, "pid %%d: %s", w);
			return kernel_err(c[i].ret, err, fmt, pid, name);
		}
	return sut_errf(err, "pid %d: could not map %s at 0x%llx", (int)pid, name,
			(unsigned long long)at);
}

int sut_remote_unmap(struct sut_remote *r, uint64_t addr, uint64_t len, struct sut_err *err)
{
	struct sut_remote_call c = {.nr = SYS_munmap, .args = {(long)addr, (long)len}};
	size_t done;
	if (batch(r, &c, 1, &done, err) < 0)
		return -1;
	long ret = c.ret;
	if (KERR(ret)) {
		errno = (int)-ret;
		return sut_errno(err, "pid %d: remote munmap at 0x%llx", (int)r->f->pid,
				 (unsigned long long)addr);
	}
	return 0;
}

/* Which thread staging borrows (docs/architecture.md, "Which thread staging holds"),
 * judged without stopping any (/proc/PID/task/TID/stat and syscall), cheapest first:
 *
 *   SHORT        asleep ('S') in a call that ends by itself within SHORT_SLEEP_MS
 *                (nanosleep, a futex wait, epoll_wait or poll with a timeout...) and
 *                installs no temporary signal mask, not the main thread: it will wake
 *                soon anyway (the partial freeze stops such threads too); held inside its
 *                sleep it loses nothing, since the restarted call keeps its deadline;
 *   SHORT_MAIN   the same, the main thread;
 *   RUNNING      running or runnable, not the main thread (it loses CPU time while held:
 *                each stop is bounded, and another thread is tried when it does not stop
 *                in time);
 *   MAIN         the main thread, running or runnable;
 *   RESTARTED    in restart_syscall: a timed sleep (nanosleep, a futex wait or a poll
 *                with a timeout) that a stop interrupted, resumed with a deadline /proc
 *                does not show; often the end of a short sleep staging or a freeze just
 *                interrupted, but it may be a long one, so after the threads above;
 *   FOREVER      asleep for good (no timeout, or one of a second or more) with a plain
 *                mask, other threads before the main one: holding it wakes it (its
 *                voluntary context-switch count moves), which the partial freeze never
 *                does, so only when nothing else exists;
 *   AWKWARD      asleep with a temporary signal mask (signals cannot be blocked for the
 *                calls), in 'D', stopped, or unreadable. */
enum stage_cost {
	SHORT,
	SHORT_MAIN,
	RUNNING,
	MAIN,
	RESTARTED,
	FOREVER,
	FOREVER_MAIN,
	AWKWARD,
	NCOSTS
};

/* The bound of a short sleep: the partial freeze's (a sleeper that wakes within a second
 * is not left asleep there either). */
#define SHORT_SLEEP_MS 1000

static bool temporary_mask(const struct sut_proc_syscall *sc)
{
	const uint64_t *a = sc->args;
	switch (sc->nr) {
	case SYS_rt_sigsuspend:
		return true;
	case SYS_ppoll:
		return a[3] != 0;
	case SYS_pselect6:
	case SYS_io_pgetevents:
		return a[5] != 0;
	case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
#endif
	case SYS_io_uring_enter:
		return a[4] != 0;
	default:
		return false;
	}
}

struct candidate {
	pid_t tid;
	enum stage_cost cost;
	long long sleep_ms; /* SHORT*: the longest its call sleeps */
};

static void judge(pid_t pid, struct candidate *c)
{
	char buf[512];
	bool main = c->tid == pid;
	const char *q = sut_proc_stat_fields(pid, c->tid, buf, sizeof buf);
	c->sleep_ms = -1;
	if (!q || (q[0] != 'S' && q[0] != 'R')) {
		c->cost = AWKWARD;
		return;
	}
	struct sut_proc_syscall sc;
	struct sut_err ignored;
	if (q[0] == 'R' || (sut_proc_syscall_read(pid, c->tid, &sc, &ignored) == 0 &&
			    sc.state == SUT_SYSCALL_RUNNING)) {
		c->cost = main ? MAIN : RUNNING;
		return;
	}
	if (sc.state != SUT_SYSCALL_IN_CALL || temporary_mask(&sc)) {
		c->cost = AWKWARD;
		return;
	}
	if (sc.nr == SYS_restart_syscall) {
		c->cost = RESTARTED;
		return;
	}
	long long ms = sut_proc_syscall_sleep_ms(pid, &sc);
	if (ms >= 0 && ms < SHORT_SLEEP_MS) {
		c->cost = main ? SHORT_MAIN : SHORT;
		c->sleep_ms = ms;
	} else {
		c->cost = main ? FOREVER_MAIN : FOREVER;
	}
}

/* A short sleeper is stopped just after it fell asleep again, when its sleeps are short
 * enough to wait for one (at most this long): the hold then ends before its deadline, and
 * the restarted call sleeps on as if nothing happened. Longer sleeps are stopped at once
 * (a hold of a few hundred microseconds meets their end rarely). Nobody is held while
 * waiting; the wait is a few reads of a small file. */
#define FRESH_SLEEP_WAIT_MS 20
#define FRESH_SLEEP_POLL_US 50

/* The number of times the thread was switched in (schedstat's third field), or -1. */
static long long switch_ins(int fd)
{
	char b[128];
	ssize_t n = pread(fd, b, sizeof b - 1, 0);
	if (n <= 0)
		return -1;
	b[n] = 0;
	unsigned long long run, wait, count;
	if (sut_proc_schedstat_parse(b, &run, &wait, &count) < 0 || count == 0)
		return -1;
	return (long long)count;
}

static void await_fresh_sleep(pid_t pid, const struct candidate *c)
{
	if (c->cost > SHORT_MAIN || c->sleep_ms < 0 || c->sleep_ms > FRESH_SLEEP_WAIT_MS)
		return;
	char path[96], buf[512];
	snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, (int)c->tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	long long first = switch_ins(fd);
	uint64_t until = sut_ptrace_now_ns() + (uint64_t)(c->sleep_ms + 2) * 1000000ull;
	while (first >= 0 && sut_ptrace_now_ns() < until) {
		struct timespec pause = {0, FRESH_SLEEP_POLL_US * 1000L};
		nanosleep(&pause, NULL);
		long long now = switch_ins(fd);
		if (now < 0)
			break;
		const char *q;
		struct sut_proc_syscall sc;
		struct sut_err ignored;
		/* it woke, ran and sleeps again, in a call of its own (not the rest of a sleep
		 * a stop interrupted, restart_syscall): a whole sleep lies ahead */
		if (now != first && (q = sut_proc_stat_fields(pid, c->tid, buf, sizeof buf)) &&
		    q[0] == 'S' && sut_proc_syscall_read(pid, c->tid, &sc, &ignored) == 0 &&
		    sc.state == SUT_SYSCALL_IN_CALL && sc.nr != SYS_restart_syscall)
			break;
	}
	close(fd);
}

/* One attempt to stop a thread for staging waits at most this long: a thread that takes
 * longer is waiting for a CPU (or stuck in the kernel), and holding it while it waits
 * would cost the application more than trying another, or again later. */
#define STAGE_STOP_MS 3
/* Rounds (a stop of at most STAGE_STOP_MS each, then 2 ms apart: some 50 ms) in which a
 * thread of the kinds before RESTARTED that did not stop in time is tried again before a
 * thread asleep (perhaps for good) is taken instead. */
#define PATIENT_ROUNDS 10

int sut_with_one_thread(pid_t pid, const struct sut_maps *maps, int timeout_ms,
			int (*fn)(struct sut_remote *r, void *arg, struct sut_err *err), void *arg,
			uint64_t *held_max_ns, struct sut_err *err)
{
	struct sut_maps own = {0};
	if (!maps) {
		if (sut_proc_maps(pid, &own, err) < 0)
			return -1;
		maps = &own;
	}
	sut_remote_prepare(pid, maps);
	uint64_t deadline = sut_ptrace_now_ns() +
			    (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
	int rc = -1;
	bool ran = false, timed_out = true;
	for (int round = 0; !ran && timed_out; round++) {
		timed_out = false;
		pid_t *tids = NULL;
		size_t n = 0;
		if (sut_proc_threads(pid, &tids, &n, err) < 0)
			break;
		struct candidate *cand = sut_xcalloc(n ? n : 1, sizeof *cand);
		for (size_t k = 0; k < n; k++) {
			cand[k].tid = tids[k];
			judge(pid, &cand[k]);
		}
		/* the last rounds (or a short timeout) give a thread the whole remaining time */
		uint64_t now = sut_ptrace_now_ns();
		int left_ms = now < deadline ? (int)((deadline - now) / 1000000ull) : 0;
		int stop_ms = round < 20 && left_ms > 4 * STAGE_STOP_MS ? STAGE_STOP_MS : left_ms;
		bool cheaper = false; /* a thread of a kind before RESTARTED exists */
		for (size_t k = 0; k < n; k++)
			cheaper |= cand[k].cost < RESTARTED;
		for (int c = 0; c < NCOSTS && !ran; c++) {
			/* a thread that only waits for a CPU is tried again (after a pause) for a
			 * while rather than waking one that sleeps, maybe for good */
			if (c >= RESTARTED && cheaper && timed_out && round < PATIENT_ROUNDS)
				break;
			for (size_t k = 0; k < n && !ran; k++) {
				if (cand[k].cost != (enum stage_cost)c)
					continue;
				await_fresh_sleep(pid, &cand[k]);
				struct sut_freeze f;
				if (sut_ptrace_stop_one(pid, tids[k], stop_ms, &f, err) < 0) {
					if (held_max_ns && f.held_max_ns > *held_max_ns)
						*held_max_ns = f.held_max_ns;
					timed_out |= f.stuck != 0;
					continue;
				}
				struct sut_remote r;
				int ok = sut_remote_init(&r, &f, maps, err);
				if (ok == 0)
					rc = fn(&r, arg, err);
				struct sut_err e2;
				if (sut_ptrace_thaw(&f, &e2) < 0 && rc == 0) {
					*err = e2;
					rc = -1;
				}
				if (held_max_ns && f.held_max_ns > *held_max_ns)
					*held_max_ns = f.held_max_ns;
				sut_freeze_free(&f);
				ran = ok == 0; /* fn ran: its result stands */
				/* the freeze comes next: not in the sleep this hold fell in, which
				 * would then lose both holds and the time between them */
				if (ran)
					await_fresh_sleep(pid, &cand[k]);
			}
		}
		free(cand);
		free(tids);
		if (ran || !timed_out || !sut_proc_exists(pid))
			break;
		if (sut_ptrace_now_ns() >= deadline)
			break; /* err holds the last thread's reason */
		struct timespec pause = {0, 2000000L}; /* let the CPU-starved threads run */
		nanosleep(&pause, NULL);
	}
	sut_proc_maps_free(&own);
	return rc;
}
