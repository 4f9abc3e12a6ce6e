/* SPDX-License-Identifier: Apache-2.0 */
/* Looking at a thread asleep in a system call without stopping it, twice.
 *
 * First look, in this order: /proc/PID/task/TID/schedstat (kept open), the state letter
 * (stat), then /proc/PID/task/TID/syscall. The syscall file answers "running" unless the
 * thread is off every CPU, and then gives the registers it entered the kernel with: the
 * call number, its six arguments, the user stack pointer and the user PC. schedstat's
 * fields are the thread's CPU time, its time waiting for a CPU and the number of times it
 * was switched in (sched_info.pcount, counted on every arrival on a CPU after a wake-up or
 * a preemption). Second look: schedstat again, through the same descriptor. The same line
 * means the thread was not switched in since before the syscall file saw it off-CPU: it
 * has not run since, in the kernel or in user mode (docs/architecture.md, "Sleeping
 * threads stay asleep"). */
#include "ptrace/ptrace_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "proc/proc.h"

/* Calls a thread may not be left in: they create a task that may share the memory
 * (a vfork parent waits in 'D' while its child runs in the same memory), replace the
 * memory, or end the thread. Such threads are stopped, as by the full freeze. */
static bool unsafe_call(long nr)
{
	switch (nr) {
	case SYS_clone:
	case SYS_fork:
	case SYS_vfork:
#ifdef SYS_clone3
	case SYS_clone3:
#endif
	case SYS_execve:
	case SYS_execveat:
	case SYS_exit:
	case SYS_exit_group:
		return true;
	default:
		return false;
	}
}

/* A thread whose call ends by itself soon (a timeout under SHORT_SLEEP_MS) is likely to
 * wake between the two looks: it is stopped at once instead, as by the full freeze. Only
 * an efficiency matter: a sleeper that wakes is always caught, and then judged where it
 * sleeps again, or stopped and judged (sut_freeze_write_code). 20 ms: at 1000 threads
 * sleeping 100 ms, measured against 1 s in one run (docs/performance.md), the stall fell
 * from 13.5 to 3.9 ms; threads that sleep 1 ms wake during any freeze. */
#ifndef SHORT_SLEEP_MS
#define SHORT_SLEEP_MS 20
#endif

/* Whether the thread's call ends by itself within SHORT_SLEEP_MS, judged by proc's one
 * reading of a call's timeout (a timeout that cannot be read counts as short: the thread is
 * stopped). A thread in restart_syscall is a timed sleep an earlier stop interrupted and
 * the kernel resumed: its deadline is the kernel's alone, but it is asleep, and left so (if
 * it wakes, the second look catches it). */
static bool short_sleep(pid_t pid, const struct sut_proc_syscall *sc)
{
	if (sc->nr == SYS_restart_syscall)
		return false;
	long long ms = sut_proc_syscall_sleep_ms(pid, sc);
	return ms != SUT_SLEEP_FOREVER && ms < SHORT_SLEEP_MS;
}

/* ---- parsers (pure) ---- */

/* "Name:\tVALUE" lines; returns the value of the first line named name, or NULL. */
static const char *status_field(const char *text, const char *name)
{
	size_t len = strlen(name);
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (strncmp(l, name, len) == 0 && l[len] == ':') {
			l += len + 1;
			while (*l == '\t' || *l == ' ')
				l++;
			return l;
		}
	return NULL;
}

/* A signal set: exactly 16 hex digits (64 signals), then the end of the line. */
static bool take_sigset(const char *v, uint64_t *out)
{
	uint64_t x = 0;
	int i;
	for (i = 0; i < 16; i++) {
		char c = v[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return false;
		x = x << 4 | (uint64_t)d;
	}
	if (v[i] != '\n' && v[i] != 0)
		return false;
	*out = x;
	return true;
}

/* A decimal of at most max, then the end of the line; -1 otherwise. */
static long take_decimal(const char *v, long max)
{
	long x = 0;
	int i;
	for (i = 0; v[i] >= '0' && v[i] <= '9'; i++) {
		x = x * 10 + (v[i] - '0');
		if (x > max)
			return -1;
	}
	return i && (v[i] == '\n' || v[i] == 0) ? x : -1;
}

int ptr_parse_status(const char *text, struct ptr_status *ps)
{
	memset(ps, 0, sizeof *ps);
	const char *st = status_field(text, "State"), *pnd = status_field(text, "SigPnd"),
		   *blk = status_field(text, "SigBlk");
	if (!st || !pnd || !blk || !strchr("RSDTtZXIPKW", *st) || !*st ||
	    (st[1] != ' ' && st[1] != '\n' && st[1] != 0) || !take_sigset(pnd, &ps->sigpnd) ||
	    !take_sigset(blk, &ps->sigblk))
		return -1;
	ps->state = *st;
	const char *shd = status_field(text, "ShdPnd"), *tr = status_field(text, "TracerPid"),
		   *sc = status_field(text, "Seccomp");
	ps->has_shdpnd = shd && take_sigset(shd, &ps->shdpnd);
	ps->tracer = tr ? take_decimal(tr, 1L << 30) : -1;
	ps->seccomp = sc ? (int)take_decimal(sc, 2) : -1;
	return 0;
}

int ptr_status_read(pid_t pid, pid_t tid, struct ptr_status *ps)
{
	char path[96], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	ssize_t n;
	while (got < sizeof buf - 1 &&
	       ((n = read(fd, buf + got, sizeof buf - 1 - got)) > 0 || (n < 0 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	close(fd);
	buf[got] = 0;
	return ptr_parse_status(buf, ps);
}

/* ---- looking ---- */

static ssize_t read_at0(int fd, char *buf, size_t cap)
{
	ssize_t n;
	do
		n = pread(fd, buf, cap - 1, 0);
	while (n < 0 && errno == EINTR);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

int ptr_sample(pid_t pid, pid_t tid, struct ptr_sample *s)
{
	char path[96], line[320];
	memset(s, 0, sizeof *s);
	s->tid = tid;
	s->sched_fd = -1;
	snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -1 : 0;
	ssize_t n = read_at0(fd, s->sched, sizeof s->sched);
	unsigned long long run, wait, count;
	/* "0 0 0" for ever: a kernel without scheduler statistics cannot prove anything; a
	 * line that fills the buffer may be cut, and a cut line proves nothing either */
	if (n <= 0 || (size_t)n >= sizeof s->sched - 1 ||
	    sut_proc_schedstat_parse(s->sched, &run, &wait, &count) < 0 || count == 0) {
		close(fd);
		return n < 0 ? -1 : 0;
	}
	char st = ptr_thread_state(pid, tid);
	if (st == '?') {
		close(fd);
		return -1;
	}
	if (st != 'S' && st != 'D') {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	int sfd = open(path, O_RDONLY | O_CLOEXEC);
	if (sfd < 0) {
		close(fd);
		return errno == ENOENT || errno == ESRCH ? -1 : 0;
	}
	n = read_at0(sfd, line, sizeof line);
	close(sfd);
	struct sut_proc_syscall sc;
	/* "running", or "-1 SP PC" (not in a system call: a fault, a stop) are no sleepers */
	if (n <= 0 || (size_t)n >= sizeof line - 1 ||
	    sut_proc_syscall_parse(line, (size_t)n, &sc) < 0 || sc.state != SUT_SYSCALL_IN_CALL ||
	    unsafe_call(sc.nr) || short_sleep(pid, &sc)) {
		close(fd);
		return 0;
	}
	s->nr = sc.nr;
	s->sp = sc.sp;
	s->pc = sc.pc;
	s->sched_fd = fd;
	return 1;
}

bool ptr_sample_unchanged(const struct ptr_sample *s)
{
	char now[sizeof s->sched];
	if (s->sched_fd < 0 || read_at0(s->sched_fd, now, sizeof now) <= 0)
		return false;
	return strcmp(now, s->sched) == 0;
}

void ptr_sample_close(struct ptr_sample *s)
{
	if (s->sched_fd >= 0)
		close(s->sched_fd);
	s->sched_fd = -1;
}
