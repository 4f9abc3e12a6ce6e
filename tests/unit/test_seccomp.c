/* SPDX-License-Identifier: Apache-2.0 */
/* seccomp: the classic-BPF evaluator on hand-written filters (actions, precedence,
 * arguments known and unknown, invalid programs), and on a live child whose filter kills
 * getpid: the check names the call and the action, and a remote getpid is refused before
 * it runs (the child lives on). */
#include "fixtures.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/proc.h"
#include "ptrace/ptrace.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NR offsetof(struct seccomp_data, nr)
#define ARG0 offsetof(struct seccomp_data, args[0])
#define ARG2 offsetof(struct seccomp_data, args[2])
#define ARG0_WORDS (3u << 4)
#define ARG2_WORDS (3u << 8)

static struct seccomp_data data(int nr, uint64_t a0, uint64_t a2)
{
	struct seccomp_data d;
	memset(&d, 0, sizeof d);
	d.nr = nr;
	d.arch = AUDIT_ARCH_X86_64;
	d.args[0] = a0;
	d.args[2] = a2;
	return d;
}

static uint32_t eval_ok(const struct sock_filter *p, size_t n, struct seccomp_data d,
			uint32_t unknown)
{
	uint32_t action = 0xdead;
	struct sut_err err;
	int rc = sut_seccomp_eval(p, n, &d, unknown, &action, &err);
	if (rc != 0)
		fail_msg("eval failed: %s", err.msg);
	return action;
}

static void eval_invalid(const struct sock_filter *p, size_t n, const char *why)
{
	struct seccomp_data d = data(1, 0, 0);
	uint32_t action;
	struct sut_err err;
	assert_int_equal(sut_seccomp_eval(p, n, &d, 0, &action, &err), -1);
	assert_non_null(strstr(err.msg, why));
}

/* kill memfd_create, errno on mmap, allow the rest */
static const struct sock_filter by_nr[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_memfd_create, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static void test_actions_by_number(void **state)
{
	assert_int_equal(eval_ok(by_nr, LEN(by_nr), data(__NR_memfd_create, 0, 0), 0),
			 SECCOMP_RET_KILL_PROCESS);
	assert_int_equal(eval_ok(by_nr, LEN(by_nr), data(__NR_mmap, 0, 0), 0),
			 SECCOMP_RET_ERRNO | EPERM);
	assert_int_equal(eval_ok(by_nr, LEN(by_nr), data(__NR_close, 0, 0), 0), SECCOMP_RET_ALLOW);
	assert_true(sut_seccomp_action_allows(SECCOMP_RET_ALLOW));
	assert_true(sut_seccomp_action_allows(SECCOMP_RET_LOG));
	assert_false(sut_seccomp_action_allows(SECCOMP_RET_ERRNO | EPERM));
	assert_false(sut_seccomp_action_allows(SECCOMP_RET_TRAP));
	assert_false(sut_seccomp_action_allows(SECCOMP_RET_TRACE));
	assert_false(sut_seccomp_action_allows(SECCOMP_RET_USER_NOTIF));
	assert_false(sut_seccomp_action_allows(SECCOMP_RET_KILL_THREAD));
	assert_false(sut_seccomp_action_allows(0x12340000)); /* unknown: the kernel kills */
	assert_string_equal(sut_seccomp_action_name(SECCOMP_RET_TRAP | 7), "SECCOMP_RET_TRAP");
}

static void test_precedence(void **state)
{
	uint32_t order[] = {SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP,
			    SECCOMP_RET_ERRNO | 1, SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE,
			    SECCOMP_RET_LOG, SECCOMP_RET_ALLOW};
	for (size_t i = 0; i < LEN(order); i++)
		for (size_t j = 0; j < LEN(order); j++)
			assert_int_equal(sut_seccomp_action_precedes(order[i], order[j]), i < j);
}

/* systemd's MemoryDenyWriteExecute= on mmap: refuse when prot has both WRITE and EXEC */
static const struct sock_filter mdwe[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 4),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG2),
	BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 6),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static void test_arguments(void **state)
{
	assert_int_equal(eval_ok(mdwe, LEN(mdwe), data(__NR_mmap, 0, 5 /* R|X */), 0),
			 SECCOMP_RET_ALLOW);
	assert_int_equal(eval_ok(mdwe, LEN(mdwe), data(__NR_mmap, 0, 7 /* R|W|X */), 0),
			 SECCOMP_RET_ERRNO | EPERM);
	/* prot unknown: some value is refused, so the answer is the refusal */
	assert_int_equal(eval_ok(mdwe, LEN(mdwe), data(__NR_mmap, 0, 5), ARG2_WORDS),
			 SECCOMP_RET_ERRNO | EPERM);
	/* an unknown argument the filter does not look at changes nothing */
	assert_int_equal(eval_ok(mdwe, LEN(mdwe), data(__NR_mmap, 0, 5), ARG0_WORDS),
			 SECCOMP_RET_ALLOW);
	assert_int_equal(eval_ok(mdwe, LEN(mdwe), data(__NR_close, 0, 7), ARG2_WORDS),
			 SECCOMP_RET_ALLOW);
	/* through X, scratch memory and arithmetic: A = (arg0 + 1) * 2, kill if == 8 */
	const struct sock_filter arith[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0),
		BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 1),
		BPF_STMT(BPF_ST, 3),
		BPF_STMT(BPF_LDX | BPF_IMM, 2),
		BPF_STMT(BPF_LD | BPF_MEM, 3),
		BPF_STMT(BPF_ALU | BPF_MUL | BPF_X, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 8, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	assert_int_equal(eval_ok(arith, LEN(arith), data(1, 3, 0), 0), SECCOMP_RET_KILL_PROCESS);
	assert_int_equal(eval_ok(arith, LEN(arith), data(1, 4, 0), 0), SECCOMP_RET_ALLOW);
	assert_int_equal(eval_ok(arith, LEN(arith), data(1, 4, 0), ARG0_WORDS),
			 SECCOMP_RET_KILL_PROCESS);
	/* division by a zero X makes the filter return 0 (SECCOMP_RET_KILL_THREAD) */
	const struct sock_filter div0[] = {
		BPF_STMT(BPF_LD | BPF_IMM, 9),
		BPF_STMT(BPF_LDX | BPF_IMM, 0),
		BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	assert_int_equal(eval_ok(div0, LEN(div0), data(1, 0, 0), 0), SECCOMP_RET_KILL_THREAD);
	/* RET A: the returned value is the action */
	const struct sock_filter reta[] = {
		BPF_STMT(BPF_LD | BPF_IMM, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_LD | BPF_IMM, 0),
		BPF_STMT(BPF_MISC | BPF_TXA, 0),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	assert_int_equal(eval_ok(reta, LEN(reta), data(1, 0, 0), 0), SECCOMP_RET_TRAP);
}

static void test_invalid_programs(void **state)
{
	const struct sock_filter past_end[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 5),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	eval_invalid(past_end, LEN(past_end), "jump past the end");
	const struct sock_filter falls_off[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR)};
	eval_invalid(falls_off, LEN(falls_off), "past its end");
	const struct sock_filter far_load[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	eval_invalid(far_load, LEN(far_load), "outside struct seccomp_data");
	const struct sock_filter odd_load[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	eval_invalid(odd_load, LEN(odd_load), "outside struct seccomp_data");
	const struct sock_filter byte_load[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	eval_invalid(byte_load, LEN(byte_load), "does not accept");
	const struct sock_filter ret_unknown[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct seccomp_data d = data(1, 0, 0);
	uint32_t action;
	struct sut_err err;
	assert_int_equal(sut_seccomp_eval(ret_unknown, 2, &d, ARG0_WORDS, &action, &err), -1);
	assert_non_null(strstr(err.msg, "unknown"));
	/* 24 tests of an unknown word, each falling through both ways: 2^24 paths */
	struct sock_filter many[26];
	many[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0);
	for (int i = 1; i <= 24; i++)
		many[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)i, 0, 0);
	many[25] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	assert_int_equal(sut_seccomp_eval(many, 26, &d, ARG0_WORDS, &action, &err), -1);
	assert_non_null(strstr(err.msg, "too often"));
	/* the same with the word known is one path */
	assert_int_equal(eval_ok(many, 26, d, 0), SECCOMP_RET_ALLOW);
}

/* A child that kills itself on getpid and refuses rt_sigreturn (it takes no signal, so it
 * never makes one), then waits on a pipe. */
static pid_t filtered_child(int *wfd)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[1]);
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getpid, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_sigreturn, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {LEN(f), f};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			_exit(3);
		char c;
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	*wfd = p[1];
	return pid;
}

static void test_live_filter(void **state)
{
	int wfd;
	pid_t pid = filtered_child(&wfd);
	for (int i = 0; i < 200; i++) { /* until the filter is installed */
		char path[64], line[128];
		snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
		FILE *f = fopen(path, "re");
		int mode = 0;
		while (f && fgets(line, sizeof line, f))
			sscanf(line, "Seccomp: %d", &mode);
		if (f)
			fclose(f);
		if (mode == 2)
			break;
		usleep(5000);
	}
	struct sut_err err;
	struct sut_maps m;
	uint64_t insn;
	assert_int_equal(sut_proc_maps(pid, &m, &err), 0);
	assert_int_equal(sut_proc_find_syscall_insn(pid, &m, &insn, &err), 0);
	struct sut_syscall_site site;
	assert_int_equal(sut_proc_find_syscall_site(pid, &m, &site, &err), 0);
	assert_true(site.ret_follows && site.sigreturn);
	struct sut_freeze f;
	assert_int_equal(sut_ptrace_stop_one(pid, pid, 2000, &f, &err), 0);
	const struct sut_map *stack = sut_maps_find(&m, f.threads[0].regs.rsp);
	assert_non_null(stack);
	site.stack_lo = stack->start;
	site.stack_hi = stack->end;
	sut_proc_maps_free(&m);

	struct sut_syscall_plan plan[2] = {{SYS_getppid, {0}, 0, 0}, {SYS_getpid, {0}, 0, 0}};
	assert_int_equal(sut_seccomp_check(pid, pid, insn, plan, 1, &err), 0);
	assert_int_equal(sut_seccomp_check(pid, pid, insn, plan, 2, &err), -1);
	assert_non_null(strstr(err.msg, "getpid"));
	assert_non_null(strstr(err.msg, "SECCOMP_RET_KILL_PROCESS"));
	char pidstr[32];
	snprintf(pidstr, sizeof pidstr, "pid %d", (int)pid);
	assert_non_null(strstr(err.msg, pidstr));

	long args[6] = {0}, ret = 0;
	assert_int_equal(sut_ptrace_syscall(&f, 0, insn, SYS_getppid, args, &ret, &err), 0);
	assert_int_equal(ret, getpid());
	assert_int_equal(sut_ptrace_syscall(&f, 0, insn, SYS_getpid, args, &ret, &err), -1);
	assert_non_null(strstr(err.msg, "SECCOMP_RET_KILL_PROCESS"));
	/* The way home's rt_sigreturn refused: the batch is single-stepped, not refused; a
	 * call the filter kills is still refused before anything runs. */
	struct sut_remote_call c = {.nr = SYS_getppid};
	size_t done;
	bool kill_proof = true;
	assert_int_equal(sut_ptrace_syscalls(&f, 0, &site, &c, 1, &done, &kill_proof, &err), 0);
	assert_int_equal(done, 1);
	assert_int_equal(c.ret, getpid());
	assert_false(kill_proof);
	c = (struct sut_remote_call){.nr = SYS_getpid};
	assert_int_equal(sut_ptrace_syscalls(&f, 0, &site, &c, 1, &done, &kill_proof, &err), -1);
	assert_int_equal(done, 0);
	assert_non_null(strstr(err.msg, "SECCOMP_RET_KILL_PROCESS"));
	assert_int_equal(sut_ptrace_thaw(&f, &err), 0);
	sut_freeze_free(&f);

	/* alive: it exits normally once told to */
	assert_int_equal(write(wfd, "x", 1), 1);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(wfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions_by_number),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_invalid_programs),
		cmocka_unit_test(test_live_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
