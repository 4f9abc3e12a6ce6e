/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "pid=P iter=I value=V" every 50 ms until killed, V = value(I). On SIGUSR1 the
 * loop forks once: the child goes on printing with its own pid, so a test can see that a
 * child inherits its parent's patched code (and the record of it) and that the two then
 * live separate lives. The parent writes the child's pid to the file named by argv[1]. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int value(int i);

static volatile sig_atomic_t fork_requested;

static void on_usr1(int sig)
{
	(void)sig;
	fork_requested = 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	for (int i = 0;; i++) {
		if (fork_requested) {
			fork_requested = 0;
			pid_t c = fork();
			if (c > 0 && argc > 1) {
				FILE *f = fopen(argv[1], "w");
				if (f) {
					fprintf(f, "%d\n", (int)c);
					fclose(f);
				}
			}
		}
		printf("pid=%d iter=%d value=%d\n", (int)getpid(), i, value(i));
		usleep(50 * 1000);
	}
}
