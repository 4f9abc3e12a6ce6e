/* SPDX-License-Identifier: Apache-2.0 */
/* remapper: prints "pid=P value=V" every 50 ms until killed, V = fix_value(). On SIGUSR1
 * it maps libfix.so's text segment from the file again, MAP_FIXED over the mapping there,
 * as the dynamic linker does when it lays a library's text over the span it mapped first:
 * whatever was written into the old mapping (a patch's jump) is gone, and it prints
 * "pid=P remapped". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int fix_value(void);

static volatile sig_atomic_t remap;

static void on_usr1(int sig)
{
	(void)sig;
	remap = 1;
}

/* Maps the executable mapping of libfix.so again from its file; 0 on success. */
static int remap_text(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	char line[4096];
	int rc = -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi, off;
		char perms[8], path[4096] = "";
		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095s", &lo, &hi, perms, &off, path) < 4)
			continue;
		const char *base = strrchr(path, '/');
		if (perms[2] != 'x' || !base || strcmp(base, "/libfix.so") != 0)
			continue;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			break;
		void *p = mmap((void *)lo, hi - lo, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, fd,
			       (off_t)off);
		close(fd);
		rc = p == (void *)lo ? 0 : -1;
		break;
	}
	fclose(f);
	return rc;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	for (;;) {
		if (remap) {
			remap = 0;
			if (remap_text() < 0) {
				fprintf(stderr, "remap of libfix.so's text failed\n");
				return 1;
			}
			printf("pid=%d remapped\n", (int)getpid());
		}
		printf("pid=%d value=%d\n", (int)getpid(), fix_value());
		usleep(50 * 1000);
	}
}
