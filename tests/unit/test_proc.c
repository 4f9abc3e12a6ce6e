/* SPDX-License-Identifier: Apache-2.0 */
/* proc layer: maps parsing (spaces, deleted files, memfds), objects and their build-ids and
 * load bias, the gap search on synthetic maps, memory reads including the /proc/PID/mem
 * fallback, threads and pids. Runs against this test process and a small child. */
#include "fixtures.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc/proc.h"
#include "util/buf.h"

#define GIB (1ULL << 30)
#define REACH (2 * GIB - 16 * (1ULL << 20))

static struct sut_map mk(uint64_t start, uint64_t end, const char *path)
{
	struct sut_map m = {.start = start, .end = end};
	strcpy(m.perms, "r-xp");
	m.path = (char *)path;
	return m;
}

/* Every byte of [a, a+size) within REACH of every byte of [lo, hi). */
static void assert_reaches(uint64_t a, uint64_t size, uint64_t lo, uint64_t hi)
{
	assert_true(a + size - 1 - lo <= REACH || a + size - 1 < lo);
	assert_true(hi - 1 - a <= REACH || hi - 1 < a);
}

/* The free range must not overlap any mapping. */
static void assert_free(const struct sut_maps *m, uint64_t a, uint64_t size)
{
	for (size_t i = 0; i < m->n; i++)
		assert_true(a + size <= m->v[i].start || a >= m->v[i].end);
}

static void test_gap_adjacent_below(void **state)
{
	/* A library at 0x7f0000100000 with free space right below it: the closest fit is the
	 * page-aligned range ending at its start. */
	struct sut_map v[] = {mk(0x7e0000000000, 0x7e0000001000, "/a"),
			      mk(0x7f0000100000, 0x7f0000300000, "/lib"),
			      mk(0x7f0000300000, 0x7f0000400000, "")};
	struct sut_maps m = {v, 3};
	struct sut_err err;
	uint64_t a;
	assert_int_equal(sut_maps_find_gap_near(&m, 0x7f0000100000, 0x7f0000400000, 0x1800, &a,
						&err), 0);
	assert_int_equal(a, 0x7f0000100000 - 0x2000);
	assert_int_equal(a % 4096, 0);
	assert_free(&m, a, 0x2000);
}

static void test_gap_above_when_below_full(void **state)
{
	/* Everything within reach below is mapped; the gap after a hole above is used. */
	uint64_t lo = 0x7f0080000000, hi = 0x7f0080200000;
	struct sut_map v[] = {mk(0x7e0000000000, lo, "/big"), mk(lo, hi, "/lib"),
			      mk(hi, hi + 0x5000, ""), mk(hi + 0x6000, 0x7ff000000000, "/wall")};
	struct sut_maps m = {v, 4};
	struct sut_err err;
	uint64_t a;
	/* One page fits in the hole [hi+0x5000, hi+0x6000); two pages do not. */
	assert_int_equal(sut_maps_find_gap_near(&m, lo, hi, 4096, &a, &err), 0);
	assert_int_equal(a, hi + 0x5000);
	assert_int_equal(sut_maps_find_gap_near(&m, lo, hi, 8192, &a, &err), -1);
	assert_non_null(strstr(err.msg, "no free"));
}

static void test_gap_respects_reach(void **state)
{
	/* The only gap lies 3 GiB below: out of reach, so there is no answer; with the gap
	 * within reach the answer keeps the whole range reachable. */
	uint64_t lo = 0x7f0100000000, hi = lo + 0x100000;
	struct sut_map far[] = {mk(0x10000, lo - 3 * GIB, "/low"), mk(lo - 3 * GIB + 0x100000, lo, "/x"),
				mk(lo, hi, "/lib"), mk(hi, 0x7ffffffff000, "/top")};
	struct sut_maps m = {far, 4};
	struct sut_err err;
	uint64_t a;
	assert_int_equal(sut_maps_find_gap_near(&m, lo, hi, 0x10000, &a, &err), -1);

	struct sut_map near[] = {mk(0x10000, lo - 2 * GIB, "/low"), mk(lo - GIB, lo, "/x"),
				 mk(lo, hi, "/lib"), mk(hi, 0x7ffffffff000, "/top")};
	struct sut_maps m2 = {near, 4};
	assert_int_equal(sut_maps_find_gap_near(&m2, lo, hi, 0x10000, &a, &err), 0);
	assert_int_equal(a, lo - GIB - 0x10000);
	assert_reaches(a, 0x10000, lo, hi);
	assert_free(&m2, a, 0x10000);

	/* A 1.5 GiB object: the gap [lo-2GiB, lo-1GiB) is beyond reach of its end, the gap
	 * [lo-2GiB, lo-256MiB) reaches with its top part only. */
	uint64_t big_hi = lo + GIB + GIB / 2;
	struct sut_map big0[] = {mk(0x10000, lo - 2 * GIB, "/low"), mk(lo - GIB, lo, "/x"),
				 mk(lo, big_hi, "/big"), mk(big_hi, 0x7ffffffff000, "/top")};
	struct sut_maps m4 = {big0, 4};
	assert_int_equal(sut_maps_find_gap_near(&m4, lo, big_hi, 0x10000, &a, &err), -1);
	struct sut_map big[] = {mk(0x10000, lo - 2 * GIB, "/low"), mk(lo - GIB / 4, lo, "/x"),
				mk(lo, big_hi, "/big"), mk(big_hi, 0x7ffffffff000, "/top")};
	struct sut_maps m3 = {big, 4};
	assert_int_equal(sut_maps_find_gap_near(&m3, lo, big_hi, 0x10000, &a, &err), 0);
	assert_int_equal(a, lo - GIB / 4 - 0x10000);
	assert_reaches(a, 0x10000, lo, big_hi);
	assert_free(&m3, a, 0x10000);
	/* A 3 GiB object cannot be spanned at all. */
	assert_int_equal(sut_maps_find_gap_near(&m3, lo, lo + 3 * GIB, 0x1000, &a, &err), -1);
}

static void test_gap_empty_maps_and_stack(void **state)
{
	/* No mappings at all: the answer is the range right at lo. */
	struct sut_maps empty = {NULL, 0};
	struct sut_err err;
	uint64_t a;
	assert_int_equal(sut_maps_find_gap_near(&empty, 0x400000, 0x401000, 100, &a, &err), 0);
	assert_reaches(a, 4096, 0x400000, 0x401000);
	assert_true(a >= 0x10000);
	/* Free space right below [stack] is kept for its growth. */
	uint64_t s = 0x7ffd00000000;
	struct sut_map v[] = {mk(0x10000, s - 0x400000, "/low"), mk(s, s + 0x21000, "[stack]"),
			      mk(s + 0x21000, 0x7ffffffff000, "/top")};
	struct sut_maps m = {v, 3};
	assert_int_equal(sut_maps_find_gap_near(&m, s, s + 0x21000, 0x1000, &a, &err), -1);
}

static void test_maps_paths_deleted_memfd(void **state)
{
	char path[512];
	snprintf(path, sizeof path, "%s/a file with spaces.bin", fixture_tmpdir());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8192), 0);
	void *p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 4096);
	assert_true(p != MAP_FAILED);
	close(fd);
	unlink(path);
	int mfd = memfd_create("suture-test-reg", 0);
	assert_true(mfd >= 0);
	assert_int_equal(ftruncate(mfd, 4096), 0);
	void *q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, mfd, 0);
	assert_true(q != MAP_FAILED);

	struct sut_maps m;
	struct sut_err err;
	assert_int_equal(sut_proc_maps(getpid(), &m, &err), 0);
	const struct sut_map *x = sut_maps_find(&m, (uint64_t)(uintptr_t)p + 100);
	assert_non_null(x);
	char want[600];
	snprintf(want, sizeof want, "%s (deleted)", path);
	assert_string_equal(x->path, want);
	assert_int_equal(x->start, (uintptr_t)p);
	assert_int_equal(x->offset, 4096);
	assert_string_equal(x->perms, "r--s");
	assert_true(x->inode != 0);
	const struct sut_map *mf = sut_maps_find_memfd(&m, "suture-test-reg");
	assert_non_null(mf);
	assert_int_equal(mf->start, (uintptr_t)q);
	assert_null(sut_maps_find_memfd(&m, "suture-test"));
	assert_null(sut_maps_find(&m, 0x1000));
	/* Sorted and non-overlapping, every entry parsed. */
	for (size_t i = 1; i < m.n; i++)
		assert_true(m.v[i - 1].end <= m.v[i].start);
	sut_proc_maps_free(&m);
	munmap(p, 8192);
	munmap(q, 4096);
	close(mfd);
}

/* Build-id of a file as readelf prints it, in hex. */
static void readelf_build_id(const char *file, char *hex, size_t cap)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "readelf -n '%s' | sed -n 's/.*Build ID: *//p'", file);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	hex[0] = 0;
	assert_non_null(fgets(hex, (int)cap, f));
	pclose(f);
	hex[strcspn(hex, "\n ")] = 0;
}

static void test_objects_libc(void **state)
{
	struct sut_maps m;
	struct sut_objects o;
	struct sut_err err;
	assert_int_equal(sut_proc_maps(getpid(), &m, &err), 0);
	assert_int_equal(sut_proc_objects(getpid(), &m, &o, &err), 0);
	void *fn = dlsym(RTLD_DEFAULT, "getpid");
	assert_non_null(fn);
	const struct sut_object *libc = NULL;
	for (size_t i = 0; i < o.n; i++)
		if (strstr(o.v[i].path, "/libc.so"))
			libc = &o.v[i];
	assert_non_null(libc);
	assert_int_equal(libc->build_id_len, 20);
	char hex[256], want[256];
	sut_hex(libc->build_id, 20, hex);
	readelf_build_id(libc->path, want, sizeof want);
	assert_string_equal(hex, want);
	assert_ptr_equal(sut_objects_find_build_id(&o, libc->build_id, 20), libc);
	/* getpid lies in libc's text, and libc is a shared object: bias = first mapping. */
	uint64_t a = (uint64_t)(uintptr_t)fn;
	assert_true(a >= libc->text_lo && a < libc->text_hi);
	assert_int_equal(libc->bias, libc->lo);
	char mf[128];
	snprintf(mf, sizeof mf, "/proc/%d/map_files/", (int)getpid());
	assert_memory_equal(libc->open_path, mf, strlen(mf));
	assert_int_equal(access(libc->open_path, R_OK), 0);
	/* No object for the vdso or anonymous memory. */
	for (size_t i = 0; i < o.n; i++)
		assert_true(o.v[i].path[0] == '/');
	sut_proc_objects_free(&o);
	sut_proc_maps_free(&m);
}

static void test_objects_non_pie_bias_zero(void **state)
{
	char *exe = fixture_cc("nopie", "#include <unistd.h>\nint main(void){for(;;)pause();}\n",
			       "-O0 -no-pie -Wl,--build-id=sha1", "nopie");
	pid_t pid = fork();
	if (pid == 0) {
		execl(exe, exe, (char *)NULL);
		_exit(127);
	}
	/* Wait until the exec happened (the maps show the executable). */
	struct sut_maps m = {0};
	struct sut_objects o = {0};
	struct sut_err err;
	const struct sut_object *main_obj = NULL;
	for (int i = 0; i < 200 && !main_obj; i++) {
		usleep(10000);
		sut_proc_objects_free(&o);
		sut_proc_maps_free(&m);
		assert_int_equal(sut_proc_maps(pid, &m, &err), 0);
		assert_int_equal(sut_proc_objects(pid, &m, &o, &err), 0);
		for (size_t k = 0; k < o.n; k++)
			if (strcmp(o.v[k].path, exe) == 0)
				main_obj = &o.v[k];
	}
	assert_non_null(main_obj);
	assert_int_equal(main_obj->bias, 0);
	assert_int_equal(main_obj->build_id_len, 20);
	char hex[64], want[256];
	sut_hex(main_obj->build_id, 20, hex);
	readelf_build_id(exe, want, sizeof want);
	assert_string_equal(hex, want);
	/* A syscall instruction is found and really is 0f 05 in the child. */
	uint64_t at;
	uint8_t insn[2];
	assert_int_equal(sut_proc_find_syscall_insn(pid, &m, &at, &err), 0);
	assert_int_equal(sut_proc_read(pid, at, insn, 2, &err), 0);
	assert_int_equal(insn[0], 0x0f);
	assert_int_equal(insn[1], 0x05);
	sut_proc_objects_free(&o);
	sut_proc_maps_free(&m);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(exe);
}

static void test_read_with_fallback(void **state)
{
	uint8_t *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	for (int i = 0; i < 8192; i++)
		p[i] = (uint8_t)(i * 7);
	/* Second page unreadable by the process itself: process_vm_readv stops there. */
	assert_int_equal(mprotect(p + 4096, 4096, PROT_NONE), 0);
	uint8_t buf[8192];
	struct sut_err err;
	assert_int_equal(sut_proc_read(getpid(), (uintptr_t)p + 4000, buf, 1000, &err), 0);
	assert_int_equal(mprotect(p + 4096, 4096, PROT_READ), 0);
	assert_memory_equal(buf, p + 4000, 1000);
	/* Unmapped memory is an error naming the address. */
	munmap(p, 8192);
	assert_int_equal(sut_proc_read(getpid(), (uintptr_t)p, buf, 16, &err), -1);
	char addr[32];
	snprintf(addr, sizeof addr, "%lx", (unsigned long)(uintptr_t)p);
	assert_non_null(strstr(err.msg, addr));
}

static void *idle_thread(void *arg)
{
	int *fds = arg;
	char c;
	return read(fds[0], &c, 1) == 1 ? NULL : arg;
}

static void test_threads_and_pids(void **state)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, idle_thread, fds), 0);
	pid_t *tids, *pids;
	size_t n, np;
	struct sut_err err;
	assert_int_equal(sut_proc_threads(getpid(), &tids, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_true(tids[0] == getpid() || tids[1] == getpid());
	free(tids);
	/* the census's count: the whole process's, from any thread's stat file, by path or
	 * through a /proc/PID/task descriptor, whatever the name holds */
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/task", (int)getpid());
	int taskfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(taskfd >= 0);
	assert_int_equal(sut_proc_num_threads(-1, getpid(), getpid()), 2);
	char was[16];
	prctl(PR_GET_NAME, was);
	prctl(PR_SET_NAME, "x) S 1 2 3 4 5");
	assert_int_equal(sut_proc_num_threads(taskfd, getpid(), getpid()), 2);
	prctl(PR_SET_NAME, was);
	assert_int_equal(write(fds[1], "x", 1), 1);
	pthread_join(th, NULL);
	assert_int_equal(sut_proc_num_threads(taskfd, getpid(), getpid()), 1);
	assert_int_equal(sut_proc_num_threads(taskfd, getpid(), 999999999), -1);
	close(taskfd);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(sut_proc_list(&pids, &np, &err), 0);
	bool self = false;
	for (size_t i = 0; i < np; i++)
		self |= pids[i] == getpid();
	assert_true(self);
	free(pids);
	assert_true(sut_proc_exists(getpid()));
	char comm[32];
	assert_int_equal(sut_proc_comm(getpid(), comm, sizeof comm), 0);
	assert_string_equal(comm, "test_proc");
	/* A pid that is gone. */
	pid_t dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	assert_false(sut_proc_exists(dead));
	assert_int_equal(sut_proc_threads(dead, &tids, &n, &err), -1);
	char num[16];
	snprintf(num, sizeof num, "%d", (int)dead);
	assert_non_null(strstr(err.msg, num));
}


/* The syscall file's three forms parse; every hostile variation is refused (never a call). */
static void test_syscall_parse_hostile(void **state)
{
	(void)state;
	struct sut_proc_syscall s;
	const char *ok = "230 0x0 0x0 0x7ffd1234 0x0 0x7f00 0xffffffffffffffff 0x7ffd1000 "
			 "0x7f001234abcd\n";
	assert_int_equal(sut_proc_syscall_parse(ok, strlen(ok), &s), 0);
	assert_int_equal(s.state, SUT_SYSCALL_IN_CALL);
	assert_int_equal(s.nr, 230);
	assert_true(s.args[2] == 0x7ffd1234 && s.args[5] == UINT64_MAX);
	assert_true(s.sp == 0x7ffd1000 && s.pc == 0x7f001234abcdULL);
	assert_int_equal(sut_proc_syscall_parse("running\n", 8, &s), 0);
	assert_int_equal(s.state, SUT_SYSCALL_RUNNING);
	assert_int_equal(sut_proc_syscall_parse("-1 0x7ffd1000 0x401000\n", 23, &s), 0);
	assert_int_equal(s.state, SUT_SYSCALL_NONE);
	assert_true(s.sp == 0x7ffd1000 && s.pc == 0x401000);
	const char *bad[] = {
		"",
		"\n",
		"runningX\n",
		"running\n\n",
		"-2 0x1 0x2\n",
		"-1 0x1\n",
		"-1 0x1 0x2 0x3\n",
		"4096 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n",            /* number out of range */
		"99999999999999999999 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n",
		"1 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n",                   /* one field short */
		"1 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n",           /* one too many */
		"1 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x10000000000000000\n", /* 65 bits */
		"1 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0xg\n",
		"1 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x\n",
		"1 0x0 0x0 0x0 0x0 0x0 0x0 0x0 12\n",                /* not hexadecimal */
		"1  0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n",              /* two spaces */
		" 1 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n",
		"1 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0 \n",
		"+1 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n",
		"1 0X0 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n",
		"1 0xA 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n",               /* the kernel prints lower case */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(sut_proc_syscall_parse(bad[i], strlen(bad[i]), &s), -1);
		assert_int_equal(s.state, SUT_SYSCALL_UNKNOWN);
	}
	/* an embedded NUL, and a line cut short, are refused too */
	const char nul[] = "1 0x0 0x0 0x0 0x0\0 0x0 0x0 0x0 0x0\n";
	assert_int_equal(sut_proc_syscall_parse(nul, sizeof nul - 1, &s), -1);
	assert_int_equal(sut_proc_syscall_parse(ok, 20, &s), -1);
	/* every truncation of a valid line before its last number fails (a field short) */
	size_t last = (size_t)(strrchr(ok, ' ') - ok) + 3;
	for (size_t n = 0; n < last; n++)
		assert_int_equal(sut_proc_syscall_parse(ok, n, &s), -1);
	assert_int_equal(sut_proc_syscall_parse(ok, strlen(ok) - 1, &s), 0);
}

static void *sleep_thread(void *arg)
{
	struct timespec ts = {*(long *)arg, 0};
	nanosleep(&ts, NULL); /* until the signal that ends the test */
	return NULL;
}

static void wake_up(int sig)
{
	(void)sig;
}

/* The reader on a live thread: in nanosleep, with the timeout it asked for; a thread in
 * pause() sleeps for ever; a hostile timespec is unknown, never "forever". */
static void test_syscall_read_live(void **state)
{
	(void)state;
	pthread_t th;
	long secs = 30;
	struct sigaction sa = {.sa_handler = wake_up}, old;
	sigaction(SIGUSR2, &sa, &old);
	assert_int_equal(pthread_create(&th, NULL, sleep_thread, &secs), 0);
	pid_t tid = 0;
	struct sut_proc_syscall s = {0};
	struct sut_err err;
	for (int i = 0; i < 200; i++) {
		pid_t *tids = NULL;
		size_t n = 0;
		assert_int_equal(sut_proc_threads(getpid(), &tids, &n, &err), 0);
		for (size_t k = 0; k < n; k++)
			if (tids[k] != getpid())
				tid = tids[k];
		free(tids);
		if (tid && sut_proc_syscall_read(getpid(), tid, &s, &err) == 0 &&
		    s.state == SUT_SYSCALL_IN_CALL && s.nr == SYS_clock_nanosleep)
			break;
		usleep(5000);
	}
	assert_int_equal(s.state, SUT_SYSCALL_IN_CALL);
	/* glibc's nanosleep is clock_nanosleep(CLOCK_REALTIME, 0, req, rem) */
	assert_int_equal(s.nr, SYS_clock_nanosleep);
	assert_int_equal(sut_proc_syscall_sleep_ms(getpid(), &s), 30000);
	/* hostile timeouts: a negative, an out-of-range and an unreadable timespec */
	static struct timespec neg = {-1, 0}, big = {0, 1000000000};
	struct sut_proc_syscall h = s;
	h.args[2] = (uint64_t)(uintptr_t)&neg;
	assert_true(sut_proc_syscall_sleep_ms(getpid(), &h) == SUT_SLEEP_UNKNOWN);
	h.args[2] = (uint64_t)(uintptr_t)&big;
	assert_true(sut_proc_syscall_sleep_ms(getpid(), &h) == SUT_SLEEP_UNKNOWN);
	h.args[2] = 8;
	assert_true(sut_proc_syscall_sleep_ms(getpid(), &h) == SUT_SLEEP_UNKNOWN);
	h.nr = SYS_epoll_wait;
	h.args[3] = (uint64_t)-1;
	assert_true(sut_proc_syscall_sleep_ms(getpid(), &h) == SUT_SLEEP_FOREVER);
	h.args[3] = 250;
	assert_true(sut_proc_syscall_sleep_ms(getpid(), &h) == 250);
	h.nr = SYS_restart_syscall; /* a timed sleep resumed: its deadline is not shown */
	assert_true(sut_proc_syscall_sleep_ms(getpid(), &h) == SUT_SLEEP_UNKNOWN);
	h.nr = SYS_read;
	assert_true(sut_proc_syscall_sleep_ms(getpid(), &h) == SUT_SLEEP_FOREVER);
	h.state = SUT_SYSCALL_RUNNING;
	assert_true(sut_proc_syscall_sleep_ms(getpid(), &h) == SUT_SLEEP_UNKNOWN);
	/* this very thread: the kernel shows the read() of the file itself */
	assert_int_equal(sut_proc_syscall_read(getpid(), (pid_t)syscall(SYS_gettid), &s, &err),
			 0);
	assert_int_equal(s.state, SUT_SYSCALL_IN_CALL);
	assert_int_equal(s.nr, SYS_read);
	assert_int_equal(sut_proc_syscall_read(getpid(), 0x7ffffff0, &s, &err), -1);
	pthread_kill(th, SIGUSR2); /* its nanosleep ends with EINTR, and the thread with it */
	pthread_join(th, NULL);
	sigaction(SIGUSR2, &old, NULL);
}

/* The maps text parser: the kernel's forms read field by field, anything else refused. */
static void test_maps_parse_strict(void **state)
{
	(void)state;
	const char *good = "55d0c0a00000-55d0c0a02000 r--p 00000000 fe:01 1835023  /usr/bin/cat\n"
			   "7ffc1b2e0000-7ffc1b301000 rw-p 00000000 00:00 0 [stack]\n"
			   "7f00aa000000-7f00aa001000 r-xs 0001f000 00:01 99 /memfd:a b (deleted)\n"
			   "7f00ab000000-7f00ab001000 ---p 00000000 00:00 0\n";
	struct sut_maps m;
	struct sut_err err;
	assert_int_equal(sut_proc_maps_parse(good, strlen(good), &m, &err), 0);
	assert_int_equal(m.n, 4);
	assert_int_equal(m.v[0].start, 0x55d0c0a00000ULL);
	assert_int_equal(m.v[0].end, 0x55d0c0a02000ULL);
	assert_int_equal(m.v[0].dev_major, 0xfe);
	assert_int_equal(m.v[0].dev_minor, 1);
	assert_int_equal(m.v[0].inode, 1835023);
	assert_string_equal(m.v[0].path, "/usr/bin/cat");
	assert_string_equal(m.v[1].path, "[stack]");
	assert_string_equal(m.v[2].perms, "r-xs");
	assert_int_equal(m.v[2].offset, 0x1f000);
	assert_string_equal(m.v[2].path, "/memfd:a b (deleted)");
	assert_string_equal(m.v[3].path, "");
	sut_proc_maps_free(&m);
	const char *bad[] = {
		"1000 r--p 00000000 00:00 0\n",                           /* no end */
		"1000-2000 r-p 00000000 00:00 0\n",                       /* short perms */
		"1000-2000 r--p 0000000g 00:00 0\n",                      /* not hex */
		"1000-2000 r--p 00000000 00-00 0\n",                      /* no colon */
		"1000-2000 r--p 00000000 00:00 x\n",                      /* no inode */
		"1000-2000 r--p 00000000 00:00 12x /a\n",                 /* inode runs on */
		"11112222333344445-2000 r--p 00000000 00:00 0\n",         /* 17 digits */
		"1000-2000 r--p 00000000 00:00 99999999999999999999 /a\n", /* inode overflow */
		"1000-2000 r--p 00000000 123456789:00 0 /a\n",            /* major beyond 32 bits */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(sut_proc_maps_parse(bad[i], strlen(bad[i]), &m, &err), -1);
		assert_int_equal(m.n, 0);
		assert_non_null(strstr(err.msg, "cannot parse line"));
	}
	assert_int_equal(sut_proc_maps_parse(NULL, 0, &m, &err), 0); /* no mapping at all */
	assert_int_equal(m.n, 0);
	const char nul[] = "1000-2000 r--p 00000000 00:00 0 /a\0b\n";
	assert_int_equal(sut_proc_maps_parse(nul, sizeof nul - 1, &m, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_parse_strict),
		cmocka_unit_test(test_gap_adjacent_below),
		cmocka_unit_test(test_gap_above_when_below_full),
		cmocka_unit_test(test_gap_respects_reach),
		cmocka_unit_test(test_gap_empty_maps_and_stack),
		cmocka_unit_test(test_maps_paths_deleted_memfd),
		cmocka_unit_test(test_objects_libc),
		cmocka_unit_test(test_objects_non_pie_bias_zero),
		cmocka_unit_test(test_read_with_fallback),
		cmocka_unit_test(test_threads_and_pids),
		cmocka_unit_test(test_syscall_parse_hostile),
		cmocka_unit_test(test_syscall_read_live),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
