/* SPDX-License-Identifier: Apache-2.0 */
/* A target whose life changes under the tool. Prints "iter=I value=V" every 2 ms,
 * V = value(I): 1000 + I % 100, 2000 + I % 100 once fixed.
 *   prog exit MS   exits with status 0 after MS ms;
 *   prog exec N    execs itself ("prog exec N-1") after 5 to 30 ms while N > 0, then runs
 *                  on, printing "final" first;
 *   prog vfork     vforks a child every iteration that sleeps 0 to 20 ms sharing the
 *                  parent's memory, then _exits or execs /bin/true (alternately); the
 *                  parent prints "BAD ..." if a child did not exit with status 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int value(int i);

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	long arg = argc > 2 ? atol(argv[2]) : 0, start = now_ms(), life = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	srand((unsigned)(getpid() ^ start));
	if (strcmp(mode, "exit") == 0)
		life = arg;
	else if (strcmp(mode, "exec") == 0 && arg > 0)
		life = 5 + rand() % 26;
	else if (strcmp(mode, "exec") == 0)
		printf("final\n");
	for (int i = 0;; i++) {
		printf("iter=%d value=%d\n", i, value(i));
		if (life >= 0 && now_ms() - start >= life) {
			if (strcmp(mode, "exit") == 0)
				exit(0);
			char n[16];
			snprintf(n, sizeof(n), "%ld", arg - 1);
			execl("/proc/self/exe", argv[0], "exec", n, (char *)NULL);
			perror("execl");
			return 1;
		}
		if (strcmp(mode, "vfork") == 0) {
			int status, how = i % 2;
			useconds_t nap = (useconds_t)(rand() % 20000);
			pid_t c = vfork();

			if (c == 0) {
				usleep(nap); /* the parent is suspended, its memory shared */
				if (how)
					execl("/bin/true", "true", (char *)NULL);
				_exit(0);
			}
			if (c < 0 || waitpid(c, &status, 0) != c || !WIFEXITED(status) ||
			    WEXITSTATUS(status) != 0)
				printf("BAD vfork child %d ended with status %#x\n", (int)c, status);
		}
		usleep(2000);
	}
}
