/* SPDX-License-Identifier: Apache-2.0 */
#include "apply/consistency.h"

#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <string.h>

#include "unwind/unwind.h"
#include "util/buf.h"

/* The live part of a stack is [rsp, end of its mapping); cap the copy so a runaway rsp in
 * a huge mapping cannot make the freeze long. Past the cap we scan nothing and report the
 * thread as blocking rather than guess. */
#define STACK_COPY_MAX (8u << 20)

/* One unwinder per tool thread for its life: CFI is cached per build-id inside it, so many
 * processes and retries parse each object once. Per thread because an unwinder must not
 * be shared between threads (--all runs transactions on a pool of threads). */
static struct sut_unwinder *unwinder(void)
{
	static __thread struct sut_unwinder *u;
	if (!u)
		u = sut_unwinder_new();
	return u;
}

/* The range that code address a lies in. A return address points after its call, so the
 * call itself, at ra - 1, is what lies in a function (ret_adjust). Per-call ranges (the
 * entry bytes a jump overwrites) are about where execution would resume, which is a
 * itself for every kind of address: a PC, a return address, a PC saved in a signal frame. */
static const struct sut_range *hit(const struct sut_range *r, size_t nr, uint64_t a,
				   bool ret_adjust)
{
	for (size_t i = 0; i < nr; i++) {
		uint64_t x = ret_adjust && !r[i].pc_only ? a - 1 : a;
		if (x >= r[i].lo && x < r[i].hi)
			return &r[i];
	}
	return NULL;
}

static int block(struct sut_blocker *b, pid_t tid, uint64_t a, const struct sut_range *r,
		 bool is_pc)
{
	b->tid = tid;
	b->addr = a;
	b->what = r->what;
	b->is_pc = is_pc;
	b->entry = r->pc_only;
	return 1;
}

static int check_thread(const struct sut_thread *t, pid_t pid, const struct sut_maps *maps,
			const struct sut_unwind_module *mods, size_t nmods,
			const struct sut_range *r, size_t nr, struct sut_blocker *b,
			struct sut_err *err)
{
	uint64_t pc = t->regs.rip, sp = t->regs.rsp;
	const struct sut_range *h = hit(r, nr, pc, false);
	if (h)
		return block(b, t->tid, pc, h, true);
	/* A thread left asleep resumes at its PC, or at PC - 2 when the kernel restarts its
	 * call: both are resume points. */
	if (t->asleep && (h = hit(r, nr, pc - 2, false)) != NULL)
		return block(b, t->tid, pc - 2, h, true);
	if (!nr)
		return 0;

	const struct sut_map *m = sut_maps_find(maps, sp);
	if (!m)
		return sut_errf(err, "thread %d: stack pointer 0x%llx is in no mapping", (int)t->tid,
				(unsigned long long)sp);
	size_t len = (size_t)(m->end - sp);
	if (len > STACK_COPY_MAX)
		len = STACK_COPY_MAX;
	uint8_t *stack = sut_xmalloc(len);
	if (sut_proc_read(pid, sp, stack, len, err) < 0) {
		free(stack);
		return sut_err_wrap(err, "thread %d: reading its stack", (int)t->tid);
	}
	struct sut_stack_snapshot snap = {.base = sp, .data = stack, .len = len};
	struct sut_unwind_result u = {0};
	struct sut_err uerr;
	uint64_t scan_from = sp;
	int urc = t->asleep ? sut_unwind_thread_pc_sp(unwinder(), mods, nmods, pc, sp, &snap, 512,
						      &u, &uerr)
			    : sut_unwind_thread(unwinder(), mods, nmods, &t->regs, &snap, 512, &u,
						&uerr);
	if (urc == 0) {
		for (size_t i = 1; i < u.n; i++) {
			h = hit(r, nr, u.pcs[i], true);
			if (h) {
				uint64_t a = u.pcs[i];
				free(u.pcs);
				free(stack);
				return block(b, t->tid, a, h, false);
			}
		}
		scan_from = u.complete ? m->end : u.stop_sp;
	}
	free(u.pcs);
	/* Conservative part: any word that could be a return address into a range counts. */
	int rc = 0;
	if (scan_from < sp)
		scan_from = sp;
	for (uint64_t a = (scan_from + 7) & ~7ULL; a + 8 <= sp + len; a += 8) {
		uint64_t w;
		memcpy(&w, stack + (a - sp), 8);
		h = hit(r, nr, w, true);
		if (h) {
			rc = block(b, t->tid, w, h, false);
			break;
		}
	}
	free(stack);
	return rc;
}

int sut_check_consistency(const struct sut_freeze *f, const struct sut_maps *maps,
			  const struct sut_objects *objs, const struct sut_range *r, size_t nr,
			  struct sut_blocker *b, struct sut_err *err)
{
	struct sut_unwind_module *mods = sut_xcalloc(objs->n, sizeof *mods);
	for (size_t i = 0; i < objs->n; i++) {
		const struct sut_object *o = &objs->v[i];
		mods[i] = (struct sut_unwind_module){.lo = o->lo, .hi = o->hi, .bias = o->bias,
						     .path = o->open_path, .build_id = o->build_id,
						     .build_id_len = o->build_id_len};
	}
	int rc = 0;
	for (size_t i = 0; i < f->n && rc == 0; i++)
		rc = check_thread(&f->threads[i], f->pid, maps, mods, objs->n, r, nr, b, err);
	/* Threads left asleep, from the PC and stack pointer they sleep with. One that
	 * blocks is judged again on its full registers, under the full freeze: 2. */
	for (size_t i = 0; i < f->nasleep && rc == 0 && !f->asleep_checked; i++) {
		rc = check_thread(&f->asleep[i], f->pid, maps, mods, objs->n, r, nr, b, err);
		if (rc == 1)
			rc = 2;
	}
	free(mods);
	return rc;
}

/* Parent pid of pid from /proc/PID/stat, 0 if unreadable. */
static pid_t parent_of(pid_t pid)
{
	char buf[512];
	const char *p = sut_proc_stat_fields(pid, 0, buf, sizeof buf);
	int ppid = 0;
	if (!p || sscanf(p, "%*c %d", &ppid) != 1)
		return 0;
	return (pid_t)ppid;
}

/* Appends the children of every thread of pid (/proc/PID/task/TID/children). */
static void add_children(pid_t pid, pid_t **v, size_t *n, size_t *cap)
{
	pid_t *tids = NULL;
	size_t nt = 0;
	struct sut_err ignored;
	if (sut_proc_threads(pid, &tids, &nt, &ignored) < 0)
		return;
	for (size_t i = 0; i < nt; i++) {
		char path[96];
		snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)tids[i]);
		FILE *f = fopen(path, "re");
		if (!f)
			continue; /* the thread exited, or no CONFIG_PROC_CHILDREN: nothing to see */
		int child;
		while (fscanf(f, "%d", &child) == 1 && *n < 100000) {
			if (*n == *cap) {
				*cap = *cap ? 2 * *cap : 64;
				*v = sut_xrealloc(*v, *cap * sizeof **v);
			}
			(*v)[(*n)++] = child;
		}
		fclose(f);
	}
	free(tids);
}

/* Siblings are compared only when the parent has at most this many children: a parent
 * with many (a service manager, a shell running a thousand copies) would make every
 * transaction cost a kcmp per sibling (about 2.5 us each here), and CLONE_VM siblings
 * under such a parent are not something a program does by accident. */
#define MAX_SIBLINGS 64

/* A process sharing pid's memory was created (clone with CLONE_VM) by a task of that
 * memory, so it is the child or the parent of pid, or, when the process that created both
 * has since exec'd or died (orphans are reparented together, to the same reaper), a
 * sibling. Those are compared with pid by kcmp(KCMP_VM): the vfork child of the target,
 * the target as a vfork child, and two CLONE_VM children of a parent that has exec'd are
 * all found, for the price of the relatives (a scan of every process would cost about
 * 2.5 ms per transaction with a thousand processes, outside the freeze but on every
 * process of apply --all). Not found: a sharer that is none of these (an orphan of a
 * sharer's child, siblings under a parent with more than MAX_SIBLINGS children). */
int sut_check_shared_memory(pid_t pid, struct sut_blocker *b, struct sut_err *err)
{
	pid_t *cand = NULL;
	size_t ncand = 0, cap = 64;
	cand = sut_xmalloc(cap * sizeof *cand);
	pid_t parent = parent_of(pid);
	if (parent > 0) {
		cand[ncand++] = parent;
		add_children(parent, &cand, &ncand, &cap);
		if (ncand > 1 + MAX_SIBLINGS)
			ncand = 1;
	}
	add_children(pid, &cand, &ncand, &cap);
	int rc = 0;
	for (size_t i = 0; i < ncand && rc == 0; i++) {
		pid_t other = cand[i];
		if (other == pid || syscall(SYS_kcmp, pid, other, KCMP_VM, 0, 0) != 0)
			continue;
		const char *how = other == parent
					  ? "its parent: this process is its vfork or CLONE_VM child"
				  : parent_of(other) == pid
					  ? "a vfork or CLONE_VM child that has not exec'd yet"
					  : "a process created with CLONE_VM, as this one was";
		snprintf(b->text, sizeof b->text, "pid %d shares its memory (%s)", (int)other, how);
		b->tid = other;
		b->addr = 0;
		b->what = b->text;
		b->is_pc = true;
		rc = 1;
	}
	(void)err;
	free(cand);
	return rc;
}
