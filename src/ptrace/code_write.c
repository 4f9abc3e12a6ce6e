/* SPDX-License-Identifier: Apache-2.0 */
/* Writing entry bytes so that no thread can execute them half written (invariant 7).
 *
 * Under the full freeze every thread is stopped: each piece is one write. Under the
 * partial freeze the sleepers are not stopped, only seized by the guard, so:
 *   1. an int3 over the first byte of every piece (one byte: seen whole or not at all);
 *      from then on a thread that reaches a piece traps, and the guard holds it;
 *   2. the second look at every sleeper: one that was switched in since its first look
 *      may be anywhere, even between the first and the fifth byte of an entry: it is
 *      judged where it sleeps again (a fresh look), or else stopped by the guard and
 *      judged on its full registers (judge_woken); if one is in the way, or cannot be
 *      judged, the int3s are taken back and nothing is switched (return 1);
 *   3. the other bytes of every piece, then its first byte.
 * A failed write puts back what was there, in the same order (first byte last). */
#include "ptrace/ptrace_internal.h"

#include <stdlib.h>
#include <string.h>

#include "proc/proc.h"
#include "util/buf.h"

#define MAX_PIECE 15

static void put_back(pid_t pid, const struct sut_code_write *w, uint8_t (*old)[MAX_PIECE],
		     size_t n, bool heads_only)
{
	struct sut_err ignored;
	static const uint8_t int3 = 0xcc;
	if (!heads_only) {
		for (size_t i = 0; i < n; i++)
			sut_ptrace_write(pid, w[i].addr, &int3, 1, &ignored);
		for (size_t i = 0; i < n; i++)
			if (w[i].len > 1)
				sut_ptrace_write(pid, w[i].addr + 1, old[i] + 1, w[i].len - 1,
						 &ignored);
	}
	for (size_t i = 0; i < n; i++)
		sut_ptrace_write(pid, w[i].addr, old[i], 1, &ignored);
}

/* Sleepers found awake at the second look, at most this many are judged; with more the
 * attempt ends (they are stopped in the next attempts). Judging one costs a fresh look
 * and a stack read, some 40 us while the others wake too, with the stopped threads held:
 * at a thousand threads sleeping 100 ms in step, 300-900 of them found awake held the
 * others 15-50 ms, where ending the attempt and making another (its sampling holds
 * nobody) held them 3-7 ms twice (docs/performance.md). Until December 2026: 1024. */
#define MAX_JUDGED 64
/* How long the guard may take to stop them: each is off the entries (int3s), so this is
 * the time a runnable thread needs to reach its stop. */
#define JUDGE_STOP_MS 20

static bool strictly_inside(const struct sut_code_write *w, size_t n, uint64_t a)
{
	for (size_t i = 0; i < n; i++)
		if (a > w[i].addr && a < w[i].addr + w[i].len)
			return true;
	return false;
}

struct pieces {
	const struct sut_code_write *w;
	size_t n;
};

/* A sleeper resumes at its PC, or at PC - 2 when its call is restarted: neither may lie
 * inside bytes being written (past a piece's first). */
static bool in_the_way(uint64_t pc, void *arg)
{
	const struct pieces *p = arg;
	return strictly_inside(p->w, p->n, pc) || strictly_inside(p->w, p->n, pc - 2);
}

/* Sleepers that ran since their last look are asleep again, most of them, by the time
 * the int3s are in place (a thread that sleeps 100 ms runs for microseconds in between):
 * each is looked at afresh and judged where it sleeps now (ptr_sleepers_afresh). Taken
 * after the int3s, the look says where the thread is, and from then on it can reach an
 * entry only through an int3: judged there, it is as safe as a sleeper that never woke,
 * with no stop and no wake-up of suture's. Those found running, in the way, or that ran
 * again before the look was confirmed are left in stop[] (judge_stopped). */
static int judge_afresh(struct sut_freeze *f, const struct sut_code_write *w, size_t n,
			const pid_t *tids, size_t k, pid_t *stop, size_t *nstop)
{
	struct pieces p = {w, n};
	long got = ptr_sleepers_afresh(f->sl, f->pid, tids, k, in_the_way, &p, f->judge,
				       f->judge_ctx, stop, nstop, true);
	if (got < 0)
		return -1;
	f->nafresh += (size_t)got;
	return 0;
}

/* Sleepers that ran and could not be judged asleep (the k in tids), with every int3 in
 * place: stopped by the guard and judged by f->judge on their full registers, as a thread
 * stopped by the full freeze is. A thread held on an int3 resumes on the entry with the
 * final bytes: it is judged from its caller's frame (its return address, on the top of
 * its stack at an entry). Any other may resume at its PC, or at PC - 2 when its call is
 * restarted: neither may lie inside bytes being written (past a piece's first). 0 when
 * every one is held (or gone) and none is in the way; they stay held until the thaw. */
static int judge_stopped(struct sut_freeze *f, const struct sut_code_write *w, size_t n,
			 const pid_t *tids, size_t k)
{
	if (!k)
		return 0;
	struct ptr_held_view *v = sut_xcalloc(k, sizeof *v);
	struct sut_thread *th = sut_xcalloc(k, sizeof *th);
	int rc = ptr_guard_hold(ptr_sleepers_guard(f->sl), tids, k, JUDGE_STOP_MS, v);
	size_t m = 0;
	for (size_t i = 0; i < k && rc == 0; i++) {
		if (v[i].gone)
			continue;
		struct sut_thread *t = &th[m++];
		t->tid = v[i].tid;
		t->regs = v[i].regs;
		if (v[i].trap_addr) {
			uint64_t ra;
			struct sut_err e;
			if (sut_proc_read(f->pid, t->regs.rsp, &ra, sizeof ra, &e) < 0)
				rc = -1;
			t->regs.rip = ra;
			t->regs.rsp += 8;
		} else if (strictly_inside(w, n, t->regs.rip) ||
			   strictly_inside(w, n, t->regs.rip - 2)) {
			rc = -1;
		}
	}
	if (rc == 0 && m) {
		struct sut_freeze view = {.pid = f->pid, .threads = th, .n = m};
		rc = f->judge(&view, f->judge_ctx) == 0 ? 0 : -1;
	}
	f->njudged += k;
	free(th);
	free(v);
	return rc;
}

/* The sleepers that ran since their last look (the k in tids, as the second look found
 * them; one that woke after it did so with every int3 in place, as the argument for the
 * sleepers requires): judged afresh where they sleep again, stopped and judged where
 * not. 0 when none is in the way. */
static int judge_woken(struct sut_freeze *f, const struct sut_code_write *w, size_t n,
		       const pid_t *tids, size_t k)
{
	if (!f->judge || k > MAX_JUDGED)
		return -1;
	pid_t *stop = sut_xcalloc(k ? k : 1, sizeof *stop);
	size_t nstop = 0;
	int rc = judge_afresh(f, w, n, tids, k, stop, &nstop);
	if (rc == 0)
		rc = judge_stopped(f, w, n, stop, nstop);
	free(stop);
	return rc;
}

int sut_freeze_write_code(struct sut_freeze *f, const struct sut_code_write *w, size_t n,
			  bool look_again, struct sut_err *err)
{
	pid_t pid = f->pid;
	f->nwoke = 0;
	if (!n)
		return 0;
	uint8_t (*old)[MAX_PIECE] = sut_xcalloc(n, sizeof *old);
	int rc = -1;
	for (size_t i = 0; i < n; i++) {
		if (w[i].len < 1 || w[i].len > MAX_PIECE) {
			sut_errf(err, "pid %d: code piece of %zu bytes at 0x%llx", (int)pid, w[i].len,
				 (unsigned long long)w[i].addr);
			goto out;
		}
		if (sut_proc_read(pid, w[i].addr, old[i], w[i].len, err) < 0)
			goto out;
	}
	if (!f->sl) {
		for (size_t i = 0; i < n; i++) {
			if (sut_ptrace_write(pid, w[i].addr, w[i].bytes, w[i].len, err) < 0) {
				struct sut_err ignored;
				for (size_t k = 0; k < i; k++)
					sut_ptrace_write(pid, w[k].addr, old[k], w[k].len, &ignored);
				goto out;
			}
		}
		rc = 0;
		goto out;
	}
	struct ptr_guard *g = ptr_sleepers_guard(f->sl);
	static const uint8_t int3 = 0xcc;
	for (size_t i = 0; i < n; i++)
		ptr_guard_expect_trap(g, w[i].addr);
	for (size_t i = 0; i < n; i++) {
		if (sut_ptrace_write(pid, w[i].addr, &int3, 1, err) < 0) {
			put_back(pid, w, old, i, true);
			goto out;
		}
	}
	pid_t *ran = NULL;
	size_t nran = look_again ? ptr_sleepers_changed_all(f->sl, &ran, true) : 0;
	size_t cap = sizeof f->woke / sizeof *f->woke;
	f->nwoke = nran < cap ? nran : cap;
	for (size_t i = 0; i < f->nwoke; i++)
		f->woke[i] = ran[i];
	f->ph.woke += nran;
	size_t afresh_was = f->nafresh, stopped_was = f->njudged;
	int judged = nran ? judge_woken(f, w, n, ran, nran) : -1;
	f->ph.afresh += f->nafresh - afresh_was;
	f->ph.stopped += f->njudged - stopped_was;
	if (judged == 0)
		f->nwoke = 0;
	free(ran);
	if (f->nwoke) {
		put_back(pid, w, old, n, true);
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (w[i].len > 1 &&
		    sut_ptrace_write(pid, w[i].addr + 1, w[i].bytes + 1, w[i].len - 1, err) < 0) {
			put_back(pid, w, old, n, false);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (sut_ptrace_write(pid, w[i].addr, w[i].bytes, 1, err) < 0) {
			put_back(pid, w, old, n, false);
			goto out;
		}
	}
	rc = 0;
out:
	free(old);
	return rc;
}
