/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the reader of /proc/PID/task/TID/syscall (src/proc/proc_syscall.c).
 *
 * Any byte string is either refused (state UNKNOWN) or read as one of the kernel's three
 * forms with a call number in range; what was read, printed again as the kernel prints
 * it, reads back to the very same fields. Crashes and undefined behaviour are the
 * sanitizers' findings; a broken property aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/proc.h"

static void property(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_syscall_file: property broken: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sut_proc_syscall s, t;
	if (sut_proc_syscall_parse((const char *)data, size, &s) < 0) {
		property(s.state == SUT_SYSCALL_UNKNOWN, "a refusal is never a call");
		return 0;
	}
	char line[SUT_SYSCALL_TEXT_MAX + 64];
	int n;
	switch (s.state) {
	case SUT_SYSCALL_RUNNING:
		n = snprintf(line, sizeof line, "running\n");
		break;
	case SUT_SYSCALL_NONE:
		n = snprintf(line, sizeof line, "-1 0x%llx 0x%llx\n", (unsigned long long)s.sp,
			     (unsigned long long)s.pc);
		break;
	case SUT_SYSCALL_IN_CALL:
		property(s.nr >= 0 && s.nr <= SUT_SYSCALL_NR_MAX, "call numbers in range");
		n = snprintf(line, sizeof line,
			     "%ld 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx\n", s.nr,
			     (unsigned long long)s.args[0], (unsigned long long)s.args[1],
			     (unsigned long long)s.args[2], (unsigned long long)s.args[3],
			     (unsigned long long)s.args[4], (unsigned long long)s.args[5],
			     (unsigned long long)s.sp, (unsigned long long)s.pc);
		break;
	default:
		property(0, "an accepted line has a known state");
		return 0;
	}
	property(n > 0 && (size_t)n <= SUT_SYSCALL_TEXT_MAX, "the kernel's line fits the bound");
	property(sut_proc_syscall_parse(line, (size_t)n, &t) == 0, "the kernel's form reads");
	property(memcmp(&s, &t, sizeof s) == 0, "printed again, the same fields");
	return 0;
}
