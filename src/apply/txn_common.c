/* SPDX-License-Identifier: Apache-2.0 */
#include "apply/txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/env.h"

/* Longest time one freeze attempt waits for every thread to stop (see sut_frozen_retry). */
#define FREEZE_ATTEMPT_MS 250

uint64_t sut_now_ns(void)
{
	return sut_ptrace_now_ns(); /* one clock for the freeze's own stamps and ours */
}

void sut_hold_signals(sigset_t *old)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGHUP);
	sigaddset(&s, SIGQUIT);
	sigaddset(&s, SIGTSTP);
	sigaddset(&s, SIGPIPE);
	sigaddset(&s, SIGALRM);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, old);
}

void sut_release_signals(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

int sut_registry_write(pid_t pid, const struct sut_registry *reg, struct sut_err *err)
{
	uint8_t *buf = sut_xmalloc(reg->hdr.size);
	long n = sut_registry_encode(reg, buf, reg->hdr.size, err);
	/* One write for header and records: a write to /proc/PID/mem completes or not as a
	 * whole even if suture is killed (the kernel checks for the kill on return), and the
	 * target is frozen, so the registry moves from one consistent state to the next.
	 * Repair (repair.c) relies on that. */
	int rc = n < 0 ? -1 : sut_ptrace_write(pid, reg->addr, buf, (size_t)n, err);
	free(buf);
	return rc;
}

/* The backoff between attempts: 1 ms doubling, at most this much. */
#define BACKOFF_MAX_MS 100

void sut_backoff(int attempt)
{
	long ms = 1L << (attempt < 7 ? attempt : 7); /* 2^7 > BACKOFF_MAX_MS */
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

int sut_blocked_error(struct sut_err *err, const struct sut_target *t,
		      const struct sut_blocker *b, int attempts, const char *op)
{
	if (!b->addr) /* not a thread of the process: something sharing its memory */
		return sut_errf(err, "%s: %s refused after %d attempts: at the last one %s; nothing "
				"was changed", sut_target_label(t), op, attempts, b->what);
	if (b->entry)
		return sut_errf(err, "%s: %s refused after %d attempts: at the last one thread %d "
				"would resume at 0x%llx (%s), inside the first five bytes of %s, which "
				"the jump overwrites; nothing was changed", sut_target_label(t), op,
				attempts, (int)b->tid, (unsigned long long)b->addr,
				b->is_pc ? "its PC" : "a return address or a PC saved in a signal frame",
				b->what);
	return sut_errf(err,
			"%s: %s refused after %d attempts: at the last one thread %d %s %s "
			"(0x%llx); nothing was changed (a function that is always on some thread's "
			"stack, such as a main loop, can only be replaced by a patch built with "
			"--per-call, when that is safe)",
			sut_target_label(t), op, attempts, (int)b->tid,
			b->is_pc ? "is executing in" : "has a return address into", b->what,
			(unsigned long long)b->addr);
}

bool sut_entry_half_written(const uint8_t cur[SUT_JMP_LEN], const uint8_t from[SUT_JMP_LEN],
			    const uint8_t to[SUT_JMP_LEN])
{
	return cur[0] == 0xcc && (memcmp(cur + 1, from + 1, SUT_JMP_LEN - 1) == 0 ||
				  memcmp(cur + 1, to + 1, SUT_JMP_LEN - 1) == 0);
}

/* Attempts of the partial freeze ended by a sleeper that woke, before the transaction
 * goes on with the full freeze. */
#define PARTIAL_ATTEMPTS 5

/* The partial freeze's check of the sleepers, before anything is stopped. */
struct asleep_check {
	struct sut_target *t;
	const struct sut_range *r;
	size_t nr;
};

/* Any doubt (a sleeper seems to block, or its stack cannot be read: it may have exited
 * meanwhile) sends the transaction to the full freeze, which judges, or reports, with
 * every thread stopped. */
static int check_asleep(const struct sut_freeze *f, void *ctx)
{
	struct asleep_check *a = ctx;
	struct sut_blocker b;
	struct sut_err ignored;
	if (sut_target_refresh_maps(a->t, &ignored) < 0)
		return SUT_FROZEN_FULL;
	int chk = sut_check_consistency(f, &a->t->maps, &a->t->objs, a->r, a->nr, &b, &ignored);
	return chk == 0 ? 0 : SUT_FROZEN_FULL;
}

/* Sleepers that woke during the attempt, stopped by the guard: judged on their full
 * registers, as the full freeze judges a stopped thread. Any doubt: no (the attempt then
 * ends, and they are stopped in the next). */
static int judge_woken(const struct sut_freeze *view, void *ctx)
{
	struct asleep_check *a = ctx;
	struct sut_blocker b;
	struct sut_err ignored;
	return sut_check_consistency(view, &a->t->maps, &a->t->objs, a->r, a->nr, &b, &ignored) == 0
		       ? 0
		       : -1;
}

int sut_frozen_retry(struct sut_target *t, int timeout_ms, const char *op, sut_frozen_fn fn,
		     void *ctx, const struct sut_range *ranges, size_t nranges,
		     struct sut_txn_result *res, struct sut_err *err)
{
	uint64_t deadline = sut_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	/* The partial freeze by default: threads asleep in a system call are left asleep
	 * (docs/architecture.md, "Sleeping threads stay asleep"). SUTURE_FREEZE=all: every
	 * thread is stopped, as the partial freeze's fallback does (SUTURE_FREEZE=sleepers,
	 * or unset, or anything else: the default). */
	const char *mode = sut_env("SUTURE_FREEZE");
	bool partial = !(mode && strcmp(mode, "all") == 0);
	int woke = 0;
	/* sleepers that woke during an attempt: stopped in the next ones */
	pid_t restless[256];
	size_t nrestless = 0;
	sut_check_prepare(&t->objs); /* CFI opened now: the check under the freeze only reads */
	for (int attempt = 1;; attempt++) {
		/* Checked just before the freeze, not inside it: reading every thread's
		 * children would lengthen the freeze, and the vfork child this looks for is
		 * created by a thread that cannot then be frozen before it execs anyway. */
		struct sut_blocker sb;
		int sh = sut_check_shared_memory(t->pid, &sb, err);
		if (sh < 0)
			return sut_err_wrap(err, "%s", sut_target_label(t));
		if (sh == 1) {
			res->attempts = attempt;
			if (sut_now_ns() >= deadline)
				return sut_blocked_error(err, t, &sb, attempt, op);
			sut_backoff(attempt);
			continue;
		}
		struct sut_freeze f;
		sigset_t old;
		sut_hold_signals(&old);
		uint64_t t0 = sut_now_ns();
		/* One attempt holds the stopped threads at most FREEZE_ATTEMPT_MS while waiting
		 * for the rest: a thread that cannot stop now (in the kernel, in an
		 * uninterruptible sleep) then counts as blocking, like a thread inside a
		 * function, and the others run again during the backoff. */
		int attempt_ms = timeout_ms < FREEZE_ATTEMPT_MS ? timeout_ms : FREEZE_ATTEMPT_MS;
		struct asleep_check ac = {t, ranges, nranges};
		int fr = partial ? sut_ptrace_freeze_partial(t->pid, attempt_ms, restless,
							     nrestless, &f, err, check_asleep, &ac)
				 : sut_ptrace_freeze(t->pid, attempt_ms, &f, err);
		if (fr == 1 || fr == SUT_FROZEN_FULL) { /* nothing held */
			/* 1: a sleeper changed while it was being seized; FULL: one seems to
			 * block the rule, to be judged on its full registers */
			sut_release_signals(&old);
			res->attempts = attempt;
			partial = fr == 1 && ++woke < PARTIAL_ATTEMPTS;
			continue;
		}
		if (fr < 0) {
			sut_release_signals(&old);
			res->attempts = attempt;
			if (f.held_max_ns > res->held_ns)
				res->held_ns = f.held_max_ns;
			if (!f.stuck)
				return sut_err_wrap(err, "%s", sut_target_label(t));
			/* the blocker's text outlives err->msg, which the error below rewrites */
			char what[SUT_ERR_MAX];
			snprintf(what, sizeof what, "%s", err->msg);
			struct sut_blocker stuck = {.tid = f.stuck, .addr = 0, .what = what};
			if (sut_now_ns() >= deadline)
				return sut_blocked_error(err, t, &stuck, attempt, op);
			sut_backoff(attempt);
			continue;
		}
		if (f.stop_start_ns)
			t0 = f.stop_start_ns; /* sampling and checking the sleepers held nobody */
		if (f.sl) {
			f.judge = judge_woken;
			f.judge_ctx = &ac;
		}
		res->attempts = attempt;
		res->nthreads = f.n + f.nasleep;
		struct sut_blocker b;
		uint64_t m0 = sut_now_ns();
		int chk = sut_target_refresh_maps(t, err);
		uint64_t m1 = sut_now_ns();
		f.ph.maps_ns = m1 - m0;
		if (chk == 0)
			chk = fn(&f, t, ctx, &b, err);
		uint64_t fn_ns = sut_now_ns() - m1;
		f.ph.work_ns = fn_ns > f.ph.check_ns ? fn_ns - f.ph.check_ns : 0;
		/* a thread that cannot be released has vanished: nothing more to do for it */
		struct sut_err e2;
		sut_ptrace_thaw(&f, &e2);
		/* the freeze ends when the last thread it stopped is released; the guard's
		 * end after that (milliseconds at a thousand sleepers) holds only the sleepers
		 * it stopped, counted in held_max_ns */
		res->freeze_ns = (f.released_ns ? f.released_ns : sut_now_ns()) - t0;
		if (f.held_max_ns > res->held_ns)
			res->held_ns = f.held_max_ns;
		res->phases = f.ph;
		for (size_t k = 0; chk == SUT_FROZEN_WOKE && k < f.nwoke; k++)
			if (nrestless < sizeof restless / sizeof *restless)
				restless[nrestless++] = f.woke[k];
		/* the freeze's span bounds the holds of the threads it stopped (and
		 * includes the reading of the thread list before the first seize, so it is a
		 * little above the longest single hold) */
		if (res->freeze_ns > res->held_ns)
			res->held_ns = res->freeze_ns;
		sut_freeze_free(&f);
		sut_release_signals(&old);
		if (chk <= 0)
			return chk;
		if (chk == SUT_FROZEN_FULL) {
			partial = false;
			continue;
		}
		if (chk == SUT_FROZEN_WOKE) {
			partial = ++woke < PARTIAL_ATTEMPTS;
			continue;
		}
		if (sut_now_ns() >= deadline)
			return sut_blocked_error(err, t, &b, attempt, op);
		sut_backoff(attempt);
	}
}
