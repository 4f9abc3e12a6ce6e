/* SPDX-License-Identifier: Apache-2.0 */
/* prog munmap|replace|exec: runs without address randomisation (it re-executes itself
 * with ADDR_NO_RANDOMIZE first), prints "started" and every 20 ms "iter=I value=V",
 * V = value(I): 1000 + I % 100, 2000 + I % 100 once fixed. On SIGUSR1 it undoes what
 * suture staged in it, between suture's staging and its freeze:
 *   munmap   unmaps the patch memory (/memfd:suture:...) and the registry;
 *   replace  maps its own memory in their place (filled with int3: a jump into it traps);
 *   exec     executes itself again: same binary, same addresses, nothing staged.
 * and prints "undone MODE ADDR" (ADDR: where the patch memory was). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <unistd.h>

int value(int i);

static volatile sig_atomic_t asked;

static void on_usr1(int sig)
{
	(void)sig;
	asked = 1;
}

/* Unmaps (or replaces) every mapping whose path starts with /memfd:suture; returns the
 * start of the patch memory, 0 if none. */
static unsigned long undo(int replace)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	unsigned long lo, hi, patch = 0, v[64][2];
	int n = 0;
	while (f && fgets(line, sizeof line, f) && n < 64) {
		if (!strstr(line, "/memfd:suture") || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		if (strstr(line, "/memfd:suture:") && !patch)
			patch = lo;
		v[n][0] = lo;
		v[n][1] = hi;
		n++;
	}
	if (f)
		fclose(f);
	for (int i = 0; i < n; i++) {
		size_t len = v[i][1] - v[i][0];
		if (!replace) {
			munmap((void *)v[i][0], len);
			continue;
		}
		void *p = mmap((void *)v[i][0], len, PROT_READ | PROT_WRITE | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p != MAP_FAILED)
			memset(p, 0xcc, len);
	}
	return patch;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	int pers = personality(0xffffffff);
	if (pers != -1 && !(pers & ADDR_NO_RANDOMIZE)) {
		personality((unsigned long)pers | ADDR_NO_RANDOMIZE);
		execv("/proc/self/exe", argv);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	printf("started value=%p\n", (void *)value);
	for (int i = 0;; i++) {
		if (asked) {
			asked = 0;
			if (!strcmp(argv[1], "exec")) {
				printf("undone exec\n");
				execv("/proc/self/exe", argv);
				return 3;
			}
			unsigned long at = undo(!strcmp(argv[1], "replace"));
			printf("undone %s %lx\n", argv[1], at);
		}
		printf("iter=%d value=%d\n", i, value(i));
		usleep(20 * 1000);
	}
}
