/* SPDX-License-Identifier: Apache-2.0 */
/* The system call a thread is blocked in, from /proc/PID/task/TID/syscall, read without
 * stopping the thread, and how long it will sleep.
 *
 * Invariant: the file is the target's to shape only through its registers, but it is
 * still parsed as untrusted text: one pure function accepts exactly the three forms the
 * kernel prints ("running", "-1 SP PC", "NR A0 .. A5 SP PC", hexadecimal with 0x, one
 * space between fields, one newline at the end), with a call number in [0, SUT_SYSCALL_NR_MAX]
 * and every number within 64 bits; anything else is "unknown" and never a call. A timeout
 * read from the process's memory is one more untrusted value: a negative or out-of-range
 * timespec, or one that cannot be read, is "unknown", never "forever". */
#include "proc/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* One unsigned number in hexadecimal ("0x" and 1 to 16 digits) or, when dec, a decimal
 * number of at most 19 digits; *p moves past it. */
static bool number(const char **p, const char *end, bool dec, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	int digits = 0;
	if (!dec) {
		if (end - s < 2 || s[0] != '0' || s[1] != 'x')
			return false;
		s += 2;
	}
	for (; s < end; s++, digits++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (!dec && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			break;
		if (digits >= (dec ? 19 : 16))
			return false;
		x = dec ? x * 10 + (uint64_t)d : x << 4 | (uint64_t)d;
	}
	if (!digits)
		return false;
	*p = s;
	*v = x;
	return true;
}

int sut_proc_syscall_parse(const char *text, size_t len, struct sut_proc_syscall *out)
{
	memset(out, 0, sizeof *out);
	out->state = SUT_SYSCALL_UNKNOWN;
	const char *p = text, *end = text + len;
	if (len && end[-1] == '\n')
		end--; /* the one newline the kernel ends the line with */
	if (memchr(text, 0, (size_t)(end - text)))
		return -1;
	if ((size_t)(end - p) == 7 && memcmp(p, "running", 7) == 0) {
		out->state = SUT_SYSCALL_RUNNING;
		return 0;
	}
	bool none = end - p >= 2 && p[0] == '-' && p[1] == '1';
	uint64_t nr = 0, v[8];
	int want = none ? 2 : 8;
	if (none)
		p += 2;
	else if (!number(&p, end, true, &nr) || nr > SUT_SYSCALL_NR_MAX)
		return -1;
	for (int i = 0; i < want; i++) {
		if (p >= end || *p != ' ')
			return -1;
		p++;
		if (!number(&p, end, false, &v[i]))
			return -1;
	}
	if (p != end)
		return -1;
	if (none) {
		out->state = SUT_SYSCALL_NONE;
		out->sp = v[0];
		out->pc = v[1];
		return 0;
	}
	out->state = SUT_SYSCALL_IN_CALL;
	out->nr = (long)nr;
	memcpy(out->args, v, sizeof out->args);
	out->sp = v[6];
	out->pc = v[7];
	return 0;
}

int sut_proc_syscall_read(pid_t pid, pid_t tid, struct sut_proc_syscall *out,
			  struct sut_err *err)
{
	char path[96], buf[SUT_SYSCALL_TEXT_MAX + 1];
	memset(out, 0, sizeof *out);
	out->state = SUT_SYSCALL_UNKNOWN;
	snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sut_errno(err, "pid %d: thread %d: cannot open its syscall file", (int)pid,
				 (int)tid);
	ssize_t n;
	do
		n = read(fd, buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	int saved = errno;
	close(fd);
	if (n < 0) {
		errno = saved;
		return sut_errno(err, "pid %d: thread %d: cannot read its syscall file", (int)pid,
				 (int)tid);
	}
	/* one read gives the whole line (the kernel formats it at once); a longer one is
	 * not the kernel's */
	if ((size_t)n > SUT_SYSCALL_TEXT_MAX || sut_proc_syscall_parse(buf, (size_t)n, out) < 0)
		return sut_errf(err, "pid %d: thread %d: its syscall file does not read as one",
				(int)pid, (int)tid);
	return 0;
}

/* Milliseconds of a timespec (tv false) or timeval (tv true) at addr in the process:
 * SUT_SLEEP_UNKNOWN when unreadable or not a valid time. */
static long long ms_at(pid_t pid, uint64_t addr, bool tv)
{
	long long v[2];
	struct sut_err ignored;
	if (sut_proc_read(pid, addr, v, sizeof v, &ignored) < 0 || v[0] < 0 || v[1] < 0 ||
	    v[1] >= (tv ? 1000000 : 1000000000) || v[0] > 1000000000000LL)
		return SUT_SLEEP_UNKNOWN;
	return v[0] * 1000 + (tv ? v[1] / 1000 : v[1] / 1000000);
}

/* Time left until an absolute timespec at addr on clock clk, in ms. */
static long long ms_until(pid_t pid, uint64_t addr, clockid_t clk)
{
	long long at = ms_at(pid, addr, false);
	struct timespec now;
	if (at < 0 || clock_gettime(clk, &now) < 0)
		return SUT_SLEEP_UNKNOWN;
	long long n = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	return at > n ? at - n : 0;
}

long long sut_proc_syscall_sleep_ms(pid_t pid, const struct sut_proc_syscall *s)
{
	if (s->state != SUT_SYSCALL_IN_CALL)
		return SUT_SLEEP_UNKNOWN;
	const uint64_t *a = s->args;
	long long ms = SUT_SLEEP_FOREVER;
	switch (s->nr) {
	case SYS_nanosleep:
		return a[0] ? ms_at(pid, a[0], false) : SUT_SLEEP_UNKNOWN;
	case SYS_clock_nanosleep:
		if (!a[2] || a[0] > 11)
			return SUT_SLEEP_UNKNOWN;
		return a[1] & TIMER_ABSTIME ? ms_until(pid, a[2], (clockid_t)a[0])
					    : ms_at(pid, a[2], false);
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
	case SYS_poll: {
		int t = (int)a[s->nr == SYS_poll ? 2 : 3];
		return t < 0 ? SUT_SLEEP_FOREVER : t;
	}
	case SYS_ppoll:
	case SYS_rt_sigtimedwait:
		return a[2] ? ms_at(pid, a[2], false) : SUT_SLEEP_FOREVER;
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
		return a[3] ? ms_at(pid, a[3], false) : SUT_SLEEP_FOREVER;
#endif
	case SYS_select:
	case SYS_pselect6:
		return a[4] ? ms_at(pid, a[4], s->nr == SYS_select) : SUT_SLEEP_FOREVER;
	case SYS_futex: {
		unsigned op = (unsigned)a[1] & 127; /* without PRIVATE and CLOCK_REALTIME */
		if (op != 0 /* WAIT */ && op != 9 /* WAIT_BITSET */)
			return SUT_SLEEP_FOREVER; /* a lock or a requeue: woken by another thread */
		if (!a[3])
			return SUT_SLEEP_FOREVER;
		return op == 0 ? ms_at(pid, a[3], false)
			       : ms_until(pid, a[3],
					  a[1] & 256 ? CLOCK_REALTIME : CLOCK_MONOTONIC);
	}
	case SYS_restart_syscall:
		return SUT_SLEEP_UNKNOWN; /* a timed sleep resumed after a stop: its deadline is
					     the kernel's alone */
	default:
		return ms; /* read(), accept(), wait4(), pause()...: no timeout of their own */
	}
}
