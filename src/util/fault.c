/* SPDX-License-Identifier: Apache-2.0 */
#include "util/fault.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/env.h"

int sut_fault(const char *step, struct sut_err *err)
{
	const char *f = sut_env("SUTURE_FAULT");
	if (!f)
		return 0;
	size_t n = strlen(step);
	if (strncmp(f, step, n) != 0 || (f[n] != 0 && f[n] != ':'))
		return 0;
	if (f[n] == ':' && strcmp(f + n + 1, "fail") == 0)
		return sut_errf(err, "injected failure at step %s", step);
	if (f[n] == ':' && strncmp(f + n + 1, "pause=", 6) == 0) {
		long ms = atol(f + n + 7);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
		return 0;
	}
	if (f[n] == ':' && strcmp(f + n + 1, "stop") == 0) {
		kill(getpid(), SIGSTOP);
		return 0;
	}
	kill(getpid(), SIGKILL);
	for (;;)
		pause();
}
