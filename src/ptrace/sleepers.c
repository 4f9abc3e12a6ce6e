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

/* A thread whose call ends by itself soon (a timeout under SHORT_SLEEP_MS) would wake
 * between the two looks and end the attempt: it is stopped instead, as by the full
 * freeze. Only an efficiency matter: a sleeper that wakes is always caught. */
#define SHORT_SLEEP_MS 1000

/* Milliseconds of a timespec (tv = 0) or timeval (tv = 1) in the process at addr; -1 when
 * unreadable (counts as short: stop it). */
static long long ms_at(pid_t pid, uint64_t addr, bool tv)
{
	long long v[2];
	struct sut_err ignored;
	if (sut_proc_read(pid, addr, v, sizeof v, &ignored) < 0 || v[0] < 0 || v[1] < 0)
		return -1;
	return v[0] * 1000 + (tv ? v[1] / 1000 : v[1] / 1000000);
}

/* Time left until an absolute timespec at addr on clock clk, in ms (-1: unknown). */
static long long ms_until(pid_t pid, uint64_t addr, clockid_t clk)
{
	long long at = ms_at(pid, addr, false);
	struct timespec now;
	if (at < 0 || clock_gettime(clk, &now) < 0)
		return -1;
	long long n = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	return at > n ? at - n : 0;
}

static bool short_sleep(pid_t pid, long nr, const unsigned long long *a)
{
	long long ms = -2; /* -2: no timeout */
	switch (nr) {
	case SYS_nanosleep:
		ms = ms_at(pid, a[0], false);
		break;
	case SYS_clock_nanosleep:
		ms = a[1] & TIMER_ABSTIME ? ms_until(pid, a[2], (clockid_t)a[0])
					  : ms_at(pid, a[2], false);
		break;
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
	case SYS_poll:
		ms = (int)a[nr == SYS_poll ? 2 : 3];
		ms = ms < 0 ? -2 : ms;
		break;
	case SYS_ppoll:
	case SYS_rt_sigtimedwait:
		if (a[2])
			ms = ms_at(pid, a[2], false);
		break;
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
		if (a[3])
			ms = ms_at(pid, a[3], false);
		break;
#endif
	case SYS_select:
	case SYS_pselect6:
		if (a[4])
			ms = ms_at(pid, a[4], nr == SYS_select);
		break;
	case SYS_futex: {
		unsigned op = (unsigned)a[1] & 127; /* without PRIVATE and CLOCK_REALTIME */
		if ((op == 0 /* WAIT */ || op == 9 /* WAIT_BITSET */) && a[3])
			ms = op == 0 ? ms_at(pid, a[3], false)
				     : ms_until(pid, a[3], a[1] & 256 ? CLOCK_REALTIME
								  : CLOCK_MONOTONIC);
		break;
	}
	default:
		break;
	}
	return ms != -2 && ms < SHORT_SLEEP_MS;
}

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
	/* "0 0 0" for ever: a kernel without scheduler statistics cannot prove anything */
	if (n <= 0 || sscanf(s->sched, "%llu %llu %llu", &run, &wait, &count) != 3 ||
	    count == 0) {
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
	unsigned long long a[6], sp, pc;
	long nr;
	/* "running", or "-1 SP PC" (not in a system call: a fault, a stop) do not match */
	if (n <= 0 || sscanf(line, "%ld 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx",
			     &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5], &sp, &pc) != 9 ||
	    nr < 0 || unsafe_call(nr) || short_sleep(pid, nr, a)) {
		close(fd);
		return 0;
	}
	s->nr = nr;
	s->sp = sp;
	s->pc = pc;
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
