/* SPDX-License-Identifier: Apache-2.0 */
/* Whether a stopped thread's seccomp filters let suture's remote system calls through.
 *
 * The mode comes from /proc/PID/task/TID/status (Seccomp: 0 none, 1 strict, 2 filters);
 * the filters from PTRACE_SECCOMP_GET_FILTER (index 0 is the newest; each is the classic
 * BPF program as installed). Every filter runs on every call and the action of highest
 * precedence wins (kernel rule), so each call is evaluated against each filter. The
 * seccomp_data is what the kernel builds at syscall entry: nr, AUDIT_ARCH_X86_64, the
 * instruction pointer after the `syscall` instruction, the six arguments. */
#include "ptrace/ptrace.h"
#include "ptrace/ptrace_internal.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "util/buf.h"

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

#define MAX_FILTERS 512 /* the kernel's limit on total instructions bounds this anyway */

const char *sut_syscall_name(long nr, char *buf, size_t cap)
{
	switch (nr) {
	case SYS_mmap: return "mmap";
	case SYS_munmap: return "munmap";
	case SYS_mprotect: return "mprotect";
	case SYS_memfd_create: return "memfd_create";
	case SYS_ftruncate: return "ftruncate";
	case SYS_close: return "close";
	case SYS_getpid: return "getpid";
	default:
		snprintf(buf, cap, "system call %ld", nr);
		return buf;
	}
}

/* Seccomp mode of the thread, -1 if its status cannot be read. */
static int seccomp_mode(pid_t pid, pid_t tid)
{
	struct ptr_status ps;
	return ptr_status_read(pid, tid, &ps) == 0 ? ps.seccomp : -1;
}

struct filters {
	struct sock_filter **prog;
	size_t *len;
	size_t n;
};

static void filters_free(struct filters *fl)
{
	for (size_t i = 0; i < fl->n; i++)
		free(fl->prog[i]);
	free(fl->prog);
	free(fl->len);
	memset(fl, 0, sizeof *fl);
}

static int read_filters(pid_t pid, pid_t tid, struct filters *fl, struct sut_err *err)
{
	memset(fl, 0, sizeof *fl);
	for (unsigned long i = 0;; i++) {
		if (i == MAX_FILTERS) {
			filters_free(fl);
			return sut_errf(err, "pid %d: thread %d has more than %d seccomp filters: "
					"cannot determine what they allow", (int)pid, (int)tid,
					MAX_FILTERS);
		}
		long cnt = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)i, NULL);
		if (cnt < 0 && errno == ENOENT && i > 0)
			return 0;
		if (cnt <= 0 || cnt > BPF_MAXINSNS) {
			int e = cnt < 0 ? errno : EINVAL;
			filters_free(fl);
			errno = e;
			return sut_errno(err, "pid %d: thread %d: cannot read seccomp filter %lu "
					 "(PTRACE_SECCOMP_GET_FILTER), so cannot determine whether "
					 "it allows suture's system calls; nothing was changed",
					 (int)pid, (int)tid, i);
		}
		struct sock_filter *p = sut_xcalloc((size_t)cnt, sizeof *p);
		long got = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)i, p);
		if (got != cnt) {
			int e = got < 0 ? errno : EAGAIN;
			free(p);
			filters_free(fl);
			errno = e;
			return sut_errno(err, "pid %d: thread %d: cannot read seccomp filter %lu; "
					 "nothing was changed", (int)pid, (int)tid, i);
		}
		fl->prog = sut_xrealloc(fl->prog, (fl->n + 1) * sizeof *fl->prog);
		fl->len = sut_xrealloc(fl->len, (fl->n + 1) * sizeof *fl->len);
		fl->prog[fl->n] = p;
		fl->len[fl->n] = (size_t)cnt;
		fl->n++;
	}
}

/* "SECCOMP_RET_ERRNO (EPERM)", "SECCOMP_RET_TRAP" ... for messages. */
static const char *describe(uint32_t action, char *buf, size_t cap)
{
	const char *name = sut_seccomp_action_name(action);
	if ((action & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO)
		snprintf(buf, cap, "%s (%s)", name, strerror((int)(action & SECCOMP_RET_DATA)));
	else
		snprintf(buf, cap, "%s", name);
	return buf;
}

int sut_seccomp_check(pid_t pid, pid_t tid, uint64_t insn_addr,
		      const struct sut_syscall_plan *calls, size_t n, struct sut_err *err)
{
	char nm[32];
	int mode = seccomp_mode(pid, tid);
	if (mode == 0)
		return 0;
	if (mode < 0)
		return sut_errf(err, "pid %d: thread %d: cannot read its seccomp mode, so cannot "
				"determine whether %s is allowed; nothing was changed", (int)pid,
				(int)tid, n ? sut_syscall_name(calls[0].nr, nm, sizeof nm) : "a call");
	if (mode == 1)
		return sut_errf(err, "pid %d: thread %d is in seccomp strict mode: %s would kill "
				"it (only read, write, exit and sigreturn are allowed); nothing was "
				"changed", (int)pid, (int)tid,
				n ? sut_syscall_name(calls[0].nr, nm, sizeof nm) : "a system call");
	if (mode != 2)
		return sut_errf(err, "pid %d: thread %d: unknown seccomp mode %d; nothing was "
				"changed", (int)pid, (int)tid, mode);
	struct filters fl;
	if (read_filters(pid, tid, &fl, err) < 0)
		return -1;
	int rc = 0;
	for (size_t c = 0; c < n && rc == 0; c++) {
		struct seccomp_data d;
		memset(&d, 0, sizeof d);
		d.nr = (int)calls[c].nr;
		d.arch = AUDIT_ARCH_X86_64;
		/* the kernel reports rip after `syscall` */
		d.instruction_pointer = (calls[c].insn ? calls[c].insn : insn_addr) + 2;
		uint32_t unknown = 0;
		for (int a = 0; a < 6; a++) {
			d.args[a] = calls[c].args[a];
			if (calls[c].unknown & (1u << a))
				unknown |= 3u << (4 + 2 * a); /* args[a] is words 4+2a and 5+2a */
		}
		for (size_t i = 0; i < fl.n && rc == 0; i++) {
			uint32_t action;
			struct sut_err e2;
			const char *call = sut_syscall_name(calls[c].nr, nm, sizeof nm);
			if (sut_seccomp_eval(fl.prog[i], fl.len[i], &d, unknown, &action, &e2) < 0) {
				rc = sut_errf(err, "pid %d: thread %d: cannot determine whether "
					      "seccomp filter %zu allows %s (%s); nothing was changed",
					      (int)pid, (int)tid, i, call, e2.msg);
			} else if (!sut_seccomp_action_allows(action)) {
				char act[96];
				rc = sut_errf(err, "pid %d: thread %d: its seccomp filter %zu answers "
					      "%s to %s, which suture would have to call in the "
					      "process; nothing was changed", (int)pid, (int)tid, i,
					      describe(action, act, sizeof act), call);
			}
		}
	}
	filters_free(&fl);
	return rc;
}
