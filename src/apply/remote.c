/* SPDX-License-Identifier: Apache-2.0 */
#include "apply/remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "util/buf.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif

int sut_remote_init(struct sut_remote *r, struct sut_freeze *f, const struct sut_maps *maps,
		    struct sut_err *err)
{
	r->f = f;
	long ti = sut_freeze_syscall_thread(f);
	if (ti < 0)
		return sut_errf(err, "pid %d: no thread is in a state that can run a system call",
				(int)f->pid);
	r->ti = (size_t)ti;
	return sut_proc_find_syscall_insn(f->pid, maps, &r->insn, err);
}

static long call(struct sut_remote *r, long nr, long a0, long a1, long a2, long a3, long a4,
		 long a5, struct sut_err *err, int *failed)
{
	long args[6] = {a0, a1, a2, a3, a4, a5}, ret = 0;
	if (sut_ptrace_syscall(r->f, r->ti, r->insn, nr, args, &ret, err) < 0) {
		*failed = 1;
		return -1;
	}
	return ret;
}

/* The calls sut_remote_map makes, those of its failure path included, in order; the
 * placeholder's address is unknown when the kernel chooses it, the memfd's number always. */
static size_t map_plan(uint64_t place, uint64_t rx, int rx_prot, uint64_t rw,
		       struct sut_syscall_plan *p)
{
	uint64_t total = rx + rw;
	uint8_t ph = place ? 0 : 1; /* bit of an argument that is the placeholder address */
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (place ? MAP_FIXED_NOREPLACE : 0);
	size_t n = 0;
	p[n++] = (struct sut_syscall_plan){SYS_mmap, {place, total, PROT_READ | PROT_WRITE,
						      (uint64_t)flags, (uint64_t)-1, 0}, 0};
	p[n++] = (struct sut_syscall_plan){SYS_memfd_create, {place, MFD_CLOEXEC}, ph};
	p[n++] = (struct sut_syscall_plan){SYS_ftruncate, {0, total}, 1};
	p[n++] = (struct sut_syscall_plan){SYS_mmap, {place, total, (uint64_t)rx_prot,
						      MAP_PRIVATE | MAP_FIXED, 0, 0},
					   (uint8_t)(ph | 1u << 4)};
	if (rw)
		p[n++] = (struct sut_syscall_plan){SYS_mprotect, {place + rx, rw,
								  PROT_READ | PROT_WRITE}, ph};
	p[n++] = (struct sut_syscall_plan){SYS_close, {0}, 1};
	p[n++] = (struct sut_syscall_plan){SYS_munmap, {place, total}, ph};
	return n;
}

int sut_remote_check_map(const struct sut_remote *r, uint64_t place, uint64_t rx, int rx_prot,
			 uint64_t rw, struct sut_err *err)
{
	struct sut_syscall_plan p[8];
	size_t n = map_plan(place, rx, rx_prot, rw, p);
	return sut_seccomp_check(r->f->pid, r->f->threads[r->ti].tid, r->insn, p, n, err);
}

int sut_remote_check_unmap(const struct sut_remote *r, uint64_t addr, uint64_t len,
			   struct sut_err *err)
{
	struct sut_syscall_plan p = {SYS_munmap, {addr, len}, 0};
	return sut_seccomp_check(r->f->pid, r->f->threads[r->ti].tid, r->insn, &p, 1, err);
}

#define RCALL(nr, ...) call(r, nr, __VA_ARGS__, err, &failed)
#define KERR(ret) ((unsigned long)(ret) > -4096UL)

int sut_remote_map(struct sut_remote *r, const char *name, uint64_t place, uint64_t rx,
		   int rx_prot, uint64_t rw, uint64_t *addr, struct sut_err *err)
{
	int failed = 0;
	pid_t pid = r->f->pid;
	uint64_t total = rx + rw;
	/* An anonymous placeholder first: it reserves the range (nothing the kernel places
	 * for us afterwards can take it) and holds the name memfd_create reads from process
	 * memory. The memfd mapping then replaces our own placeholder with MAP_FIXED. */
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (place ? MAP_FIXED_NOREPLACE : 0);
	long ph = RCALL(SYS_mmap, (long)place, (long)total, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (failed)
		return -1;
	if (KERR(ph)) {
		errno = (int)-ph;
		return sut_errno(err, "pid %d: remote mmap of %s at 0x%llx", (int)pid, name,
				 (unsigned long long)place);
	}
	if (place && (uint64_t)ph != place) {
		/* an old kernel ignoring MAP_FIXED_NOREPLACE treats it as a hint */
		RCALL(SYS_munmap, ph, (long)total, 0, 0, 0, 0);
		return failed ? -1
			      : sut_errf(err, "pid %d: could not map %s at 0x%llx", (int)pid, name,
					 (unsigned long long)place);
	}
	int rc = -1;
	long fd = -1, ret;
	char nm[250];
	snprintf(nm, sizeof nm, "%s", name);
	if (sut_ptrace_write(pid, (uint64_t)ph, nm, strlen(nm) + 1, err) < 0)
		goto out;
	fd = RCALL(SYS_memfd_create, ph, MFD_CLOEXEC, 0, 0, 0, 0);
	if (failed)
		goto out;
	if (KERR(fd)) {
		errno = (int)-fd;
		sut_errno(err, "pid %d: remote memfd_create(%s)", (int)pid, name);
		fd = -1;
		goto out;
	}
	ret = RCALL(SYS_ftruncate, fd, (long)total, 0, 0, 0, 0);
	if (failed)
		goto out;
	if (KERR(ret)) {
		errno = (int)-ret;
		sut_errno(err, "pid %d: remote ftruncate of %s", (int)pid, name);
		goto out;
	}
	ret = RCALL(SYS_mmap, ph, (long)total, rx_prot, MAP_PRIVATE | MAP_FIXED, fd, 0);
	if (failed)
		goto out;
	if (KERR(ret)) {
		errno = (int)-ret;
		sut_errno(err, "pid %d: remote mmap of %s", (int)pid, name);
		goto out;
	}
	if (rw) {
		ret = RCALL(SYS_mprotect, ph + (long)rx, (long)rw, PROT_READ | PROT_WRITE, 0, 0, 0);
		if (failed)
			goto out;
		if (KERR(ret)) {
			errno = (int)-ret;
			sut_errno(err, "pid %d: remote mprotect of %s", (int)pid, name);
			goto out;
		}
	}
	*addr = (uint64_t)ph;
	rc = 0;
out:
	if (fd >= 0)
		RCALL(SYS_close, fd, 0, 0, 0, 0, 0);
	if (rc < 0)
		RCALL(SYS_munmap, ph, (long)total, 0, 0, 0, 0);
	return failed ? -1 : rc;
}

int sut_remote_unmap(struct sut_remote *r, uint64_t addr, uint64_t len, struct sut_err *err)
{
	int failed = 0;
	long ret = RCALL(SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0);
	if (failed)
		return -1;
	if (KERR(ret)) {
		errno = (int)-ret;
		return sut_errno(err, "pid %d: remote munmap at 0x%llx", (int)r->f->pid,
				 (unsigned long long)addr);
	}
	return 0;
}

/* How costly holding a thread for staging is to the application, lower first, judged
 * without stopping it (/proc/PID/task/TID/stat and syscall):
 *   0  another thread, asleep ('S') in a system call that installs no temporary signal
 *      mask: it is not running user code, so the stop and the remote calls take nothing
 *      from the application; its call is restarted on resume;
 *   1  the leader asleep in such a call;
 *   2  any other thread asleep;
 *   3  running or runnable threads (they lose CPU time while held), the leader first. */
static int staging_cost(pid_t pid, pid_t tid)
{
	char path[96], buf[512];
	const char *q = sut_proc_stat_fields(pid, tid, buf, sizeof buf);
	if (!q)
		return 4;
	if (q[0] != 'S')
		return 3;
	snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 2;
	long nr = -1;
	unsigned long long a[6] = {0};
	int got = fscanf(f, "%ld 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx", &nr, &a[0], &a[1],
			 &a[2], &a[3], &a[4], &a[5]);
	fclose(f);
	if (got != 7 || nr < 0)
		return 2;
	bool temp_mask = nr == SYS_rt_sigsuspend || (nr == SYS_ppoll && a[3]) ||
			 (nr == SYS_pselect6 && a[5]) || (nr == SYS_epoll_pwait && a[4]) ||
			 (nr == SYS_epoll_pwait2 && a[4]) || (nr == SYS_io_pgetevents && a[5]) ||
			 (nr == SYS_io_uring_enter && a[4]);
	if (temp_mask)
		return 2;
	return tid == pid ? 1 : 0;
}

/* One attempt to stop a thread for staging waits at most this long: a thread that takes
 * longer is waiting for a CPU (or stuck in the kernel), and holding the ones that already
 * stopped for it would cost the application more than trying another, or again later. */
#define STAGE_STOP_MS 10

int sut_with_one_thread(pid_t pid, const struct sut_maps *maps, int timeout_ms,
			int (*fn)(struct sut_remote *r, void *arg, struct sut_err *err), void *arg,
			uint64_t *held_max_ns, struct sut_err *err)
{
	struct sut_maps own = {0};
	if (!maps) {
		if (sut_proc_maps(pid, &own, err) < 0)
			return -1;
		maps = &own;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t deadline = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec +
			    (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
	int rc = -1;
	bool ran = false, timed_out = true;
	for (int round = 0; !ran && timed_out; round++) {
		timed_out = false;
		pid_t *tids = NULL;
		size_t n = 0;
		if (sut_proc_threads(pid, &tids, &n, err) < 0)
			break;
		int *cost = sut_xcalloc(n ? n : 1, sizeof *cost);
		for (size_t k = 0; k < n; k++)
			cost[k] = staging_cost(pid, tids[k]);
		/* the last rounds (or a short timeout) give a thread the whole remaining time */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		int left_ms = now < deadline ? (int)((deadline - now) / 1000000ull) : 0;
		int stop_ms = round < 20 && left_ms > 4 * STAGE_STOP_MS ? STAGE_STOP_MS : left_ms;
		for (int c = 0; c <= 3 && !ran; c++) {
			for (size_t k = 0; k < n && !ran; k++) {
				if (cost[k] != c)
					continue;
				struct sut_freeze f;
				if (sut_ptrace_stop_one(pid, tids[k], stop_ms, &f, err) < 0) {
					if (held_max_ns && f.held_max_ns > *held_max_ns)
						*held_max_ns = f.held_max_ns;
					timed_out |= f.stuck != 0;
					continue;
				}
				struct sut_remote r;
				int ok = sut_remote_init(&r, &f, maps, err);
				if (ok == 0)
					rc = fn(&r, arg, err);
				struct sut_err e2;
				if (sut_ptrace_thaw(&f, &e2) < 0 && rc == 0) {
					*err = e2;
					rc = -1;
				}
				if (held_max_ns && f.held_max_ns > *held_max_ns)
					*held_max_ns = f.held_max_ns;
				sut_freeze_free(&f);
				ran = ok == 0; /* fn ran: its result stands */
			}
		}
		free(cost);
		free(tids);
		if (ran || !timed_out || !sut_proc_exists(pid))
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec >= deadline)
			break; /* err holds the last thread's reason */
		struct timespec pause = {0, 2000000L}; /* let the CPU-starved threads run */
		nanosleep(&pause, NULL);
	}
	sut_proc_maps_free(&own);
	return rc;
}
