/* SPDX-License-Identifier: Apache-2.0 */
/* A thread's scheduler statistics, /proc/PID/task/TID/schedstat: "RUN WAIT PCOUNT" (CPU
 * time, time waiting for a CPU, switches in), read without stopping the thread.
 *
 * Invariant: the text is parsed as untrusted: exactly three decimal numbers that fit 64
 * bits, one space between them, at most one newline at the end; anything else is refused. */
#include "proc/proc.h"

#include <stdbool.h>

/* An unsigned decimal number at *p, 1 to 20 digits, that fits 64 bits; *p moves past it.
 * No sign, no spaces before it. */
static bool take_u64(const char **p, unsigned long long *out)
{
	const char *s = *p;
	unsigned long long v = 0;
	int digits = 0;
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (~0ULL - d) / 10)
			return false; /* does not fit */
		v = v * 10 + d;
	}
	if (!digits || digits > 20)
		return false;
	*p = s;
	*out = v;
	return true;
}

int sut_proc_schedstat_parse(const char *text, unsigned long long *run,
			     unsigned long long *wait, unsigned long long *pcount)
{
	const char *p = text;
	if (!take_u64(&p, run) || *p++ != ' ' || !take_u64(&p, wait) || *p++ != ' ' ||
	    !take_u64(&p, pcount))
		return -1;
	return p[0] == 0 || (p[0] == '\n' && p[1] == 0) ? 0 : -1;
}
