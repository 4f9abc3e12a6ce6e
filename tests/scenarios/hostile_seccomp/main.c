/* SPDX-License-Identifier: Apache-2.0 */
/* prog [mmap|mmap,memfd]: installs a seccomp filter (a BPF program of its own, no
 * library) that makes mmap fail with EPERM, and memfd_create too with "mmap,memfd"; every
 * other call is allowed, so the process lives on. Then prints "filtered", and every 20 ms
 * "iter=I value=V", V = value(I): 1000 + I % 100, 2000 + I % 100 once fixed. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int value(int i);

#define DENY(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
		 BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

static int forbid(int memfd_too)
{
	struct sock_filter with_memfd[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		DENY(__NR_mmap),
		DENY(__NR_memfd_create),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(with_memfd) / sizeof(with_memfd[0]),
				   .filter = with_memfd };

	if (!memfd_too) {
		/* Drop the memfd_create test: its two instructions come just before the
		 * final ALLOW, which takes their place. */
		with_memfd[prog.len - 3] = with_memfd[prog.len - 1];
		prog.len -= 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		perror("prctl(PR_SET_SECCOMP)");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "mmap,memfd";

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("starting\n"); /* stdout's buffer is allocated before mmap is forbidden */
	if (forbid(strcmp(what, "mmap") != 0) < 0)
		return 1;
	/* The filter works: the process's own calls are refused too. */
	if (mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED ||
	    errno != EPERM)
		printf("mmap allowed\n");
	if (strcmp(what, "mmap") != 0 && (syscall(__NR_memfd_create, "probe", 0) >= 0 || errno != EPERM))
		printf("memfd_create allowed\n");
	printf("filtered %s\n", what);
	for (int i = 0;; i++) {
		printf("iter=%d value=%d\n", i, value(i));
		usleep(20 * 1000);
	}
}
