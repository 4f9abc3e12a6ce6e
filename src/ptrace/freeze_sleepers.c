/* SPDX-License-Identifier: Apache-2.0 */
/* The partial freeze: stop what may run, leave the sleepers asleep.
 *
 * docs/architecture.md ("Sleeping threads stay asleep") has the argument; in short:
 *   1. every thread is looked at once without being stopped (sleepers.c); those asleep in
 *      a system call suture may leave them in are the sleepers;
 *   2. the guard (sleeper_guard.c) seizes the sleepers without interrupting them;
 *   3. the others are stopped by the full freeze's machinery, which skips the sleepers
 *      the guard holds (not one whose seize found it gone: its TID may be reused) and
 *      re-reads the thread list until no new thread appears. That last read proves the
 *      set: each listed thread is stopped or traced by the guard, and none can be added
 *      after it except by a traced sleeper, whose clone the guard traces too
 *      (TRACECLONE). A thread a sleeper created before its seize is listed, so stopped.
 * The sleepers are published with the PC and stack pointer of their syscall file, for the
 * consistency check; the second look that proves they did not run is made once the
 * int3s are in place (sut_freeze_write_code). */
#include "ptrace/ptrace_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc/proc.h"
#include "util/buf.h"

struct sut_sleepers {
	struct ptr_guard *guard;
	struct ptr_sample *s;
	size_t n;
};

static void sleepers_free(struct sut_sleepers *sl)
{
	for (size_t i = 0; i < sl->n; i++)
		ptr_sample_close(&sl->s[i]);
	free(sl->s);
	free(sl);
}

/* The looks and the check of the sleepers hold no thread of the target, but on a busy
 * machine they take CPU time from it: they run at the lowest priority (nice 19 for this
 * tool thread), and at the previous one again before the first thread is stopped. Only
 * when the previous priority can be restored (root, or CAP_SYS_NICE). Returns the
 * previous nice value (when start). */
static int background(bool start, int was)
{
	pid_t self = (pid_t)syscall(SYS_gettid);
	if (!start) {
		if (was != 19)
			setpriority(PRIO_PROCESS, (id_t)self, was);
		return was;
	}
	errno = 0;
	int cur = getpriority(PRIO_PROCESS, (id_t)self);
	if (errno || geteuid() != 0)
		return 19; /* leave it alone */
	setpriority(PRIO_PROCESS, (id_t)self, 19);
	return cur;
}

static bool listed(const pid_t *v, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == tid)
			return true;
	return false;
}

/* Looking again before anything is stopped. The first looks and the check of a thousand
 * sleepers take tens of milliseconds on a busy machine, long enough for many of them to
 * wake (all of them, when their sleeps are in step): the second look, once the int3s are
 * in place, would find them all switched in, and they would be judged afresh, or
 * stopped, with the other threads held meanwhile. So while nobody is held, those that
 * ran are looked at afresh and checked again (ptr_sleepers_afresh), a few rounds, until
 * almost none did; what is left to the second look is what wakes while threads are
 * held. A sleeper that cannot be judged asleep again now is left as it is: the second
 * look finds it, and it is judged then as any sleeper that ran. */
#define RELOOK_ROUNDS 3
#define RELOOK_FEW 8

static void relook(struct sut_sleepers *sl, pid_t pid,
		   int (*check)(const struct sut_freeze *f, void *ctx), void *ctx)
{
	for (int round = 0; round < RELOOK_ROUNDS; round++) {
		pid_t *ran = NULL;
		size_t k = ptr_sleepers_changed_all(sl, &ran, false); /* nice 19, alone */
		size_t nrest = 0;
		long got = 0;
		if (k) {
			pid_t *rest = sut_xcalloc(k, sizeof *rest);
			got = ptr_sleepers_afresh(sl, pid, ran, k, NULL, NULL, check, ctx, rest,
						  &nrest, false);
			free(rest);
		}
		free(ran);
		if (got < 0 || k <= RELOOK_FEW)
			return;
	}
}

int sut_ptrace_freeze_partial(pid_t pid, int timeout_ms, const pid_t *stop_also,
			      size_t nstop_also, struct sut_freeze *out, struct sut_err *err,
			      int (*check_asleep)(const struct sut_freeze *f, void *ctx),
			      void *ctx)
{
	memset(out, 0, sizeof *out);
	sut_ptrace_release_leftovers();
	if (ptr_mem_pin(pid, err) < 0)
		return -1;
	pid_t *tids;
	size_t n;
	if (sut_proc_threads(pid, &tids, &n, err) < 0) {
		ptr_mem_unpin();
		return -1;
	}
	int nice_was = background(true, 0);
	struct sut_sleepers *sl = sut_xcalloc(1, sizeof *sl);
	sl->s = sut_xcalloc(n ? n : 1, sizeof *sl->s);
	for (size_t i = 0; i < n; i++)
		if (!listed(stop_also, nstop_also, tids[i]) && !ptr_is_leftover(tids[i]) &&
		    ptr_sample(pid, tids[i], &sl->s[sl->n]) == 1)
			sl->n++;
	free(tids);
	if (!sl->n) { /* nothing to leave asleep: the full freeze */
		sleepers_free(sl);
		ptr_mem_unpin();
		background(false, nice_was);
		uint64_t stop_start = sut_ptrace_now_ns();
		int rc = sut_ptrace_freeze(pid, timeout_ms, out, err);
		if (!out->stop_start_ns) /* the freeze's own: its first seize (its state reads
					    before it hold nobody, as under SUTURE_FREEZE=all) */
			out->stop_start_ns = stop_start;
		return rc;
	}
	pid_t *sleeping = sut_xcalloc(sl->n, sizeof *sleeping);
	bool *gone = sut_xcalloc(sl->n, sizeof *gone);
	for (size_t i = 0; i < sl->n; i++)
		sleeping[i] = sl->s[i].tid;
	struct sut_err gerr;
	sl->guard = ptr_guard_start(pid, sleeping, sl->n, gone, nice_was, &gerr);
	if (!sl->guard) { /* e.g. traced by another: the full freeze says so properly */
		free(sleeping);
		free(gone);
		sleepers_free(sl);
		ptr_mem_unpin();
		background(false, nice_was);
		return 1;
	}
	/* the sleepers, as their syscall files show them: checked before anyone is held */
	struct sut_thread *asleep = sut_xcalloc(sl->n, sizeof *asleep);
	size_t nasleep = 0;
	for (size_t i = 0; i < sl->n; i++) {
		if (gone[i])
			continue; /* exited before its seize */
		struct sut_thread *t = &asleep[nasleep++];
		t->tid = sl->s[i].tid;
		t->asleep = true;
		t->regs.rip = sl->s[i].pc;
		t->regs.rsp = sl->s[i].sp;
		t->regs.orig_rax = (unsigned long long)sl->s[i].nr;
	}
	/* skipped by the stops below: the sleepers the guard traces, and those only */
	size_t nskip = 0;
	for (size_t i = 0; i < sl->n; i++)
		if (!gone[i])
			sleeping[nskip++] = sl->s[i].tid;
	free(gone);
	if (check_asleep) {
		struct sut_freeze view = {.pid = pid, .asleep = asleep, .nasleep = nasleep};
		int c = check_asleep(&view, ctx);
		if (c != 0) {
			free(asleep);
			free(sleeping);
			ptr_guard_stop(sl->guard, NULL, 0, NULL, 0, NULL, 0, NULL);
			sleepers_free(sl);
			ptr_mem_unpin();
			background(false, nice_was);
			return c;
		}
	}
	if (check_asleep)
		relook(sl, pid, check_asleep, ctx);
	background(false, nice_was); /* from here on threads are held: full speed */
	uint64_t stop_start = sut_ptrace_now_ns();
	if (ptr_freeze_except(pid, timeout_ms, sleeping, nskip, sl->guard, out, err) < 0) {
		pid_t stuck = out->stuck;
		uint64_t held = out->held_max_ns;
		ptr_guard_stop(sl->guard, NULL, 0, NULL, 0, NULL, 0, NULL);
		free(asleep);
		free(sleeping);
		sleepers_free(sl);
		ptr_mem_unpin();
		out->stuck = stuck;
		out->held_max_ns = held;
		return -1;
	}
	free(sleeping);
	out->asleep = asleep;
	out->nasleep = nasleep;
	out->asleep_checked = check_asleep != NULL;
	if (!out->stop_start_ns) /* as above: the first seize of the threads stopped */
		out->stop_start_ns = stop_start;
	out->sl = sl;
	out->pid = pid;
	return 0;
}

/* ---- used by code_write.c and thaw.c ---- */

bool sut_freeze_sleepers_filtered(const struct sut_freeze *f)
{
	for (size_t i = 0; i < f->nasleep; i++) {
		struct ptr_status ps;
		if (ptr_status_read(f->pid, f->asleep[i].tid, &ps) < 0 || ps.seccomp != 0)
			return true;
	}
	return false;
}

struct ptr_guard *ptr_sleepers_guard(const struct sut_sleepers *sl)
{
	return sl->guard;
}

struct second_look {
	const struct sut_sleepers *sl;
	bool *changed;
};

static void look_again(void *ctx, size_t i)
{
	struct second_look *l = ctx;
	l->changed[i] = !ptr_sample_unchanged(&l->sl->s[i]);
}

/* The reads shared with the guard: every thread is held meanwhile (at 1000 sleepers, 2.5
 * ms read by one thread). */
size_t ptr_sleepers_changed_all(const struct sut_sleepers *sl, pid_t **out, bool shared)
{
	*out = NULL;
	if (!sl->n)
		return 0;
	struct second_look l = {sl, sut_xcalloc(sl->n, sizeof *l.changed)};
	if (shared)
		ptr_guard_share(sl->guard, look_again, &l, sl->n);
	else
		for (size_t i = 0; i < sl->n; i++)
			look_again(&l, i);
	size_t k = 0;
	for (size_t i = 0; i < sl->n; i++)
		if (l.changed[i]) {
			if (!*out)
				*out = sut_xcalloc(sl->n, sizeof **out);
			(*out)[k++] = sl->s[i].tid;
		}
	free(l.changed);
	return k;
}

/* fresh, a later look at one of the sleepers, takes the place of its last one if the
 * thread has not been switched in since fresh was taken; otherwise it is closed. The
 * search starts at *at, where the last one was found: the looks come in the sleepers'
 * order (ptr_sleepers_changed_all), so a thousand of them are found in one pass instead
 * of half a pass each (6 ms at 1000 sleepers, with the other threads held). */
static bool adopt(struct sut_sleepers *sl, struct ptr_sample *fresh, size_t *at)
{
	struct ptr_sample *s = NULL;
	for (size_t k = 0; k < sl->n && !s; k++) {
		size_t i = (*at + k) % sl->n;
		if (sl->s[i].tid == fresh->tid) {
			s = &sl->s[i];
			*at = i;
		}
	}
	if (!s || !ptr_sample_unchanged(fresh)) {
		ptr_sample_close(fresh);
		return false;
	}
	ptr_sample_close(s);
	*s = *fresh;
	/* taken once an int3 was in place: the thread ran while one was, so the guard's end
	 * looks at it (before, it ran on the original bytes only, and the new look is as
	 * good as a first one) */
	s->afresh = ptr_guard_armed(sl->guard);
	return true;
}

/* The fresh looks of ptr_sleepers_afresh, shared with the guard (ptr_guard_share): a
 * look is three small /proc reads, and one of them now and then takes milliseconds in the
 * kernel (seen up to 15 ms for a thread's stat file while a thousand threads wake): two
 * readers halve the time and do not both wait on the same one. */
struct fresh_looks {
	pid_t pid;
	const pid_t *tids;
	struct ptr_sample *fresh;
	int *got; /* ptr_sample's answer for each */
};

static void fresh_look(void *ctx, size_t i)
{
	struct fresh_looks *l = ctx;
	l->got[i] = ptr_sample(l->pid, l->tids[i], &l->fresh[i]);
}

long ptr_sleepers_afresh(struct sut_sleepers *sl, pid_t pid, const pid_t *tids, size_t k,
			 bool (*in_the_way)(uint64_t pc, void *arg), void *arg,
			 int (*judge)(const struct sut_freeze *view, void *ctx), void *ctx,
			 pid_t *rest, size_t *nrest, bool shared)
{
	struct ptr_sample *fresh = sut_xcalloc(k ? k : 1, sizeof *fresh);
	struct sut_thread *th = sut_xcalloc(k ? k : 1, sizeof *th);
	struct fresh_looks l = {pid, tids, fresh, sut_xcalloc(k ? k : 1, sizeof *l.got)};
	if (shared)
		ptr_guard_share(sl->guard, fresh_look, &l, k);
	else
		for (size_t i = 0; i < k; i++)
			fresh_look(&l, i);
	size_t m = 0;
	*nrest = 0;
	for (size_t i = 0; i < k; i++) {
		if (l.got[i] != 1) {
			rest[(*nrest)++] = tids[i];
			continue;
		}
		if (in_the_way && in_the_way(fresh[i].pc, arg)) {
			ptr_sample_close(&fresh[i]);
			rest[(*nrest)++] = tids[i];
			continue;
		}
		struct ptr_sample *s = &fresh[m];
		if (m != i)
			*s = fresh[i];
		struct sut_thread *t = &th[m++];
		t->tid = s->tid;
		t->asleep = true;
		t->regs.rip = s->pc;
		t->regs.rsp = s->sp;
		t->regs.orig_rax = (unsigned long long)s->nr;
	}
	int rc = 0;
	if (m) {
		struct sut_freeze view = {.pid = pid, .asleep = th, .nasleep = m};
		rc = judge(&view, ctx) == 0 ? 0 : -1;
	}
	long adopted = 0;
	size_t at = 0;
	for (size_t i = 0; i < m; i++) {
		if (rc < 0)
			ptr_sample_close(&fresh[i]);
		else if (adopt(sl, &fresh[i], &at))
			adopted++;
		else
			rest[(*nrest)++] = fresh[i].tid;
	}
	free(l.got);
	free(th);
	free(fresh);
	return rc < 0 ? -1 : adopted;
}

/* Appends the children of thread tid of pid (/proc/PID/task/TID/children). */
static void add_children_of(pid_t pid, pid_t tid, pid_t **v, size_t *n, size_t *cap)
{
	char path[96];
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	int c;
	while (fscanf(f, "%d", &c) == 1 && *n < 4096) {
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 16;
			*v = sut_xrealloc(*v, *cap * sizeof **v);
		}
		(*v)[(*n)++] = c;
	}
	fclose(f);
}

uint64_t ptr_sleepers_release(struct sut_sleepers *sl, pid_t pid, struct ptr_guard_end *end)
{
	size_t n;
	const struct ptr_range *r = ptr_mem_written(&n);
	/* every byte is final now: a sleeper whose line is still the same has not run since
	 * its first look, and can no longer meet an int3 of suture's; one that ran may have
	 * met one (the guard's end makes sure its trap is not left pending), and may have
	 * forked while an entry was being written */
	pid_t *woke = NULL, *maybe = NULL;
	size_t nwoke = 0, capwoke = 0, nmaybe = 0, cap = 0;
	bool armed = ptr_guard_armed(sl->guard);
	for (size_t i = 0; armed && i < sl->n; i++) {
		if (!sl->s[i].afresh && ptr_sample_unchanged(&sl->s[i]))
			continue;
		if (nwoke == capwoke) {
			capwoke = capwoke ? 2 * capwoke : 16;
			woke = sut_xrealloc(woke, capwoke * sizeof *woke);
		}
		woke[nwoke++] = sl->s[i].tid;
		add_children_of(pid, sl->s[i].tid, &maybe, &nmaybe, &cap);
	}
	pid_t born[256];
	size_t nborn = armed ? ptr_guard_new_threads(sl->guard, born, 256) : 0;
	for (size_t i = 0; i < nborn; i++)
		add_children_of(pid, born[i], &maybe, &nmaybe, &cap);
	uint64_t held = ptr_guard_stop(sl->guard, r, n, woke, nwoke, maybe, nmaybe, end);
	free(woke);
	free(maybe);
	sleepers_free(sl);
	ptr_mem_unpin();
	return held;
}
