/* SPDX-License-Identifier: Apache-2.0 */
/* supervisor N INTERVAL_MS PROGRAM [ARGS...]: forks and execs PROGRAM N times, one start
 * every INTERVAL_MS, as a service manager respawning a worker would; waits for all of them,
 * printing "died pid=P status=S" for each that did not exit with status 0, and prints
 * "started N" at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void reaped(pid_t p, int st)
{
	if (p > 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		printf("died pid=%d status=%s%d\n", (int)p, WIFSIGNALED(st) ? "signal " : "",
		       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: supervisor N INTERVAL_MS PROGRAM [ARGS...]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	int n = atoi(argv[1]), ms = atoi(argv[2]), started = 0;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			execv(argv[3], argv + 3);
			_exit(127);
		}
		if (p > 0)
			started++;
		int st;
		pid_t r;
		while ((r = waitpid(-1, &st, WNOHANG)) > 0)
			reaped(r, st);
		next.tv_nsec += (long)ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	int st;
	pid_t r;
	while ((r = wait(&st)) > 0)
		reaped(r, st);
	printf("started %d\n", started);
	return 0;
}
