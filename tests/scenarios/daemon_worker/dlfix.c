/* SPDX-License-Identifier: Apache-2.0 */
/* dlopen_fix (dlfix.h): libfix.so next to /proc/self/exe, loaded with dlopen. The path is
 * bounded: the program's own path, its last component replaced, fits the buffer or the
 * load is refused. */
#include "dlfix.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void *dlopen_fix(void)
{
	static const char lib[] = "libfix.so";
	char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - sizeof lib);
	if (n <= 0) {
		perror("readlink /proc/self/exe");
		return NULL;
	}
	path[n] = 0;
	char *slash = strrchr(path, '/');
	if (!slash) {
		fprintf(stderr, "dlopen: %s is not a path\n", path);
		return NULL;
	}
	memcpy(slash + 1, lib, sizeof lib);
	void *h = dlopen(path, RTLD_NOW);
	if (!h)
		fprintf(stderr, "dlopen: %s\n", dlerror());
	return h;
}
