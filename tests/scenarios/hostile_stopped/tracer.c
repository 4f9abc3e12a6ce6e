/* SPDX-License-Identifier: Apache-2.0 */
/* tracer PID: another debugger, as far as the kernel can tell. It attaches to PID with
 * PTRACE_SEIZE (the tracee keeps running), prints "seized PID", then passes on every
 * signal the tracee receives and otherwise waits until it is killed or the tracee exits.
 * While it holds the tracee, nobody else can attach. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	pid_t pid;
	int status;

	if (argc != 2) {
		fprintf(stderr, "usage: tracer PID\n");
		return 2;
	}
	pid = (pid_t)atoi(argv[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) < 0) {
		fprintf(stderr, "tracer: PTRACE_SEIZE %d: %s\n", pid, strerror(errno));
		return 1;
	}
	printf("seized %d\n", pid);
	for (;;) {
		if (waitpid(pid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return 0;
		/* A signal-delivery stop: hand the signal on, as a debugger set to pass
		 * everything would. Group-stops (event stop) are resumed with PTRACE_LISTEN. */
		if (WIFSTOPPED(status)) {
			if (status >> 16 == PTRACE_EVENT_STOP)
				ptrace(PTRACE_LISTEN, pid, NULL, NULL);
			else
				ptrace(PTRACE_CONT, pid, NULL, (void *)(long)WSTOPSIG(status));
		}
	}
}
