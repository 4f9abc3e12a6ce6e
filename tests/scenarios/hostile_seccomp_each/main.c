/* SPDX-License-Identifier: Apache-2.0 */
/* prog ACTION CALL: installs a seccomp filter (a BPF program of its own, no library) that
 * answers ACTION (kill: SECCOMP_RET_KILL_PROCESS, trap: SECCOMP_RET_TRAP, errno:
 * SECCOMP_RET_ERRNO|EPERM) to CALL (mmap, memfd_create, ftruncate, mprotect, close,
 * munmap), and allows everything else. Two more CALLs model systemd's
 * MemoryDenyWriteExecute=: "mdwe-x" refuses mmap and mprotect whenever PROT_EXEC is asked
 * (stricter than systemd), "mdwe" exactly as systemd does (mmap with both PROT_WRITE and
 * PROT_EXEC, mprotect with PROT_EXEC). A SIGSYS (from RET_TRAP) prints "SIGSYS". Then
 * prints "filtered", and every 20 ms "iter=I value=V", V = value(I): 1000 + I % 100,
 * 2000 + I % 100 once fixed. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int value(int i);

static void on_sigsys(int sig)
{
	(void)sig;
	static const char msg[] = "SIGSYS\n";
	write(1, msg, sizeof msg - 1);
}

#define LD(field) (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define ARG_LO(i) (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]))

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: prog kill|trap|errno CALL\n");
		return 2;
	}
	uint32_t act = !strcmp(argv[1], "kill")	 ? SECCOMP_RET_KILL_PROCESS
		       : !strcmp(argv[1], "trap") ? SECCOMP_RET_TRAP
						  : SECCOMP_RET_ERRNO | EPERM;
	const char *call = argv[2];
	struct sock_filter f[32];
	size_t n = 0;
	f[n++] = LD(arch);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = LD(nr);
	if (!strncmp(call, "mdwe", 4)) {
		uint32_t need = !strcmp(call, "mdwe-x") ? PROT_EXEC : PROT_EXEC | PROT_WRITE;
		/* mmap: refuse when (prot & need) == need; mprotect: when prot & PROT_EXEC */
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 4);
		f[n++] = ARG_LO(2);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, need);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, need, 4, 0);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, 0, 3);
		f[n++] = ARG_LO(2);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, act);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	} else {
		long nr = !strcmp(call, "mmap")		? __NR_mmap
			  : !strcmp(call, "memfd_create") ? __NR_memfd_create
			  : !strcmp(call, "ftruncate")	? __NR_ftruncate
			  : !strcmp(call, "mprotect")	? __NR_mprotect
			  : !strcmp(call, "close")	? __NR_close
			  : !strcmp(call, "munmap")	? __NR_munmap
							: -1;
		if (nr < 0) {
			fprintf(stderr, "unknown call %s\n", call);
			return 2;
		}
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, act);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("starting\n"); /* stdout's buffer is allocated before the filter */
	signal(SIGSYS, on_sigsys);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		perror("prctl(PR_SET_SECCOMP)");
		return 1;
	}
	printf("filtered %s %s\n", argv[1], call);
	for (int i = 0;; i++) {
		printf("iter=%d value=%d\n", i, value(i));
		usleep(20 * 1000);
	}
}
