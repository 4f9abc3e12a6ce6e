/* SPDX-License-Identifier: Apache-2.0 */
#include "apply/consistency.h"

#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
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

/* A thread's stack as the check reads it: [sp, sp + len), len bounded by its mapping's
 * end and STACK_COPY_MAX; data NULL until read. */
struct stack_copy {
	const struct sut_map *m; /* the mapping sp lies in; NULL: none (an error if reached) */
	uint64_t sp;
	size_t len;
	uint8_t *data;
	bool read; /* data holds all len bytes */
};

/* Whether the thread's PC alone decides (a resume point in a range): then its stack is
 * neither read nor unwound. */
static const struct sut_range *pc_hit(const struct sut_thread *t, const struct sut_range *r,
				      size_t nr, uint64_t *at)
{
	uint64_t pc = t->regs.rip;
	const struct sut_range *h = hit(r, nr, pc, false);
	*at = pc;
	/* A thread left asleep resumes at its PC, or at PC - 2 when the kernel restarts its
	 * call: both are resume points. */
	if (!h && t->asleep && (h = hit(r, nr, pc - 2, false)) != NULL)
		*at = pc - 2;
	return h;
}

static void plan_stack(const struct sut_thread *t, const struct sut_maps *maps,
		       struct stack_copy *c)
{
	memset(c, 0, sizeof *c);
	c->sp = t->regs.rsp;
	c->m = sut_maps_find(maps, c->sp);
	if (!c->m)
		return;
	c->len = (size_t)(c->m->end - c->sp);
	if (c->len > STACK_COPY_MAX)
		c->len = STACK_COPY_MAX;
}

/* The copies of all planned stacks share one mapping, its pages made present when it is
 * made (MAP_POPULATE): copied into fresh heap memory, every page of every copy faulted in
 * during the read, one fault per 4 kB inside the freeze (a thousand threads: a few
 * thousand faults). Past ARENA_MAX (runaway stack pointers), each copy is allocated on
 * its own. Returns the mapping, or NULL when the copies were allocated one by one. */
#define ARENA_MAX (256u << 20)

static uint8_t *stacks_alloc(struct stack_copy *c, size_t n, size_t *arena_len)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		if (c[i].m)
			total += (c[i].len + 15) & ~(size_t)15;
	*arena_len = total;
	uint8_t *arena = NULL;
	if (total && total <= ARENA_MAX) {
		void *p = mmap(NULL, total, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		arena = p == MAP_FAILED ? NULL : p;
	}
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		if (!c[i].m)
			continue;
		if (arena) {
			c[i].data = arena + off;
			off += (c[i].len + 15) & ~(size_t)15;
		} else {
			c[i].data = sut_xmalloc(c[i].len ? c[i].len : 1);
		}
	}
	return arena;
}

/* Threads per process_vm_readv (its IOV_MAX). */
#define STACKS_PER_READ 1024

/* Reads the planned stacks, many per process_vm_readv: the check of a thousand threads
 * made a thousand calls, each taking the target's memory lock, all inside the freeze. The
 * call stops at the first range it cannot read whole; the stacks before it are complete,
 * the others are left to check_thread's own read (which falls back to /proc/PID/mem). */
static void read_stacks(pid_t pid, struct stack_copy *c, size_t n)
{
	struct iovec *loc = sut_xcalloc(STACKS_PER_READ, sizeof *loc);
	struct iovec *rem = sut_xcalloc(STACKS_PER_READ, sizeof *rem);
	size_t i = 0;
	while (i < n) {
		size_t k = 0, idx[STACKS_PER_READ];
		for (; i < n && k < STACKS_PER_READ; i++) {
			if (!c[i].data || !c[i].len)
				continue;
			loc[k] = (struct iovec){c[i].data, c[i].len};
			rem[k] = (struct iovec){(void *)(uintptr_t)c[i].sp, c[i].len};
			idx[k++] = i;
		}
		if (!k)
			break;
		ssize_t got = process_vm_readv(pid, loc, k, rem, k, 0);
		if (got <= 0)
			continue; /* each thread reads its own */
		size_t left = (size_t)got;
		for (size_t j = 0; j < k && left >= c[idx[j]].len; j++) {
			c[idx[j]].read = true;
			left -= c[idx[j]].len;
		}
	}
	free(loc);
	free(rem);
}

static int check_thread(const struct sut_thread *t, pid_t pid, struct stack_copy *c,
			const struct sut_unwind_module *mods, size_t nmods,
			const struct sut_range *r, size_t nr, struct sut_blocker *b,
			struct sut_err *err)
{
	uint64_t pc = t->regs.rip, sp = t->regs.rsp, at;
	const struct sut_range *h = pc_hit(t, r, nr, &at);
	if (h)
		return block(b, t->tid, at, h, true);
	if (!nr)
		return 0;

	const struct sut_map *m = c->m;
	if (!m)
		return sut_errf(err, "thread %d: stack pointer 0x%llx is in no mapping", (int)t->tid,
				(unsigned long long)sp);
	size_t len = c->len;
	uint8_t *stack = c->data;
	if (!c->read && sut_proc_read(pid, sp, stack, len, err) < 0)
		return sut_err_wrap(err, "thread %d: reading its stack", (int)t->tid);
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
				return block(b, t->tid, a, h, false);
			}
		}
		scan_from = u.complete ? m->end : u.stop_sp;
	}
	free(u.pcs);
	/* Conservative part: any word that could be a return address into a range counts. */
	if (scan_from < sp)
		scan_from = sp;
	for (uint64_t a = (scan_from + 7) & ~7ULL; a + 8 <= sp + len; a += 8) {
		uint64_t w;
		memcpy(&w, stack + (a - sp), 8);
		h = hit(r, nr, w, true);
		if (h)
			return block(b, t->tid, w, h, false);
	}
	return 0;
}

/* Checks threads[0..n) in order (the first that blocks is the one reported, as when each
 * was read and checked in turn); their stacks are read first, in bulk. */
static int check_threads(const struct sut_thread *threads, size_t n, pid_t pid,
			 const struct sut_maps *maps, const struct sut_unwind_module *mods,
			 size_t nmods, const struct sut_range *r, size_t nr,
			 struct sut_blocker *b, struct sut_err *err)
{
	if (!n)
		return 0;
	struct stack_copy *c = sut_xcalloc(n, sizeof *c);
	uint64_t at;
	for (size_t i = 0; i < n; i++)
		if (nr && !pc_hit(&threads[i], r, nr, &at))
			plan_stack(&threads[i], maps, &c[i]);
	size_t arena_len;
	uint8_t *arena = stacks_alloc(c, n, &arena_len);
	read_stacks(pid, c, n);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = check_thread(&threads[i], pid, &c[i], mods, nmods, r, nr, b, err);
	if (arena)
		munmap(arena, arena_len);
	else
		for (size_t i = 0; i < n; i++)
			free(c[i].data);
	free(c);
	return rc;
}

static struct sut_unwind_module *modules_of(const struct sut_objects *objs)
{
	struct sut_unwind_module *mods = sut_xcalloc(objs->n ? objs->n : 1, sizeof *mods);
	for (size_t i = 0; i < objs->n; i++) {
		const struct sut_object *o = &objs->v[i];
		mods[i] = (struct sut_unwind_module){.lo = o->lo, .hi = o->hi, .bias = o->bias,
						     .path = o->open_path, .build_id = o->build_id,
						     .build_id_len = o->build_id_len};
	}
	return mods;
}

/* Objects opened ahead of a freeze, at most: each costs an open and a mapping of the
 * file (tens of µs), holding nobody; past this many, the check opens the rest itself. */
#define PREPARE_MAX 256

void sut_check_prepare(const struct sut_objects *objs)
{
	struct sut_unwind_module *mods = modules_of(objs);
	sut_unwinder_prepare(unwinder(), mods, objs->n, PREPARE_MAX);
	free(mods);
}

int sut_check_consistency(const struct sut_freeze *f, const struct sut_maps *maps,
			  const struct sut_objects *objs, const struct sut_range *r, size_t nr,
			  struct sut_blocker *b, struct sut_err *err)
{
	struct sut_unwind_module *mods = modules_of(objs);
	int rc = check_threads(f->threads, f->n, f->pid, maps, mods, objs->n, r, nr, b, err);
	/* Threads left asleep, from the PC and stack pointer they sleep with. One that
	 * blocks is judged again on its full registers, under the full freeze: 2. */
	if (rc == 0 && !f->asleep_checked) {
		rc = check_threads(f->asleep, f->nasleep, f->pid, maps, mods, objs->n, r, nr, b,
				   err);
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
