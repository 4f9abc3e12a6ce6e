/* SPDX-License-Identifier: Apache-2.0 */
/* ptrace layer on real children: freezing threads blocked in read, nanosleep, futex and
 * accept leaves them undisturbed (no EINTR, no short sleep, no spurious wakeup); remote
 * syscalls; a stopped process stays stopped; threads born and dying during the freeze;
 * signals arriving during the freeze are delivered once; errors name the pid; the partial
 * freeze leaves sleeping threads asleep. */
#include "fixtures.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "proc/proc.h"
#include "ptrace/ptrace.h"
#include "ptrace/ptrace_internal.h"

/* Four threads blocked in read(stdin) (on an 's' read it runs 60 ms, then reads again),
 * nanosleep(2 s), pthread_cond_wait and accept(), the main thread in pthread_join. Prints "ready PORT", and at the end one line of counts of
 * anything a stop could have disturbed. */
static const char blocker_src[] =
	"#include <errno.h>\n#include <pthread.h>\n#include <stdio.h>\n#include <time.h>\n"
	"#include <unistd.h>\n#include <netinet/in.h>\n#include <sys/socket.h>\n"
	"static int eintr, shorts, spurious, sleeps, lfd, done;\n"
	"static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;\n"
	"static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;\n"
	"static long long ns(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);"
	"return t.tv_sec*1000000000LL+t.tv_nsec;}\n"
	"static void *reader(void *a){char c;for(;;){ssize_t n=read(0,&c,1);"
	" if(n<0&&errno==EINTR){__atomic_add_fetch(&eintr,1,0);continue;}"
	" if(n<=0||c=='q')break;"
	" if(c=='s'){long long t0=ns();while(ns()-t0<60000000LL);}}"
	" pthread_mutex_lock(&mu);done=1;pthread_cond_broadcast(&cv);pthread_mutex_unlock(&mu);"
	" return a;}\n"
	"static void *sleeper(void *a){while(!__atomic_load_n(&done,0)){"
	" struct timespec d={2,0};long long t0=ns();"
	" if(nanosleep(&d,NULL)<0&&errno==EINTR)__atomic_add_fetch(&eintr,1,0);"
	" if(ns()-t0<2000000000LL)__atomic_add_fetch(&shorts,1,0);"
	" __atomic_add_fetch(&sleeps,1,0);}return a;}\n"
	"static void *waiter(void *a){pthread_mutex_lock(&mu);"
	" while(!done){pthread_cond_wait(&cv,&mu);if(!done)spurious++;}"
	" pthread_mutex_unlock(&mu);return a;}\n"
	"static void *acceptor(void *a){for(;;){int c=accept(lfd,NULL,NULL);"
	" if(c<0&&errno==EINTR){__atomic_add_fetch(&eintr,1,0);continue;}"
	" if(c>=0)close(c);break;}return a;}\n"
	"int main(void){struct sockaddr_in sa={0};socklen_t l=sizeof sa;"
	" sa.sin_family=AF_INET;sa.sin_addr.s_addr=htonl(INADDR_LOOPBACK);"
	" lfd=socket(AF_INET,SOCK_STREAM,0);"
	" if(bind(lfd,(void*)&sa,sizeof sa)||listen(lfd,1)||getsockname(lfd,(void*)&sa,&l))return 2;"
	" pthread_t t[4];void *(*f[4])(void*)={reader,sleeper,waiter,acceptor};"
	" for(int i=0;i<4;i++)pthread_create(&t[i],NULL,f[i],NULL);"
	" printf(\"ready %d\\n\",ntohs(sa.sin_port));fflush(stdout);"
	" for(int i=0;i<4;i++)pthread_join(t[i],NULL);"
	" printf(\"eintr=%d short=%d spurious=%d sleeps=%d\\n\",eintr,shorts,spurious,sleeps);"
	" return 0;}\n";

/* Counts SIGUSR1 (SA_RESTART handler); on each byte 'p' read from stdin prints the count,
 * on 'q' exits. */
static const char sigcount_src[] =
	"#include <signal.h>\n#include <stdio.h>\n#include <unistd.h>\n"
	"static volatile sig_atomic_t count;\n"
	"static void on_usr1(int s){(void)s;count++;}\n"
	"int main(void){struct sigaction sa={0};sa.sa_handler=on_usr1;sa.sa_flags=SA_RESTART;"
	" sigaction(SIGUSR1,&sa,NULL);printf(\"ready\\n\");fflush(stdout);char c;"
	" while(read(0,&c,1)==1){if(c=='q')break;if(c=='p'){printf(\"%d\\n\",(int)count);"
	" fflush(stdout);}}return 0;}\n";

/* Creates and joins short-lived threads forever; writes a byte every 64 rounds. */
static const char churn_src[] =
	"#include <pthread.h>\n#include <unistd.h>\n"
	"static void *nop(void *a){return a;}\n"
	"int main(void){for(unsigned long i=0;;i++){pthread_t t[3];"
	" for(int k=0;k<3;k++)pthread_create(&t[k],NULL,nop,NULL);"
	" for(int k=0;k<3;k++)pthread_join(t[k],NULL);"
	" if(i%64==0&&write(1,\".\",1)<0)return 1;}}\n";

/* A thread that vforks a child that sleeps 1.5 s: the thread waits in the kernel, in an
 * uninterruptible sleep (no interrupt stops it) until the child exits. Prints
 * "vforker TID" from the child, then the main thread keeps running (prints "alive N" on
 * each 'p' read from stdin). */
static const char vforker_src[] =
	"#define _GNU_SOURCE\n#include <pthread.h>\n#include <stdio.h>\n#include <time.h>\n"
	"#include <unistd.h>\n#include <sys/syscall.h>\n#include <sys/wait.h>\n"
	"static long vtid;\n"
	"static void *vf(void *a){vtid=syscall(SYS_gettid);pid_t c=vfork();"
	" if(c==0){char b[64];int n=snprintf(b,sizeof b,\"vforker %ld\\n\",vtid);"
	" syscall(SYS_write,1,b,n);struct timespec d={1,500000000};"
	" syscall(SYS_nanosleep,&d,NULL);syscall(SYS_exit_group,0);}"
	" waitpid(c,NULL,0);for(;;)pause();return a;}\n"
	"int main(void){pthread_t t;pthread_create(&t,NULL,vf,NULL);char ch;int n=0;"
	" while(read(0,&ch,1)==1){if(ch=='q')break;printf(\"alive %d\\n\",n++);fflush(stdout);}"
	" return 0;}\n";

struct child {
	pid_t pid;
	int in;  /* write end of the child's stdin */
	int out; /* read end of the child's stdout */
};

static char *build(const char *name, const char *src)
{
	return fixture_cc(name, src, "-O1 -pthread", name);
}

static struct child spawn(const char *exe)
{
	int in[2], out[2];
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	struct child c;
	c.pid = fork();
	assert_true(c.pid >= 0);
	if (c.pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(exe, exe, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c.in = in[1];
	c.out = out[0];
	return c;
}

/* Reads one line from the child, waiting at most timeout_ms. */
static int read_line(struct child *c, char *buf, size_t cap, int timeout_ms)
{
	size_t n = 0;
	while (n + 1 < cap) {
		struct pollfd p = {c->out, POLLIN, 0};
		if (poll(&p, 1, timeout_ms) <= 0)
			return -1;
		if (read(c->out, buf + n, 1) != 1)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return 0;
}

static void end_child(struct child *c)
{
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	close(c->in);
	close(c->out);
}

static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return '?';
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p ? p[2] : '?';
}

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void connect_loopback(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
	close(s);
}

/* Asks the blocker to finish and checks its own account: nothing was disturbed. */
static void finish_blocker(struct child *c, int port)
{
	char line[256];
	connect_loopback(port);
	assert_int_equal(write(c->in, "q", 1), 1);
	assert_int_equal(read_line(c, line, sizeof line, 5000), 0);
	int eintr = -1, shorts = -1, spurious = -1, sleeps = -1;
	assert_int_equal(sscanf(line, "eintr=%d short=%d spurious=%d sleeps=%d", &eintr, &shorts,
				&spurious, &sleeps), 4);
	assert_int_equal(eintr, 0);
	assert_int_equal(shorts, 0);
	assert_int_equal(spurious, 0);
	assert_true(sleeps >= 1);
	int st;
	assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(c->in);
	close(c->out);
}

static bool has_syscall(const struct sut_freeze *f, long nr)
{
	for (size_t i = 0; i < f->n; i++)
		if ((long)f->threads[i].regs.orig_rax == nr)
			return true;
	return false;
}

static struct child start_blocker(int *port)
{
	static char *exe;
	if (!exe)
		exe = build("blocker", blocker_src);
	struct child c = spawn(exe);
	char line[64];
	assert_int_equal(read_line(&c, line, sizeof line, 5000), 0);
	assert_int_equal(sscanf(line, "ready %d", port), 1);
	msleep(100); /* let every thread reach its blocking call */
	return c;
}

static void test_freeze_blocked_threads_undisturbed(void **state)
{
	int port;
	struct child c = start_blocker(&port);
	struct sut_maps m;
	struct sut_err err;
	assert_int_equal(sut_proc_maps(c.pid, &m, &err), 0);
	for (int round = 0; round < 50; round++) {
		struct sut_freeze f;
		if (sut_ptrace_freeze(c.pid, 2000, &f, &err) < 0)
			fail_msg("round %d: %s", round, err.msg);
		assert_int_equal(f.n, 5);
		assert_int_equal(f.threads[0].tid, c.pid); /* leader first */
		/* a stable set: the census proves it complete, no second list read */
		assert_int_equal(f.ph.census, 1);
		assert_int_equal(f.ph.rounds, 1);
		for (size_t i = 0; i < f.n; i++) {
			const struct sut_thread *t = &f.threads[i];
			const struct sut_map *x = sut_maps_find(&m, t->regs.rip);
			assert_non_null(x);
			assert_int_equal(x->perms[2], 'x');
			assert_false(t->group_stop);
			assert_int_equal(t->pending_sig, 0);
			assert_false(t->regs_dirty);
		}
		if (round == 0) {
			/* Each thread was stopped inside its blocking call. */
			assert_true(has_syscall(&f, SYS_read));
			assert_true(has_syscall(&f, SYS_clock_nanosleep) || has_syscall(&f, SYS_nanosleep));
			assert_true(has_syscall(&f, SYS_futex));
			assert_true(has_syscall(&f, SYS_accept) || has_syscall(&f, SYS_accept4));
		}
		assert_true(sut_freeze_syscall_thread(&f) == 0);
		assert_int_equal(sut_ptrace_thaw(&f, &err), 0);
		sut_freeze_free(&f);
		sut_proc_maps_free(&m);
		assert_int_equal(sut_proc_maps(c.pid, &m, &err) < 0 ? -1 : 0, 0);
		msleep(round % 5 == 0 ? 30 : 5);
	}
	sut_proc_maps_free(&m);
	msleep(2100); /* let at least one full 2 s sleep finish under observation */
	finish_blocker(&c, port);
}

/* voluntary_ctxt_switches of one thread, -1 if unreadable */
static long voluntary(pid_t pid, pid_t tid)
{
	char path[96], line[256];
	long v = -1;
	snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* The partial freeze on the blocker: every thread is asleep in a call without a short
 * timeout (read, futex, accept, pthread_join; the 2 s nanosleep too, when asleep), so
 * none is stopped and none is woken; code written through sut_freeze_write_code (the
 * bytes that were there, at the reader's PC) is in place afterwards. */
static void test_partial_freeze_leaves_sleepers(void **state)
{
	int port;
	struct child c = start_blocker(&port);
	struct sut_err err;
	pid_t *tids;
	size_t n;
	assert_int_equal(sut_proc_threads(c.pid, &tids, &n, &err), 0);
	assert_int_equal(n, 5);
	long before[5];
	for (size_t i = 0; i < n; i++)
		before[i] = voluntary(c.pid, tids[i]);
	int written = 0;
	for (int round = 0; round < 20; round++) {
		struct sut_freeze f;
		int rc = sut_ptrace_freeze_partial(c.pid, 2000, NULL, 0, &f, &err, NULL, NULL);
		if (rc == 1) { /* a sleeper changed while it was seized: nothing held */
			msleep(5);
			continue;
		}
		if (rc < 0)
			fail_msg("round %d: %s", round, err.msg);
		assert_int_equal(f.n + f.nasleep, 5);
		assert_true(f.nasleep >= 4);
		const struct sut_thread *reader = NULL;
		for (size_t i = 0; i < f.nasleep; i++) {
			assert_true(f.asleep[i].asleep);
			if ((long)f.asleep[i].regs.orig_rax == SYS_read)
				reader = &f.asleep[i];
		}
		assert_non_null(reader);
		uint8_t was[5], now[5];
		assert_int_equal(sut_proc_read(c.pid, reader->regs.rip, was, 5, &err), 0);
		struct sut_code_write w = {reader->regs.rip, was, 5};
		int wr = sut_freeze_write_code(&f, &w, 1, true, &err);
		assert_true(wr == 0 || wr == 1);
		written += wr == 0;
		assert_int_equal(sut_proc_read(c.pid, reader->regs.rip, now, 5, &err), 0);
		assert_memory_equal(was, now, 5);
		assert_int_equal(sut_ptrace_thaw(&f, &err), 0);
		sut_freeze_free(&f);
		msleep(5);
	}
	assert_true(written > 0);
	/* every thread but the one in nanosleep (its own 2 s period) kept its count */
	for (size_t i = 0; i < n; i++) {
		char path[96], line[64] = "";
		snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)c.pid, (int)tids[i]);
		FILE *sf = fopen(path, "r");
		assert_non_null(sf);
		assert_non_null(fgets(line, sizeof line, sf));
		fclose(sf);
		long nr = atol(line);
		if (nr == SYS_clock_nanosleep || nr == SYS_nanosleep)
			continue;
		assert_int_equal(voluntary(c.pid, tids[i]), before[i]);
	}
	free(tids);
	finish_blocker(&c, port);
}

/* A sleeper that runs between the partial freeze's two looks is judged (f->judge) instead
 * of ending the write: the reader is woken by a byte on its stdin after the first look.
 * On 'x' it reads it and waits again: it is judged asleep, on a fresh look taken after
 * the int3 (view->asleep), and never stopped. On 's' it runs on for 60 ms: it is stopped
 * by the guard and judged on its full registers (view->threads). A judge that says yes:
 * the write goes on (0); no: the write ends with nothing changed (1). The reader never
 * sees EINTR (finish_blocker), though it was stopped. */
struct judged {
	int calls, answer;
	bool saw_asleep, saw_stopped;
};

static int count_judge(const struct sut_freeze *view, void *ctx)
{
	struct judged *j = ctx;
	j->calls++;
	for (size_t i = 0; i < view->n; i++)
		if (!view->threads[i].asleep && view->threads[i].regs.rip)
			j->saw_stopped = true;
	for (size_t i = 0; i < view->nasleep; i++)
		if ((long)view->asleep[i].regs.orig_rax == SYS_read && view->asleep[i].asleep)
			j->saw_asleep = true;
	return j->answer;
}

static void test_partial_freeze_judges_woken(void **state)
{
	int port;
	struct child c = start_blocker(&port);
	struct sut_err err;
	int judged_ok = 0, refused = 0, afresh = 0, stopped = 0;
	for (int round = 0; round < 120 && (judged_ok < 4 || refused < 4 || afresh < 2 ||
					    stopped < 2);
	     round++) {
		struct sut_freeze f;
		int rc = sut_ptrace_freeze_partial(c.pid, 2000, NULL, 0, &f, &err, NULL, NULL);
		if (rc == 1) {
			msleep(5);
			continue;
		}
		if (rc < 0)
			fail_msg("round %d: %s", round, err.msg);
		const struct sut_thread *reader = NULL;
		for (size_t i = 0; i < f.nasleep; i++)
			if ((long)f.asleep[i].regs.orig_rax == SYS_read)
				reader = &f.asleep[i];
		if (!reader) { /* not back in its read yet (a loaded machine): again */
			assert_int_equal(sut_ptrace_thaw(&f, &err), 0);
			sut_freeze_free(&f);
			msleep(20);
			continue;
		}
		bool spin = (judged_ok + refused) % 4 >= 2;
		struct judged j = {0, (judged_ok + refused) % 2, false, false};
		f.judge = count_judge;
		f.judge_ctx = &j;
		assert_int_equal(write(c.in, spin ? "s" : "x", 1), 1);
		msleep(20);
		uint8_t was[5], now[5];
		assert_int_equal(sut_proc_read(c.pid, reader->regs.rip, was, 5, &err), 0);
		struct sut_code_write w = {reader->regs.rip, was, 5};
		int wr = sut_freeze_write_code(&f, &w, 1, true, &err);
		assert_true(j.calls >= 1);
		assert_true(j.saw_asleep || j.saw_stopped);
		if (spin) { /* running: never judged asleep */
			assert_false(j.saw_asleep);
			stopped++;
		} else if (j.saw_asleep) {
			assert_int_equal(f.njudged, 0); /* not stopped */
			afresh++;
		}
		if (j.answer == 0) {
			assert_int_equal(wr, 0);
			assert_true(f.njudged + f.nafresh >= 1);
			judged_ok++;
		} else {
			assert_int_equal(wr, 1);
			assert_true(f.nwoke >= 1);
			refused++;
		}
		assert_int_equal(sut_proc_read(c.pid, reader->regs.rip, now, 5, &err), 0);
		assert_memory_equal(was, now, 5);
		/* judged asleep: the guard's end leaves it asleep too (no interrupt, no
		 * wake-up: its count of voluntary switches stays) */
		pid_t rtid = reader->tid;
		long v0 = voluntary(c.pid, rtid);
		assert_int_equal(sut_ptrace_thaw(&f, &err), 0);
		sut_freeze_free(&f);
		msleep(spin ? 80 : 5);
		if (!spin && j.saw_asleep && wr == 0)
			assert_int_equal(voluntary(c.pid, rtid), v0);
	}
	assert_true(judged_ok >= 4 && refused >= 4);
	assert_true(afresh >= 2 && stopped >= 2);
	finish_blocker(&c, port);
}

static long remote(struct sut_freeze *f, size_t ti, uint64_t insn, long nr, long a0, long a1,
		   long a2, long a3, long a4, long a5)
{
	long args[6] = {a0, a1, a2, a3, a4, a5}, ret = 0;
	struct sut_err err;
	if (sut_ptrace_syscall(f, ti, insn, nr, args, &ret, &err) < 0)
		fail_msg("remote syscall %ld: %s", nr, err.msg);
	return ret;
}

static void test_remote_syscall(void **state)
{
	int port;
	struct child c = start_blocker(&port);
	struct sut_maps m;
	struct sut_err err;
	uint64_t insn;
	assert_int_equal(sut_proc_maps(c.pid, &m, &err), 0);
	assert_int_equal(sut_proc_find_syscall_insn(c.pid, &m, &insn, &err), 0);
	sut_proc_maps_free(&m);

	struct sut_freeze f;
	assert_int_equal(sut_ptrace_freeze(c.pid, 2000, &f, &err), 0);
	long ti = sut_freeze_syscall_thread(&f);
	assert_true(ti >= 0);
	struct user_regs_struct before = f.threads[ti].regs;
	assert_int_equal(remote(&f, ti, insn, SYS_getpid, 0, 0, 0, 0, 0, 0), c.pid);
	long addr = remote(&f, ti, insn, SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(addr > 0 && addr % 4096 == 0);
	assert_int_equal(sut_proc_maps(c.pid, &m, &err), 0);
	assert_non_null(sut_maps_find(&m, (uint64_t)addr));
	sut_proc_maps_free(&m);
	/* Memory written through /proc/PID/mem reads back. */
	const char msg[] = "suture was here";
	char back[sizeof msg];
	assert_int_equal(sut_ptrace_write(c.pid, (uint64_t)addr, msg, sizeof msg, &err), 0);
	assert_int_equal(sut_proc_read(c.pid, (uint64_t)addr, back, sizeof back, &err), 0);
	assert_string_equal(back, msg);
	/* A failing call returns the raw negative errno. */
	assert_int_equal(remote(&f, ti, insn, SYS_close, 12345, 0, 0, 0, 0, 0), -EBADF);
	assert_int_equal(remote(&f, ti, insn, SYS_munmap, addr, 4096, 0, 0, 0, 0), 0);
	assert_int_equal(sut_proc_maps(c.pid, &m, &err), 0);
	assert_null(sut_maps_find(&m, (uint64_t)addr));
	sut_proc_maps_free(&m);
	/* The thread's registers are back as found, in the kernel too. */
	struct user_regs_struct now;
	assert_int_equal(ptrace(PTRACE_GETREGS, f.threads[ti].tid, 0, &now), 0);
	assert_memory_equal(&now, &before, sizeof now);
	assert_false(f.threads[ti].regs_dirty);

	/* The same on the thread blocked in read(): its read must still complete normally. */
	size_t reader = f.n;
	for (size_t i = 0; i < f.n; i++)
		if ((long)f.threads[i].regs.orig_rax == SYS_read)
			reader = i;
	assert_true(reader < f.n);
	assert_int_equal(remote(&f, reader, insn, SYS_gettid, 0, 0, 0, 0, 0, 0),
			 f.threads[reader].tid);
	/* Writing code pages: read-only text is writable through /proc/PID/mem. */
	uint8_t orig[2], patched[2] = {0x0f, 0x05};
	assert_int_equal(sut_proc_read(c.pid, insn, orig, 2, &err), 0);
	assert_int_equal(sut_ptrace_write(c.pid, insn, patched, 2, &err), 0);
	/* Writing to an unmapped address fails and names it. */
	assert_int_equal(sut_ptrace_write(c.pid, (uint64_t)addr, msg, 4, &err), -1);
	char hex[32];
	snprintf(hex, sizeof hex, "%lx", addr);
	assert_non_null(strstr(err.msg, hex));
	assert_int_equal(sut_ptrace_thaw(&f, &err), 0);
	sut_freeze_free(&f);
	msleep(2100);
	finish_blocker(&c, port);
}

/* A batch with the way home: the code it borrows is the process's own (`syscall; ret`
 * and an rt_sigreturn trampoline, found and really there), the calls run kill-proof, their
 * results are right, and the thread (blocked in read(), or the main one) gets back its
 * registers and signal mask bit for bit; its read still completes (finish_blocker). */
static void test_remote_batch_way_home(void **state)
{
	int port;
	struct child c = start_blocker(&port);
	struct sut_maps m;
	struct sut_err err;
	struct sut_syscall_site site;
	assert_int_equal(sut_proc_maps(c.pid, &m, &err), 0);
	assert_int_equal(sut_proc_find_syscall_site(c.pid, &m, &site, &err), 0);
	assert_true(site.ret_follows);
	assert_true(site.sigreturn != 0);
	uint8_t code[9];
	const uint8_t ret[] = {0x0f, 0x05, 0xc3}, back[] = {0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05};
	assert_int_equal(sut_proc_read(c.pid, site.insn, code, 3, &err), 0);
	assert_memory_equal(code, ret, 3);
	assert_int_equal(sut_proc_read(c.pid, site.sigreturn, code, 9, &err), 0);
	assert_memory_equal(code, back, 9);
	/* a second lookup comes from the cache and finds the same */
	struct sut_syscall_site again;
	assert_int_equal(sut_proc_find_syscall_site(c.pid, &m, &again, &err), 0);
	assert_int_equal(again.insn, site.insn);
	assert_int_equal(again.sigreturn, site.sigreturn);

	struct sut_freeze f;
	assert_int_equal(sut_ptrace_freeze(c.pid, 2000, &f, &err), 0);
	for (size_t ti = 0; ti < f.n; ti++) {
		struct sut_thread *t = &f.threads[ti];
		if (t->group_stop || t->pending_sig)
			continue;
		const struct sut_map *stack = sut_maps_find(&m, t->regs.rsp);
		assert_non_null(stack);
		assert_true(stack->perms[1] == 'w');
		site.stack_lo = stack->start;
		site.stack_hi = stack->end;
		struct user_regs_struct before = t->regs;
		uint64_t mask_before, mask_now;
		assert_int_equal(ptrace(PTRACE_GETSIGMASK, t->tid, 8, &mask_before), 0);
		struct sut_remote_call calls[3] = {
			{.nr = SYS_gettid},
			{.nr = SYS_mmap, .args = {0, 4096, PROT_READ | PROT_WRITE,
						  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0}},
			{.nr = SYS_munmap, .args = {0, 4096}, .from_ret = 1, .from = 1},
		};
		size_t done;
		bool kill_proof;
		assert_int_equal(sut_ptrace_syscalls(&f, ti, &site, calls, 3, &done, &kill_proof,
						     &err), 0);
		assert_true(kill_proof);
		assert_int_equal(done, 3);
		assert_int_equal(calls[0].ret, t->tid);
		assert_true(calls[1].ret > 0 && calls[1].ret % 4096 == 0);
		assert_int_equal(calls[2].ret, 0);
		struct user_regs_struct now;
		assert_int_equal(ptrace(PTRACE_GETREGS, t->tid, 0, &now), 0);
		assert_memory_equal(&now, &before, sizeof now);
		assert_false(t->regs_dirty);
		assert_int_equal(ptrace(PTRACE_GETSIGMASK, t->tid, 8, &mask_now), 0);
		assert_int_equal(mask_now, mask_before);
		/* a stack mapping with no room for the frame below rsp (a hostile or tiny
		 * stack): no frame is written, the batch is single-stepped, still right */
		struct sut_syscall_site tight = site;
		tight.stack_lo = t->regs.rsp - 1024;
		uint8_t below[4096], after[4096];
		assert_int_equal(sut_proc_read(c.pid, t->regs.rsp - 4096, below, 4096, &err), 0);
		struct sut_remote_call one = {.nr = SYS_gettid};
		assert_int_equal(sut_ptrace_syscalls(&f, ti, &tight, &one, 1, &done, &kill_proof,
						     &err), 0);
		assert_false(kill_proof);
		assert_int_equal(one.ret, t->tid);
		assert_int_equal(sut_proc_read(c.pid, t->regs.rsp - 4096, after, 4096, &err), 0);
		assert_memory_equal(after, below, 4096);
		assert_int_equal(ptrace(PTRACE_GETREGS, t->tid, 0, &now), 0);
		assert_memory_equal(&now, &before, sizeof now);
	}
	sut_proc_maps_free(&m);
	assert_int_equal(sut_ptrace_thaw(&f, &err), 0);
	sut_freeze_free(&f);
	msleep(2100);
	finish_blocker(&c, port);
}

static void test_stopped_process_stays_stopped(void **state)
{
	char *exe = build("sigcount", sigcount_src);
	struct child c = spawn(exe);
	char line[64];
	assert_int_equal(read_line(&c, line, sizeof line, 5000), 0);
	kill(c.pid, SIGSTOP);
	for (int i = 0; i < 200 && proc_state(c.pid) != 'T'; i++)
		msleep(5);
	assert_int_equal(proc_state(c.pid), 'T');
	/* Our own waitpid would report the stop of our child: consume it first. */
	int st;
	assert_int_equal(waitpid(c.pid, &st, WUNTRACED), c.pid);
	struct sut_freeze f;
	struct sut_err err;
	assert_int_equal(sut_ptrace_freeze(c.pid, 2000, &f, &err), 0);
	assert_int_equal(f.n, 1);
	assert_true(f.threads[0].group_stop);
	/* A group-stopped thread still runs remote syscalls (last choice), and the stop
	 * survives them: the process is still stopped after the thaw. */
	assert_int_equal(sut_freeze_syscall_thread(&f), 0);
	struct sut_maps maps;
	uint64_t insn;
	assert_int_equal(sut_proc_maps(c.pid, &maps, &err), 0);
	assert_int_equal(sut_proc_find_syscall_insn(c.pid, &maps, &insn, &err), 0);
	sut_proc_maps_free(&maps);
	long args[6] = {0}, ret = 0;
	if (sut_ptrace_syscall(&f, 0, insn, SYS_getpid, args, &ret, &err) < 0)
		fail_msg("remote getpid in a group-stopped thread: %s", err.msg);
	assert_int_equal(ret, c.pid);
	assert_int_equal(sut_ptrace_thaw(&f, &err), 0);
	sut_freeze_free(&f);
	msleep(100);
	assert_int_equal(proc_state(c.pid), 'T');
	kill(c.pid, SIGCONT);
	assert_int_equal(write(c.in, "p", 1), 1);
	assert_int_equal(read_line(&c, line, sizeof line, 5000), 0);
	assert_string_equal(line, "0");
	assert_true(proc_state(c.pid) != 'T');
	end_child(&c);
	free(exe);
}

static void test_signal_during_freeze_delivered_once(void **state)
{
	char *exe = build("sigcount", sigcount_src);
	struct child c = spawn(exe);
	char line[64];
	struct sut_err err;
	assert_int_equal(read_line(&c, line, sizeof line, 5000), 0);
	msleep(20);
	/* Plain freeze: a signal sent while frozen is delivered once after thaw. */
	struct sut_freeze f;
	assert_int_equal(sut_ptrace_freeze(c.pid, 2000, &f, &err), 0);
	kill(c.pid, SIGUSR1);
	msleep(50);
	assert_int_equal(sut_ptrace_thaw(&f, &err), 0);
	sut_freeze_free(&f);
	assert_int_equal(write(c.in, "p", 1), 1);
	assert_int_equal(read_line(&c, line, sizeof line, 5000), 0);
	assert_string_equal(line, "1");
	/* With remote syscalls run in between: still exactly once more. */
	struct sut_maps m;
	uint64_t insn;
	assert_int_equal(sut_proc_maps(c.pid, &m, &err), 0);
	assert_int_equal(sut_proc_find_syscall_insn(c.pid, &m, &insn, &err), 0);
	sut_proc_maps_free(&m);
	assert_int_equal(sut_ptrace_freeze(c.pid, 2000, &f, &err), 0);
	kill(c.pid, SIGUSR1);
	msleep(50);
	assert_int_equal(remote(&f, 0, insn, SYS_getpid, 0, 0, 0, 0, 0, 0), c.pid);
	assert_int_equal(remote(&f, 0, insn, SYS_getppid, 0, 0, 0, 0, 0, 0), getpid());
	assert_int_equal(sut_ptrace_thaw(&f, &err), 0);
	sut_freeze_free(&f);
	assert_int_equal(write(c.in, "p", 1), 1);
	assert_int_equal(read_line(&c, line, sizeof line, 5000), 0);
	assert_string_equal(line, "2");
	end_child(&c);
	free(exe);
}

static void test_freeze_thread_churn(void **state)
{
	char *exe = build("churn", churn_src);
	struct child c = spawn(exe);
	char buf[4096];
	struct sut_err err;
	assert_int_equal(read_line(&c, buf, 2, 5000), 0); /* it runs */
	fcntl(c.out, F_SETFL, O_NONBLOCK);
	int ok = 0;
	for (int i = 0; i < 20; i++) {
		struct sut_freeze f;
		uint64_t t0 = now_ms();
		int rc = sut_ptrace_freeze(c.pid, 1000, &f, &err);
		assert_true(now_ms() - t0 < 1000 + 1500); /* timeout plus the release grace */
		if (rc < 0) {
			assert_non_null(strstr(err.msg, "pid"));
			continue;
		}
		ok++;
		/* While frozen no thread outside the set is alive (exiting ones aside). */
		pid_t *tids;
		size_t n;
		assert_int_equal(sut_proc_threads(c.pid, &tids, &n, &err), 0);
		for (size_t k = 0; k < n; k++) {
			bool in = false;
			for (size_t j = 0; j < f.n; j++)
				in |= f.threads[j].tid == tids[k];
			if (!in) {
				char path[96], st[512] = "";
				snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)c.pid,
					 (int)tids[k]);
				FILE *fp = fopen(path, "r");
				if (fp) {
					size_t r = fread(st, 1, sizeof st - 1, fp);
					st[r] = 0;
					fclose(fp);
				}
				char *p = strrchr(st, ')');
				assert_true(!p || p[2] == 'Z' || p[2] == 'X');
			}
		}
		free(tids);
		assert_int_equal(sut_ptrace_thaw(&f, &err), 0);
		sut_freeze_free(&f);
		msleep(10);
	}
	assert_true(ok >= 15);
	/* Still running: fresh output arrives after draining the pipe. */
	while (read(c.out, buf, sizeof buf) > 0)
		;
	struct pollfd p = {c.out, POLLIN, 0};
	assert_int_equal(poll(&p, 1, 3000), 1);
	end_child(&c);
	free(exe);
}

static void test_freeze_errors(void **state)
{
	struct sut_freeze f;
	struct sut_err err;
	pid_t dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	assert_int_equal(sut_ptrace_freeze(dead, 500, &f, &err), -1);
	char num[16];
	snprintf(num, sizeof num, "%d", (int)dead);
	assert_non_null(strstr(err.msg, num));

	/* Another tracer holds the process: the message says so. */
	char *exe = build("sigcount", sigcount_src);
	struct child c = spawn(exe);
	char line[64];
	assert_int_equal(read_line(&c, line, sizeof line, 5000), 0);
	int sync[2];
	assert_int_equal(pipe(sync), 0);
	pid_t tracer = fork();
	if (tracer == 0) {
		char ok = ptrace(PTRACE_SEIZE, c.pid, 0, 0) == 0 ? 'y' : 'n';
		if (write(sync[1], &ok, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char ok = 0;
	assert_int_equal(read(sync[0], &ok, 1), 1);
	assert_int_equal(ok, 'y');
	assert_int_equal(sut_ptrace_freeze(c.pid, 500, &f, &err), -1);
	assert_non_null(strstr(err.msg, "already traced"));
	snprintf(num, sizeof num, "%d", (int)tracer);
	assert_non_null(strstr(err.msg, num));
	kill(tracer, SIGKILL);
	waitpid(tracer, NULL, 0);
	close(sync[0]);
	close(sync[1]);
	/* Released by the other tracer's death, it runs on and can be frozen. */
	assert_int_equal(write(c.in, "p", 1), 1);
	assert_int_equal(read_line(&c, line, sizeof line, 5000), 0);
	assert_int_equal(sut_ptrace_freeze(c.pid, 2000, &f, &err), 0);
	assert_int_equal(sut_ptrace_thaw(&f, &err), 0);
	sut_freeze_free(&f);
	end_child(&c);
	free(exe);
}

/* TracerPid and state of thread tid of pid. */
static pid_t tracer_and_state(pid_t pid, pid_t tid, char *state)
{
	char path[96], line[256];
	snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
	FILE *f = fopen(path, "re");
	pid_t tracer = -1;
	*state = '?';
	while (f && fgets(line, sizeof line, f)) {
		sscanf(line, "TracerPid: %d", &tracer);
		sscanf(line, "State: %c", state);
	}
	if (f)
		fclose(f);
	return tracer;
}

/* A thread that cannot stop (in the kernel, uninterruptible: a vfork parent) fails the
 * freeze at its deadline: the stopped threads are released at once (not after a grace
 * period), the stuck thread is named, and nothing of the freeze stays on it (it is not
 * left traced or stopped when it finally leaves the kernel). */
static void test_freeze_unstoppable_thread(void **state)
{
	char *exe = build("vforker", vforker_src);
	struct child c = spawn(exe);
	char line[64];
	assert_int_equal(read_line(&c, line, sizeof line, 5000), 0);
	long vtid = 0;
	assert_int_equal(sscanf(line, "vforker %ld", &vtid), 1);
	msleep(50);
	char st;
	tracer_and_state(c.pid, (pid_t)vtid, &st);
	assert_int_equal(st, 'D');

	struct sut_freeze f;
	struct sut_err err;
	uint64_t t0 = now_ms();
	assert_int_equal(sut_ptrace_freeze(c.pid, 200, &f, &err), -1);
	uint64_t took = now_ms() - t0;
	assert_true(took < 600); /* the deadline, not a further grace period */
	assert_int_equal(f.stuck, (pid_t)vtid);
	char num[16];
	snprintf(num, sizeof num, "%ld", vtid);
	assert_non_null(strstr(err.msg, num));
	assert_non_null(strstr(err.msg, "uninterruptible"));
	/* released at once: nobody traces the main thread, which runs */
	assert_int_equal(tracer_and_state(c.pid, c.pid, &st), 0);
	assert_true(st != 't' && st != 'T');
	assert_int_equal(tracer_and_state(c.pid, (pid_t)vtid, &st), 0);
	assert_int_equal(write(c.in, "p", 1), 1);
	assert_int_equal(read_line(&c, line, sizeof line, 2000), 0);
	assert_string_equal(line, "alive 0");
	/* once the vfork child exits, the thread goes on: not stopped, not traced */
	msleep(1700);
	assert_int_equal(tracer_and_state(c.pid, (pid_t)vtid, &st), 0);
	assert_true(st != 't' && st != 'T' && st != 'D');
	end_child(&c);
	free(exe);
}

static void test_stop_one(void **state)
{
	int port;
	struct child c = start_blocker(&port);
	pid_t *tids;
	size_t n;
	struct sut_err err;
	assert_int_equal(sut_proc_threads(c.pid, &tids, &n, &err), 0);
	assert_int_equal(n, 5);
	pid_t other = tids[0] == c.pid ? tids[1] : tids[0];
	free(tids);
	struct sut_freeze f;
	assert_int_equal(sut_ptrace_stop_one(c.pid, other, 2000, &f, &err), 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.threads[0].tid, other);
	assert_int_equal(sut_freeze_syscall_thread(&f), 0);
	assert_int_equal(sut_ptrace_thaw(&f, &err), 0);
	sut_freeze_free(&f);
	msleep(2100);
	finish_blocker(&c, port);
}

/* The partial freeze's parsers of /proc lines (sleepers.c): what a look reads is the
 * kernel's text, but it is parsed as untrusted all the same: a truncated, huge, negative
 * or garbage line is refused, never half read. */
static void test_sleeper_parsers(void **state)
{
	unsigned long long run, wait, pc_count;
	assert_int_equal(sut_proc_schedstat_parse("123 45 6\n", &run, &wait, &pc_count), 0);
	assert_true(run == 123 && wait == 45 && pc_count == 6);
	assert_int_equal(sut_proc_schedstat_parse("18446744073709551615 0 1", &run, &wait, &pc_count), 0);
	assert_true(run == 18446744073709551615ULL);
	static const char *bad_sched[] = {
		"", "\n", "123 45", "123 45 ", "123 45 6 7\n", "-1 45 6\n", "1 -45 6\n", "1 2 -3\n",
		"18446744073709551616 0 1\n", "123456789012345678901 0 1\n", "1  2 3\n", " 1 2 3\n",
		"1 2 3\n\n", "1 2 3x\n", "a b c\n", "0x10 2 3\n", "1\t2\t3\n", "1 2 +3\n",
	};
	for (size_t i = 0; i < sizeof bad_sched / sizeof *bad_sched; i++)
		if (sut_proc_schedstat_parse(bad_sched[i], &run, &wait, &pc_count) == 0)
			fail_msg("schedstat \"%s\" was accepted", bad_sched[i]);

	/* the partial freeze reads a sleeper's call through proc's parser: only a thread in
	   a call is one (the parser's own hostile cases are test_proc's) */
	struct sut_proc_syscall sc;
#define IN_CALL(t) (sut_proc_syscall_parse((t), strlen(t), &sc) == 0 && \
		    sc.state == SUT_SYSCALL_IN_CALL)
	assert_true(IN_CALL("0 0x3 0x7ffd1234 0x1 0x0 0x0 0x0 0x7ffd1200 0x7f0011223344\n"));
	assert_true(sc.nr == 0 && sc.args[0] == 3 && sc.args[1] == 0x7ffd1234 && sc.args[2] == 1);
	assert_true(sc.sp == 0x7ffd1200 && sc.pc == 0x7f0011223344ULL);
	assert_true(IN_CALL("230 0x0 0x0 0xffffffffffffffff 0x0 0x0 0x0 0x1 0x2\n"));
	assert_true(sc.nr == 230 && sc.args[2] == ~0ULL);
	static const char *bad_sys[] = {
		"running\n", "-1 0x7ffd1200 0x7f0011223344\n", "", "\n", "0", "0 0x1 0x2",
		"0 0x3 0x7ffd1234 0x1 0x0 0x0 0x0 0x7ffd1200\n", /* truncated: no PC */
		"0 0x3 0x7ffd1234 0x1 0x0 0x0 0x0 0x7ffd1200 0x7f00 0x1\n", /* one too many */
		"0 0x3 0x7ffd1234 0x1 0x0 0x0 0x0 0x7ffd1200 0x10000000000000000\n", /* 65 bits */
		"0 3 0x7ffd1234 0x1 0x0 0x0 0x0 0x7ffd1200 0x7f00\n",   /* no 0x */
		"0 0x 0x7ffd1234 0x1 0x0 0x0 0x0 0x7ffd1200 0x7f00\n",  /* no digits */
		"0 0xg 0x7ffd1234 0x1 0x0 0x0 0x0 0x7ffd1200 0x7f00\n", /* garbage */
		"-5 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n",
		"99999999999999999999 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n",
		"4097 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n",
		"0 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0 trailing\n", "0  0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n",
	};
	for (size_t i = 0; i < sizeof bad_sys / sizeof *bad_sys; i++)
		if (IN_CALL(bad_sys[i]))
			fail_msg("syscall \"%s\" was accepted", bad_sys[i]);

	struct ptr_status ps;
	assert_int_equal(ptr_parse_status("Name:\tprog\nState:\tS (sleeping)\nTgid:\t1\n"
					  "SigQ:\t0/1000\nSigPnd:\t0000000000000010\n"
					  "ShdPnd:\t0000000000000000\nSigBlk:\tfffffffe7ffbfeff\n", &ps), 0);
	assert_true(ps.state == 'S' && ps.sigpnd == 0x10 && ps.sigblk == 0xfffffffe7ffbfeffULL);
	assert_true(ps.has_shdpnd && ps.shdpnd == 0);
	assert_true(ps.tracer == -1 && ps.seccomp == -1); /* absent */
	/* the optional fields: read when well formed, absent (-1) otherwise; Seccomp_filters
	 * is not Seccomp */
	assert_int_equal(ptr_parse_status("State:\tt (tracing stop)\nTracerPid:\t4242\n"
					  "SigPnd:\t0000000000000000\nShdPnd:\t0000000000000100\n"
					  "SigBlk:\t0000000000000000\nSeccomp:\t2\n"
					  "Seccomp_filters:\t1\n", &ps), 0);
	assert_true(ps.state == 't' && ps.tracer == 4242 && ps.seccomp == 2 && ps.has_shdpnd &&
		    ps.shdpnd == 0x100);
	assert_int_equal(ptr_parse_status("State:\tS\nTracerPid:\t-1\nSigPnd:\t0000000000000000\n"
					  "ShdPnd:\t01\nSigBlk:\t0000000000000000\n"
					  "Seccomp_filters:\t1\nSeccomp:\t3\n", &ps), 0);
	assert_true(ps.tracer == -1 && ps.seccomp == -1 && !ps.has_shdpnd);
	assert_int_equal(ptr_parse_status("State:\tS\nTracerPid:\t99999999999\n"
					  "SigPnd:\t0000000000000000\nSigBlk:\t0000000000000000\n", &ps), 0);
	assert_int_equal(ps.tracer, -1);
	static const char *bad_status[] = {
		"", "State:\tS (sleeping)\n", /* no signal sets */
		"State:\tS (sleeping)\nSigPnd:\t0000000000000010\n",
		"State:\tS\nSigPnd:\t00000000000010\nSigBlk:\t0000000000000000\n", /* short */
		"State:\tS\nSigPnd:\t00000000000000100\nSigBlk:\t0000000000000000\n", /* long */
		"State:\tS\nSigPnd:\t-000000000000010\nSigBlk:\t0000000000000000\n",
		"State:\tQ\nSigPnd:\t0000000000000010\nSigBlk:\t0000000000000000\n",
		"State:\tSS\nSigPnd:\t0000000000000010\nSigBlk:\t0000000000000000\n",
		"State:\t\nSigPnd:\t0000000000000010\nSigBlk:\t0000000000000000\n",
		"State:\tS\nSigPnd:\t00000000000000zz\nSigBlk:\t0000000000000000\n",
		"State:\tS\nSigPnd:\t0000000000000010\nSigBlk:\t0000000000000000",
	};
	/* the last one is valid: a final line without its newline */
	for (size_t i = 0; i + 1 < sizeof bad_status / sizeof *bad_status; i++)
		if (ptr_parse_status(bad_status[i], &ps) == 0)
			fail_msg("status \"%s\" was accepted", bad_status[i]);
	assert_int_equal(ptr_parse_status(bad_status[sizeof bad_status / sizeof *bad_status - 1],
					  &ps), 0);
	/* huge: a line longer than any buffer, and a status of megabytes, end cleanly */
	size_t big = 1 << 20;
	char *huge = malloc(big + 1);
	assert_non_null(huge);
	memset(huge, '7', big);
	huge[big] = 0;
	assert_int_equal(sut_proc_schedstat_parse(huge, &run, &wait, &pc_count), -1);
	assert_false(IN_CALL(huge));
#undef IN_CALL
	assert_int_equal(ptr_parse_status(huge, &ps), -1);
	free(huge);
	/* this thread's own status parses */
	assert_int_equal(ptr_status_read(getpid(), (pid_t)syscall(SYS_gettid), &ps), 0);
	assert_int_equal(ps.state, 'R');
	assert_true(ps.has_shdpnd && ps.tracer == 0 && ps.seccomp >= 0);
	assert_int_equal(ptr_status_read(getpid(), 0x7fffffff, &ps), -1);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sleeper_parsers),
		cmocka_unit_test(test_freeze_errors),
		cmocka_unit_test(test_stopped_process_stays_stopped),
		cmocka_unit_test(test_signal_during_freeze_delivered_once),
		cmocka_unit_test(test_remote_syscall),
		cmocka_unit_test(test_remote_batch_way_home),
		cmocka_unit_test(test_stop_one),
		cmocka_unit_test(test_freeze_unstoppable_thread),
		cmocka_unit_test(test_freeze_blocked_threads_undisturbed),
		cmocka_unit_test(test_partial_freeze_leaves_sleepers),
		cmocka_unit_test(test_partial_freeze_judges_woken),
		cmocka_unit_test(test_freeze_thread_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
