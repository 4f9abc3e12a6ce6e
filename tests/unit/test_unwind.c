/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the unwind layer on live processes.
 *
 * The fixture program calls f1 -> f2 -> f3, built with -O2 -fomit-frame-pointer so that
 * frame pointers cannot help: only CFI finds the return addresses. f3 blocks in read() on a
 * pipe nobody writes. The test stops the thread itself with plain ptrace (SEIZE + INTERRUPT,
 * not the ptrace layer, to test this layer alone), copies registers and the live stack,
 * describes the mapped objects from /proc/PID/maps, and checks the unwound return addresses
 * against the executable's symbols (nm) plus its load bias. */
#include "fixtures.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

#include "unwind/unwind.h"
#include "unwind/unwind_internal.h"

#include <dwarf.h>

static const char *chain_src =
	"#include <pthread.h>\n"
	"#include <signal.h>\n"
	"#include <string.h>\n"
	"#include <unistd.h>\n"
	"static int fds[2];\n"
	"__attribute__((noipa)) int f3(int x)\n"
	"{\n"
	"	char c = 0;\n"
	"	if (write(1, \"ready\\n\", 6) != 6)\n"
	"		return -1;\n"
	"	if (read(fds[0], &c, 1) < 0) /* blocks: nobody writes fds[1] */\n"
	"		return -1;\n"
	"	return x + c;\n"
	"}\n"
	"__attribute__((noipa)) int f2(int x) { return f3(x + 1) * 3; }\n"
	"__attribute__((noipa)) int f1(int x) { return f2(x * 2) + 5; }\n"
	"static void *worker(void *a) { return (void *)(long)f1((int)(long)a); }\n"
	"static void on_usr1(int sig) { f1(sig); }\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	if (pipe(fds))\n"
	"		return 1;\n"
	"	if (argc > 1 && strcmp(argv[1], \"thread\") == 0) {\n"
	"		pthread_t t;\n"
	"		pthread_create(&t, 0, worker, 0);\n"
	"		pthread_join(t, 0);\n"
	"		return 0;\n"
	"	}\n"
	"	if (argc > 1 && strcmp(argv[1], \"signal\") == 0) {\n"
	"		signal(SIGUSR1, on_usr1); /* the handler blocks in f3 */\n"
	"		raise(SIGUSR1);\n"
	"		return 0;\n"
	"	}\n"
	"	return f1(argc);\n"
	"}\n";

static struct sut_unwinder *unwinder; /* shared by the tests: the cache carries over */

struct sym {
	const char *name;
	uint64_t lo, hi; /* ELF vaddrs */
};
static const char *const sym_names[] = { "f1", "f2", "f3", "main", "worker", "_start", "on_usr1" };
enum { S_F1, S_F2, S_F3, S_MAIN, S_WORKER, S_START, S_ON_USR1, S_N };

/* One build of the fixture program and where its functions are. */
struct prog {
	char *exe;
	struct sym syms[S_N];
};
static struct prog with_eh_frame;    /* the usual build: .eh_frame */
static struct prog with_debug_frame; /* no unwind tables, -g: only .debug_frame */
static struct prog without_cfi;      /* no unwind tables, no -g: no CFI for f1..f3 */

static void load_symbols(struct prog *pr)
{
	struct sym *syms = pr->syms;
	char cmd[600], line[512];
	for (int i = 0; i < S_N; i++)
		syms[i] = (struct sym){ .name = sym_names[i] };
	snprintf(cmd, sizeof cmd, "nm -S --defined-only '%s'", pr->exe);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof line, p)) {
		unsigned long long a, sz;
		char type, name[256];
		if (sscanf(line, "%llx %llx %c %255s", &a, &sz, &type, name) != 4)
			continue;
		for (int i = 0; i < S_N; i++)
			if (strcmp(name, syms[i].name) == 0) {
				syms[i].lo = a;
				syms[i].hi = a + sz;
			}
	}
	pclose(p);
	for (int i = 0; i < S_N; i++)
		assert_true(syms[i].hi > syms[i].lo);
}

/* --- a child process to unwind --- */

struct child {
	pid_t pid;
	int out; /* its stdout */
};

static struct child spawn(const struct prog *pr, const char *mode)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl(pr->exe, pr->exe, mode, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	struct child c = { pid, p[0] };
	char buf[8] = { 0 };
	size_t got = 0;
	while (got < 6) {
		ssize_t n = read(c.out, buf + got, 6 - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_string_equal(buf, "ready\n");
	return c;
}

/* Waits until thread tid sits in system call nr (first field of /proc/PID/task/TID/syscall). */
static void wait_in_syscall(pid_t pid, pid_t tid, int nr)
{
	char path[128], buf[256];
	snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", pid, tid);
	for (int i = 0; i < 5000; i++) {
		FILE *f = fopen(path, "r");
		if (f) {
			int cur = -2;
			if (fgets(buf, sizeof buf, f) && sscanf(buf, "%d", &cur) == 1 && cur == nr) {
				fclose(f);
				return;
			}
			fclose(f);
		}
		usleep(1000);
	}
	fail_msg("thread %d never blocked in system call %d", tid, nr);
}

static pid_t other_thread(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	for (int tries = 0; tries < 5000; tries++) {
		DIR *d = opendir(path);
		assert_non_null(d);
		struct dirent *e;
		pid_t tid = 0;
		while ((e = readdir(d)))
			if (atoi(e->d_name) > 0 && atoi(e->d_name) != pid)
				tid = atoi(e->d_name);
		closedir(d);
		if (tid)
			return tid;
		usleep(1000);
	}
	fail_msg("no second thread in %d", pid);
	return 0;
}

static void seize_stop(pid_t tid, struct user_regs_struct *regs)
{
	int st;
	assert_int_equal(ptrace(PTRACE_SEIZE, tid, 0, 0), 0);
	assert_int_equal(ptrace(PTRACE_INTERRUPT, tid, 0, 0), 0);
	assert_int_equal(waitpid(tid, &st, __WALL), tid);
	assert_true(WIFSTOPPED(st));
	assert_int_equal(ptrace(PTRACE_GETREGS, tid, 0, regs), 0);
}

static void detach(pid_t tid)
{
	assert_int_equal(ptrace(PTRACE_DETACH, tid, 0, 0), 0);
}

static void end_child(struct child *c)
{
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	close(c->out);
}

/* --- what a caller gives the unwinder: modules and a stack copy --- */

struct proc_view {
	struct sut_unwind_module mods[64];
	char paths[64][300];      /* path as in maps, to group mappings */
	char open_paths[64][128]; /* /proc/PID/map_files/... */
	uint8_t ids[64][64];
	size_t n;
	const struct prog *prog;
	uint64_t exe_bias;
	struct sut_stack_snapshot stack;
	uint8_t *stack_copy;
};

/* Build-id and first PT_LOAD vaddr of an ELF file. */
static void elf_facts(const char *path, uint8_t *id, size_t *id_len, uint64_t *first_vaddr)
{
	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	size_t nph;
	assert_int_equal(elf_getphdrnum(e, &nph), 0);
	*first_vaddr = UINT64_MAX;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < *first_vaddr)
			*first_vaddr = ph.p_vaddr & ~0xfffULL;
	}
	*id_len = 0;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;
		while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0)
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    memcmp((char *)d->d_buf + name_off, "GNU", 4) == 0 && nh.n_descsz <= 64) {
				memcpy(id, (char *)d->d_buf + desc_off, nh.n_descsz);
				*id_len = nh.n_descsz;
			}
	}
	elf_end(e);
	close(fd);
}

/* Reads /proc/PID/maps into modules (file mappings grouped by path) and copies the stack
 * from rsp to the end of the mapping that contains it. */
static void view_process(const struct prog *pr, pid_t pid, uint64_t rsp, bool with_build_ids,
			 struct proc_view *v)
{
	memset(v, 0, sizeof *v);
	v->prog = pr;
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	uint64_t stack_end = 0;
	uint64_t offset0_start[64] = { 0 };
	while (fgets(line, sizeof line, f)) {
		unsigned long long lo, hi, off;
		char perms[8], name[300] = "";
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %299s", &lo, &hi, perms, &off, name) < 4)
			continue;
		if (rsp >= lo && rsp < hi)
			stack_end = hi;
		if (name[0] != '/')
			continue;
		size_t i;
		for (i = 0; i < v->n; i++)
			if (strcmp(v->paths[i], name) == 0)
				break;
		if (i == v->n) {
			assert_true(v->n < 64);
			v->n++;
			snprintf(v->paths[i], sizeof v->paths[i], "%s", name);
			snprintf(v->open_paths[i], sizeof v->open_paths[i], "/proc/%d/map_files/%llx-%llx",
				 pid, lo, hi);
			v->mods[i].lo = lo;
			v->mods[i].hi = hi;
		}
		if (lo < v->mods[i].lo)
			v->mods[i].lo = lo;
		if (hi > v->mods[i].hi)
			v->mods[i].hi = hi;
		if (off == 0 && !offset0_start[i])
			offset0_start[i] = lo;
	}
	fclose(f);
	for (size_t i = 0; i < v->n; i++) {
		size_t id_len;
		uint64_t first_vaddr;
		elf_facts(v->open_paths[i], v->ids[i], &id_len, &first_vaddr);
		v->mods[i].bias = offset0_start[i] - first_vaddr;
		v->mods[i].path = v->open_paths[i];
		v->mods[i].build_id = with_build_ids ? v->ids[i] : NULL;
		v->mods[i].build_id_len = with_build_ids ? id_len : 0;
		if (strcmp(v->paths[i], pr->exe) == 0)
			v->exe_bias = v->mods[i].bias;
	}
	assert_true(stack_end > rsp);
	size_t len = stack_end - rsp;
	v->stack_copy = malloc(len);
	struct iovec local = { v->stack_copy, len }, remote = { (void *)(uintptr_t)rsp, len };
	assert_int_equal(process_vm_readv(pid, &local, 1, &remote, 1, 0), (ssize_t)len);
	v->stack = (struct sut_stack_snapshot){ rsp, v->stack_copy, len };
}

static bool in_sym(const struct proc_view *v, uint64_t pc, int s)
{
	const struct sym *sy = &v->prog->syms[s];
	return pc >= v->exe_bias + sy->lo && pc < v->exe_bias + sy->hi;
}

static void print_pcs(const char *what, const struct sut_unwind_result *r)
{
	fprintf(stderr, "%s: %zu frames, complete=%d%s%s\n", what, r->n, r->complete,
		r->complete ? "" : ", stopped: ", r->complete ? "" : r->stop_reason);
	for (size_t i = 0; i < r->n; i++)
		fprintf(stderr, "  #%zu 0x%llx\n", i, (unsigned long long)r->pcs[i]);
}

/* Index of the first pc inside f3: frames before it are in libc's read. */
static size_t expect_chain(const struct proc_view *v, const struct sut_unwind_result *r,
			   int outer)
{
	size_t i = 0;
	while (i < r->n && !in_sym(v, r->pcs[i], S_F3))
		i++;
	assert_true(i >= 1);        /* pcs[0] is in read(), not in the program */
	assert_true(i + 3 < r->n);
	assert_true(in_sym(v, r->pcs[i + 1], S_F2));
	assert_true(in_sym(v, r->pcs[i + 2], S_F1));
	assert_true(in_sym(v, r->pcs[i + 3], outer));
	return i;
}

static void test_main_thread_complete(void **state)
{
	(void)state;
	struct child c = spawn(&with_eh_frame, "single");
	wait_in_syscall(c.pid, c.pid, 0 /* read */);
	struct user_regs_struct regs;
	seize_stop(c.pid, &regs);
	struct proc_view v;
	view_process(&with_eh_frame, c.pid, regs.rsp, true, &v);

	struct sut_err err = { 0 };
	struct sut_unwind_result r;
	assert_int_equal(sut_unwind_thread(unwinder, v.mods, v.n, &regs, &v.stack, 64, &r, &err), 0);
	print_pcs("main thread", &r);
	assert_true(r.complete);
	assert_int_equal(r.pcs[0], regs.rip);
	expect_chain(&v, &r, S_MAIN);
	/* outermost: _start, whose CFI marks the return address undefined */
	assert_true(in_sym(&v, r.pcs[r.n - 1], S_START));
	size_t cached = sut_unwinder_cached(unwinder);
	assert_true(cached >= 2); /* at least the program and libc */

	/* Warm cache: time 1000 unwinds of this stack (a number to read, not a pass mark). */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < 1000; k++) {
		struct sut_unwind_result again;
		assert_int_equal(sut_unwind_thread(unwinder, v.mods, v.n, &regs, &v.stack, 64,
						   &again, &err), 0);
		assert_int_equal(again.n, r.n);
		free(again.pcs);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3;
	fprintf(stderr, "1000 unwinds of %zu frames, warm cache: %.0f us (%.2f us each)\n", r.n,
		us, us / 1000);
	assert_int_equal(sut_unwinder_cached(unwinder), cached); /* nothing parsed again */

	/* A truncated snapshot never yields more than the full unwind, never claims to be
	 * complete unless it reached the same end, and agrees on every frame it does give. */
	bool saw_partial = false;
	for (size_t cut = 0; cut <= v.stack.len; cut += 8) {
		struct sut_stack_snapshot part = { v.stack.base, v.stack.data, cut };
		struct sut_unwind_result t;
		assert_int_equal(sut_unwind_thread(unwinder, v.mods, v.n, &regs, &part, 64, &t, &err), 0);
		assert_true(t.n >= 1 && t.n <= r.n);
		assert_memory_equal(t.pcs, r.pcs, t.n * sizeof *t.pcs);
		if (t.complete) {
			assert_int_equal(t.n, r.n);
		} else {
			assert_true(t.stop_sp >= regs.rsp);
			assert_true(t.stop_reason[0] != 0);
			if (t.n > 1)
				saw_partial = true;
		}
		if (cut == 0) {
			assert_false(t.complete);
			assert_int_equal(t.n, 1);
			assert_int_equal(t.stop_sp, regs.rsp);
		}
		free(t.pcs);
	}
	assert_true(saw_partial);

	/* max frames: stops there, incomplete, with the stack pointer of the last frame. */
	struct sut_unwind_result m;
	assert_int_equal(sut_unwind_thread(unwinder, v.mods, v.n, &regs, &v.stack, 3, &m, &err), 0);
	assert_int_equal(m.n, 3);
	assert_false(m.complete);
	assert_true(m.stop_sp > regs.rsp);
	assert_memory_equal(m.pcs, r.pcs, 3 * sizeof *m.pcs);
	free(m.pcs);

	/* No modules: the pc is nowhere, so only the pc itself is known. */
	struct sut_unwind_result none;
	assert_int_equal(sut_unwind_thread(unwinder, NULL, 0, &regs, &v.stack, 64, &none, &err), 0);
	assert_int_equal(none.n, 1);
	assert_false(none.complete);
	assert_int_equal(none.stop_sp, regs.rsp);
	assert_non_null(strstr(none.stop_reason, "no known object"));
	free(none.pcs);

	/* Without build-ids the same stack unwinds the same, and nothing is cached. */
	struct sut_unwinder *fresh = sut_unwinder_new();
	struct proc_view nob;
	view_process(&with_eh_frame, c.pid, regs.rsp, false, &nob);
	struct sut_unwind_result r2;
	assert_int_equal(sut_unwind_thread(fresh, nob.mods, nob.n, &regs, &nob.stack, 64, &r2, &err), 0);
	assert_true(r2.complete);
	assert_int_equal(r2.n, r.n);
	assert_memory_equal(r2.pcs, r.pcs, r.n * sizeof *r.pcs);
	assert_int_equal(sut_unwinder_cached(fresh), 0);
	free(r2.pcs);
	free(nob.stack_copy);
	sut_unwinder_free(fresh);

	/* Invalid arguments are the only error. */
	struct sut_unwind_result bad;
	assert_int_equal(sut_unwind_thread(unwinder, v.mods, v.n, &regs, &v.stack, 0, &bad, &err), -1);
	assert_true(err.msg[0] != 0);

	free(r.pcs);
	free(v.stack_copy);
	detach(c.pid);
	end_child(&c);
}

static void test_second_thread_complete(void **state)
{
	(void)state;
	struct child c = spawn(&with_eh_frame, "thread");
	pid_t tid = other_thread(c.pid);
	wait_in_syscall(c.pid, tid, 0 /* read */);
	wait_in_syscall(c.pid, c.pid, 202 /* futex: pthread_join */);
	size_t cached_before = sut_unwinder_cached(unwinder);

	/* The worker: read <- f3 <- f2 <- f1 <- worker <- start_thread <- clone3 (outermost). */
	struct user_regs_struct regs;
	seize_stop(tid, &regs);
	struct proc_view v;
	view_process(&with_eh_frame, c.pid, regs.rsp, true, &v);
	struct sut_err err = { 0 };
	struct sut_unwind_result r;
	assert_int_equal(sut_unwind_thread(unwinder, v.mods, v.n, &regs, &v.stack, 64, &r, &err), 0);
	print_pcs("worker thread", &r);
	assert_true(r.complete);
	size_t i = expect_chain(&v, &r, S_WORKER);
	assert_true(r.n >= i + 5); /* libc's thread start code lies beyond worker */
	free(r.pcs);
	free(v.stack_copy);

	/* The main thread, in pthread_join's futex wait, unwinds to _start through main. */
	struct user_regs_struct mregs;
	seize_stop(c.pid, &mregs);
	view_process(&with_eh_frame, c.pid, mregs.rsp, true, &v);
	assert_int_equal(sut_unwind_thread(unwinder, v.mods, v.n, &mregs, &v.stack, 64, &r, &err), 0);
	print_pcs("main thread in join", &r);
	assert_true(r.complete);
	bool saw_main = false;
	for (size_t k = 0; k < r.n; k++)
		saw_main |= in_sym(&v, r.pcs[k], S_MAIN);
	assert_true(saw_main);
	assert_true(in_sym(&v, r.pcs[r.n - 1], S_START));
	free(r.pcs);
	free(v.stack_copy);

	/* Same program, same libc, another process: the build-id cache parsed nothing new
	 * (libpthread is part of libc on this target, so no object is new). */
	if (cached_before > 0)
		fprintf(stderr, "cached objects: %zu before, %zu after\n", cached_before,
			sut_unwinder_cached(unwinder));
	assert_true(cached_before == 0 || sut_unwinder_cached(unwinder) == cached_before);

	detach(tid);
	detach(c.pid);
	end_child(&c);
}

/* A thread blocked inside a signal handler: the walk crosses the kernel's signal frame
 * (libc's sigreturn trampoline, whose CFI reads the saved context from the stack) back to
 * the interrupted code and on to _start. */
static void test_through_signal_frame(void **state)
{
	(void)state;
	struct child c = spawn(&with_eh_frame, "signal");
	wait_in_syscall(c.pid, c.pid, 0 /* read */);
	struct user_regs_struct regs;
	seize_stop(c.pid, &regs);
	struct proc_view v;
	view_process(&with_eh_frame, c.pid, regs.rsp, true, &v);
	struct sut_err err = { 0 };
	struct sut_unwind_result r;
	assert_int_equal(sut_unwind_thread(unwinder, v.mods, v.n, &regs, &v.stack, 64, &r, &err), 0);
	print_pcs("signal handler", &r);
	assert_true(r.complete);
	size_t i = expect_chain(&v, &r, S_ON_USR1);
	/* after the handler: the trampoline, the interrupted raise() in libc, then main */
	bool saw_main = false;
	for (size_t k = i + 4; k < r.n; k++)
		saw_main |= in_sym(&v, r.pcs[k], S_MAIN);
	assert_true(saw_main);
	assert_true(in_sym(&v, r.pcs[r.n - 1], S_START));
	free(r.pcs);
	free(v.stack_copy);
	detach(c.pid);
	end_child(&c);
}

/* Objects built without unwind tables: with -g, .debug_frame carries the CFI and the walk
 * completes; without it, there is no CFI for f3 and the walk must stop there, incomplete,
 * rather than guess (the invariant the consistency check relies on). The two builds differ
 * only by -g, so the stop proves the complete walk used .debug_frame. */
static void test_debug_frame_and_missing_cfi(void **state)
{
	(void)state;
	struct sut_err err = { 0 };
	struct user_regs_struct regs;
	struct proc_view v;
	struct sut_unwind_result r;

	struct child c = spawn(&with_debug_frame, "single");
	wait_in_syscall(c.pid, c.pid, 0 /* read */);
	seize_stop(c.pid, &regs);
	view_process(&with_debug_frame, c.pid, regs.rsp, true, &v);
	assert_int_equal(sut_unwind_thread(unwinder, v.mods, v.n, &regs, &v.stack, 64, &r, &err), 0);
	print_pcs(".debug_frame only", &r);
	assert_true(r.complete);
	expect_chain(&v, &r, S_MAIN);
	assert_true(in_sym(&v, r.pcs[r.n - 1], S_START));
	free(r.pcs);
	free(v.stack_copy);
	detach(c.pid);
	end_child(&c);

	c = spawn(&without_cfi, "single");
	wait_in_syscall(c.pid, c.pid, 0 /* read */);
	seize_stop(c.pid, &regs);
	view_process(&without_cfi, c.pid, regs.rsp, true, &v);
	assert_int_equal(sut_unwind_thread(unwinder, v.mods, v.n, &regs, &v.stack, 64, &r, &err), 0);
	print_pcs("no CFI", &r);
	assert_false(r.complete);
	assert_true(r.n >= 2);
	assert_true(in_sym(&v, r.pcs[r.n - 1], S_F3)); /* found from read's CFI, then stuck */
	assert_non_null(strstr(r.stop_reason, "no CFI"));
	assert_true(r.stop_sp > regs.rsp); /* f3's stack pointer, where a scan would resume */
	assert_true(r.stop_sp < v.stack.base + v.stack.len);
	free(r.pcs);
	free(v.stack_copy);
	detach(c.pid);
	end_child(&c);
}

/* --- the DWARF expression evaluator, on the forms CFI uses --- */

static uint64_t eval_ok(const Dwarf_Op *ops, size_t n, const struct unw_regs *regs, uint64_t cfa,
			const struct sut_stack_snapshot *snap, enum unw_expr_kind *kind)
{
	char why[UNW_WHY_MAX] = "";
	uint64_t v = 0;
	bool ok = unw_expr_eval(ops, n, regs, true, cfa, snap, &v, kind, why, sizeof why);
	if (!ok)
		fail_msg("evaluation failed: %s", why);
	return v;
}

static void test_expressions(void **state)
{
	(void)state;
	struct unw_regs regs = { 0 };
	unw_reg_set(&regs, UNW_RSP, 0x7000);
	unw_reg_set(&regs, UNW_RBX, 0x1234);
	uint8_t mem[32];
	for (size_t i = 0; i < sizeof mem; i++)
		mem[i] = (uint8_t)(0x10 + i);
	struct sut_stack_snapshot snap = { 0x7000, mem, sizeof mem };
	enum unw_expr_kind kind;
	char why[UNW_WHY_MAX];
	uint64_t v;

	/* The CFA of a PLT entry: rsp + 8, plus 8 more once past the push (rip & 15 >= 11). */
	const Dwarf_Op plt[] = {
		{ .atom = DW_OP_breg7, .number = 8 }, { .atom = DW_OP_breg16, .number = 0 },
		{ .atom = DW_OP_lit15 }, { .atom = DW_OP_and }, { .atom = DW_OP_lit11 },
		{ .atom = DW_OP_ge }, { .atom = DW_OP_lit3 }, { .atom = DW_OP_shl },
		{ .atom = DW_OP_plus },
	};
	unw_reg_set(&regs, UNW_RA, 0x401025);
	assert_int_equal(eval_ok(plt, 9, &regs, 0, &snap, &kind), 0x7008);
	unw_reg_set(&regs, UNW_RA, 0x40102b);
	assert_int_equal(eval_ok(plt, 9, &regs, 0, &snap, &kind), 0x7010);

	/* saved at CFA - 16: a location, read by the caller */
	const Dwarf_Op saved[] = { { .atom = DW_OP_call_frame_cfa },
				   { .atom = DW_OP_plus_uconst, .number = (uint64_t)-16 } };
	assert_int_equal(eval_ok(saved, 2, &regs, 0x7018, &snap, &kind), 0x7008);
	assert_int_equal(kind, UNW_EXPR_MEMORY);
	/* val_offset: a value */
	const Dwarf_Op val[] = { { .atom = DW_OP_call_frame_cfa }, { .atom = DW_OP_stack_value } };
	assert_int_equal(eval_ok(val, 2, &regs, 0x7018, &snap, &kind), 0x7018);
	assert_int_equal(kind, UNW_EXPR_VALUE);
	/* register rule: the value is in another register */
	const Dwarf_Op inreg[] = { { .atom = DW_OP_regx, .number = UNW_RBX } };
	assert_int_equal(eval_ok(inreg, 1, &regs, 0, &snap, &kind), 0x1234);
	assert_int_equal(kind, UNW_EXPR_VALUE);

	/* signal-frame style: load from the snapshot; 4-byte load zero-extends */
	const Dwarf_Op load[] = { { .atom = DW_OP_breg7, .number = 8 }, { .atom = DW_OP_deref } };
	assert_int_equal(eval_ok(load, 2, &regs, 0, &snap, &kind), 0x1f1e1d1c1b1a1918ULL);
	const Dwarf_Op load4[] = { { .atom = DW_OP_breg7, .number = 0 },
				   { .atom = DW_OP_deref_size, .number = 4 } };
	assert_int_equal(eval_ok(load4, 2, &regs, 0, &snap, &kind), 0x13121110);

	/* a load that straddles the end of the snapshot fails: never read what was not copied */
	const Dwarf_Op edge[] = { { .atom = DW_OP_breg7, .number = 28 }, { .atom = DW_OP_deref } };
	assert_false(unw_expr_eval(edge, 2, &regs, true, 0, &snap, &v, &kind, why, sizeof why));
	assert_non_null(strstr(why, "outside the stack snapshot"));
	const Dwarf_Op below[] = { { .atom = DW_OP_breg7, .number = (uint64_t)-8 },
				   { .atom = DW_OP_deref } };
	assert_false(unw_expr_eval(below, 2, &regs, true, 0, &snap, &v, &kind, why, sizeof why));

	/* an unknown (call-clobbered) register stops, it is not read as zero */
	const Dwarf_Op clobbered[] = { { .atom = DW_OP_breg0, .number = 0 } };
	assert_false(unw_expr_eval(clobbered, 1, &regs, true, 0, &snap, &v, &kind, why, sizeof why));
	assert_non_null(strstr(why, "register 0"));
	/* the CFA expression itself cannot use the CFA */
	assert_false(unw_expr_eval(val, 2, &regs, false, 0, &snap, &v, &kind, why, sizeof why));
	/* underflow */
	const Dwarf_Op under[] = { { .atom = DW_OP_lit1 }, { .atom = DW_OP_plus } };
	assert_false(unw_expr_eval(under, 2, &regs, true, 0, &snap, &v, &kind, why, sizeof why));

	/* comparisons are signed: -1 < 0 */
	const Dwarf_Op lt[] = { { .atom = DW_OP_consts, .number = (uint64_t)-1 },
				{ .atom = DW_OP_lit0 }, { .atom = DW_OP_lt } };
	assert_int_equal(eval_ok(lt, 3, &regs, 0, &snap, &kind), 1);

	/* branches, by byte offset:  @0 litX  @1 bra->8  @4 lit5  @5 skip->9  @8 lit6  @9 nop */
	Dwarf_Op br[] = {
		{ .atom = DW_OP_lit1, .offset = 0 }, { .atom = DW_OP_bra, .number = 4, .offset = 1 },
		{ .atom = DW_OP_lit5, .offset = 4 }, { .atom = DW_OP_skip, .number = 1, .offset = 5 },
		{ .atom = DW_OP_lit6, .offset = 8 }, { .atom = DW_OP_nop, .offset = 9 },
	};
	assert_int_equal(eval_ok(br, 6, &regs, 0, &snap, &kind), 6);
	br[0].atom = DW_OP_lit0;
	assert_int_equal(eval_ok(br, 6, &regs, 0, &snap, &kind), 5);
	/* a backward branch that loops forever is cut off */
	const Dwarf_Op loop[] = { { .atom = DW_OP_nop, .offset = 0 },
				  { .atom = DW_OP_skip, .number = (uint16_t)-4, .offset = 1 } };
	assert_false(unw_expr_eval(loop, 2, &regs, true, 0, &snap, &v, &kind, why, sizeof why));
}

/* Every kind of operation the evaluator knows, one at a time, and how each one fails. */
static void test_expression_operations(void **state)
{
	(void)state;
	struct unw_regs regs = { 0 };
	struct sut_stack_snapshot snap = { 0x7000, NULL, 0 };
	enum unw_expr_kind kind;
	char why[UNW_WHY_MAX];
	uint64_t v;
#define OPS(...) ((const Dwarf_Op[]){ __VA_ARGS__ })
#define N(...) (sizeof((const Dwarf_Op[]){ __VA_ARGS__ }) / sizeof(Dwarf_Op))
#define EVAL(...) eval_ok(OPS(__VA_ARGS__), N(__VA_ARGS__), &regs, 0, &snap, &kind)
#define L(n) { .atom = DW_OP_lit0 + (n) }
#define O(a) { .atom = (a) }
	/* stack operations: the top is the last pushed */
	assert_int_equal(EVAL(L(3), O(DW_OP_dup), O(DW_OP_plus)), 6);
	assert_int_equal(EVAL(L(3), L(4), O(DW_OP_drop)), 3);
	assert_int_equal(EVAL(L(3), L(4), O(DW_OP_over)), 3);
	assert_int_equal(EVAL(L(7), L(8), L(9), { .atom = DW_OP_pick, .number = 2 }), 7);
	assert_int_equal(EVAL(L(9), L(2), O(DW_OP_swap), O(DW_OP_minus)), (uint64_t)-7);
	/* rot: a b c -> c a b */
	assert_int_equal(EVAL(L(1), L(2), L(3), O(DW_OP_rot), O(DW_OP_drop), O(DW_OP_drop)), 3);
	/* operations on the top */
	assert_int_equal(EVAL(L(5), O(DW_OP_neg)), (uint64_t)-5);
	assert_int_equal(EVAL(L(0), O(DW_OP_not)), ~(uint64_t)0);
	assert_int_equal(EVAL({ .atom = DW_OP_consts, .number = (uint64_t)-9 }, O(DW_OP_abs)), 9);
	assert_int_equal(EVAL(L(5), { .atom = DW_OP_plus_uconst, .number = 10 }), 15);
	/* on two entries: division is signed, shra keeps the sign, a shift of 64 or more is 0 */
	assert_int_equal(EVAL({ .atom = DW_OP_consts, .number = (uint64_t)-9 }, L(2),
			      O(DW_OP_div)), (uint64_t)-4);
	assert_int_equal(EVAL(L(9), L(4), O(DW_OP_mod)), 1);
	assert_int_equal(EVAL(L(6), L(3), O(DW_OP_mul), L(5), O(DW_OP_xor)), 23);
	assert_int_equal(EVAL({ .atom = DW_OP_consts, .number = (uint64_t)-16 }, L(2),
			      O(DW_OP_shra)), (uint64_t)-4);
	assert_int_equal(EVAL(L(1), { .atom = DW_OP_constu, .number = 64 }, O(DW_OP_shl)), 0);
	assert_int_equal(EVAL(L(4), L(4), O(DW_OP_eq), L(4), L(5), O(DW_OP_ne), O(DW_OP_and)), 1);
	assert_int_equal(EVAL(L(4), L(5), O(DW_OP_gt), L(4), L(4), O(DW_OP_le), O(DW_OP_or)), 1);
	/* what fails, and says so */
	struct { const Dwarf_Op *ops; size_t n; const char *why; } bad[] = {
		{ OPS(L(1), L(0), O(DW_OP_div)), 3, "division by zero" },
		{ OPS(L(1), L(0), O(DW_OP_mod)), 3, "division by zero" },
		{ OPS(O(DW_OP_drop)), 1, "underflow" },
		{ OPS(L(1), O(DW_OP_rot)), 2, "underflow" },
		{ OPS(O(DW_OP_neg)), 1, "underflow" },
		{ OPS(L(1), { .atom = DW_OP_pick, .number = 1 }), 2, "pick beyond" },
		{ OPS(O(DW_OP_nop)), 1, "left no value" },
		{ OPS(O(DW_OP_call_frame_cfa), O(DW_OP_form_tls_address)), 2, "unsupported" },
		{ OPS(O(DW_OP_bra)), 1, "underflow" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why[0] = 0;
		if (unw_expr_eval(bad[i].ops, bad[i].n, &regs, true, 0, &snap, &v, &kind, why,
				  sizeof why))
			fail_msg("case %zu evaluated", i);
		if (!strstr(why, bad[i].why))
			fail_msg("case %zu: '%s' does not say '%s'", i, why, bad[i].why);
	}
	assert_false(unw_expr_eval(NULL, 0, &regs, true, 0, &snap, &v, &kind, why, sizeof why));
	assert_non_null(strstr(why, "empty"));
	/* 65 pushes overflow the 64-entry stack */
	Dwarf_Op many[65];
	for (size_t i = 0; i < 65; i++)
		many[i] = (Dwarf_Op){ .atom = DW_OP_lit1 };
	assert_true(unw_expr_eval(many, 64, &regs, true, 0, &snap, &v, &kind, why, sizeof why));
	assert_false(unw_expr_eval(many, 65, &regs, true, 0, &snap, &v, &kind, why, sizeof why));
	assert_non_null(strstr(why, "overflow"));
	/* a branch to the middle of an operation */
	const Dwarf_Op mid[] = { { .atom = DW_OP_skip, .number = 1, .offset = 0 },
				 { .atom = DW_OP_constu, .number = 300, .offset = 3 },
				 { .atom = DW_OP_lit1, .offset = 6 } };
	assert_false(unw_expr_eval(mid, 3, &regs, true, 0, &snap, &v, &kind, why, sizeof why));
	assert_non_null(strstr(why, "outside the expression"));
#undef OPS
#undef N
#undef EVAL
#undef L
#undef O
}

static void assert_same_walk(const struct sut_unwind_result *a, const struct sut_unwind_result *b)
{
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->pcs, b->pcs, a->n * sizeof *a->pcs);
	assert_int_equal(a->complete, b->complete);
	assert_int_equal(a->stop_sp, b->stop_sp);
}

/* The CFI rows are cached per address of an object (cfi_object.c): two threads at the same
 * PCs share them, here two processes of one program (other load addresses, the same ELF
 * addresses). A walk through cached rows must be the walk a fresh unwinder makes, for a
 * thread whose stack differs from the one that filled the cache: its rules are applied to
 * its own stack, so a return address that differs (here one written into the range of a
 * function, main, that the first thread's chain reaches only at its end) is found, at the
 * same place, by both. */
static void test_rows_cached_same_walk(void **state)
{
	(void)state;
	struct sut_unwinder *warm = sut_unwinder_new();
	struct sut_err err = { 0 };
	struct child a = spawn(&with_eh_frame, "single"), b = spawn(&with_eh_frame, "single");
	wait_in_syscall(a.pid, a.pid, 0 /* read */);
	wait_in_syscall(b.pid, b.pid, 0);
	struct user_regs_struct ra, rb;
	seize_stop(a.pid, &ra);
	seize_stop(b.pid, &rb);
	struct proc_view va, vb;
	view_process(&with_eh_frame, a.pid, ra.rsp, true, &va);
	view_process(&with_eh_frame, b.pid, rb.rsp, true, &vb);

	/* A fills the cache: every row is a miss. */
	struct sut_unwind_result wa, wb, fb;
	assert_int_equal(sut_unwind_thread(warm, va.mods, va.n, &ra, &va.stack, 64, &wa, &err), 0);
	struct sut_unwinder_rows st;
	sut_unwinder_rows(warm, &st);
	assert_int_equal(st.hits, 0);
	assert_true(st.misses >= wa.n - 1 && st.rows == st.misses);
	expect_chain(&va, &wa, S_MAIN);

	/* B at the same ELF addresses: every row from the cache, the walk a fresh one makes. */
	uint64_t misses = st.misses;
	assert_int_equal(sut_unwind_thread(warm, vb.mods, vb.n, &rb, &vb.stack, 64, &wb, &err), 0);
	sut_unwinder_rows(warm, &st);
	assert_int_equal(st.misses, misses);
	assert_true(st.hits >= wb.n - 1);
	struct sut_unwinder *fresh = sut_unwinder_new();
	assert_int_equal(sut_unwind_thread(fresh, vb.mods, vb.n, &rb, &vb.stack, 64, &fb, &err), 0);
	assert_same_walk(&wb, &fb);
	size_t i = expect_chain(&vb, &wb, S_MAIN);

	/* B's stack changed: the return address f3 returns to (into f2) now points into main
	 * (the return address main's call of f1 left). Same PC, same rows for the first
	 * frames, a different chain: both unwinders must find main right after f3. */
	uint64_t into_f2 = wb.pcs[i + 1], into_main = wb.pcs[i + 3];
	size_t at = 0;
	for (size_t k = 0; k + 8 <= vb.stack.len; k += 8) {
		uint64_t w;
		memcpy(&w, vb.stack_copy + k, 8);
		if (w == into_f2) {
			at = k + 1;
			break;
		}
	}
	assert_true(at > 0);
	memcpy(vb.stack_copy + at - 1, &into_main, 8);
	struct sut_unwind_result wc, fc;
	struct sut_unwinder *fresh2 = sut_unwinder_new();
	assert_int_equal(sut_unwind_thread(warm, vb.mods, vb.n, &rb, &vb.stack, 64, &wc, &err), 0);
	assert_int_equal(sut_unwind_thread(fresh2, vb.mods, vb.n, &rb, &vb.stack, 64, &fc, &err), 0);
	print_pcs("changed stack, warm", &wc);
	assert_same_walk(&wc, &fc);
	assert_true(wc.n > i + 1);
	assert_memory_equal(wc.pcs, wb.pcs, (i + 1) * sizeof *wc.pcs);
	assert_int_equal(wc.pcs[i + 1], into_main);
	assert_true(in_sym(&vb, wc.pcs[i + 1] - 1, S_MAIN));
	/* and the first thread's walk is unchanged by what the second did */
	struct sut_unwind_result wa2;
	assert_int_equal(sut_unwind_thread(warm, va.mods, va.n, &ra, &va.stack, 64, &wa2, &err), 0);
	assert_same_walk(&wa, &wa2);

	free(wa.pcs), free(wb.pcs), free(fb.pcs), free(wc.pcs), free(fc.pcs), free(wa2.pcs);
	sut_unwinder_free(warm);
	sut_unwinder_free(fresh);
	sut_unwinder_free(fresh2);
	free(va.stack_copy);
	free(vb.stack_copy);
	detach(a.pid);
	detach(b.pid);
	end_child(&a);
	end_child(&b);
}

static int setup(void **state)
{
	(void)state;
	const char *common = "-O2 -fomit-frame-pointer -fno-optimize-sibling-calls -pthread";
	char flags[256];
	with_eh_frame.exe = fixture_cc("chain", chain_src, common, "chain");
	snprintf(flags, sizeof flags, "%s -g -fno-asynchronous-unwind-tables -fno-unwind-tables",
		 common);
	with_debug_frame.exe = fixture_cc("chain", chain_src, flags, "chain-debug-frame");
	snprintf(flags, sizeof flags, "%s -g0 -fno-asynchronous-unwind-tables -fno-unwind-tables",
		 common);
	without_cfi.exe = fixture_cc("chain", chain_src, flags, "chain-no-cfi");
	if (!with_eh_frame.exe || !with_debug_frame.exe || !without_cfi.exe)
		return -1;
	load_symbols(&with_eh_frame);
	load_symbols(&with_debug_frame);
	load_symbols(&without_cfi);
	unwinder = sut_unwinder_new();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sut_unwinder_free(unwinder);
	free(with_eh_frame.exe);
	free(with_debug_frame.exe);
	free(without_cfi.exe);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expressions),
		cmocka_unit_test(test_expression_operations),
		cmocka_unit_test(test_main_thread_complete),
		cmocka_unit_test(test_second_thread_complete),
		cmocka_unit_test(test_through_signal_frame),
		cmocka_unit_test(test_debug_frame_and_missing_cfi),
		cmocka_unit_test(test_rows_cached_same_walk),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
