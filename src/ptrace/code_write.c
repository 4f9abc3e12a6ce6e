/* SPDX-License-Identifier: Apache-2.0 */
/* Writing entry bytes so that no thread can execute them half written (invariant 7).
 *
 * Under the full freeze every thread is stopped: each piece is one write. Under the
 * partial freeze the sleepers are not stopped, only seized by the guard, so:
 *   1. an int3 over the first byte of every piece (one byte: seen whole or not at all);
 *      from then on a thread that reaches a piece traps, and the guard holds it;
 *   2. the second look at every sleeper: one that was switched in since its first look
 *      may be anywhere, even between the first and the fifth byte of an entry, so the
 *      int3s are taken back and nothing is switched (return 1);
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
	f->nwoke = look_again ? ptr_sleepers_changed(f->sl, f->woke, sizeof f->woke /
							 sizeof *f->woke) : 0;
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
