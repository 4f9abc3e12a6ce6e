/* SPDX-License-Identifier: Apache-2.0 */
#include "util/env.h"

#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "util/buf.h"

extern char **environ;

bool sut_env_handed_privileges(void)
{
	if (getauxval(AT_SECURE))
		return true;
	/* sudo records who asked; root running sudo as root hands nothing over */
	const char *s = getenv("SUDO_UID");
	if (!s || !*s)
		return false;
	char *end;
	unsigned long uid = strtoul(s, &end, 10);
	return *end != 0 || uid != (unsigned long)getuid();
}

const char *sut_env(const char *name)
{
	if (sut_env_handed_privileges())
		return NULL;
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

const char **sut_env_ignored(size_t *n)
{
	*n = 0;
	if (!sut_env_handed_privileges())
		return NULL;
	const char **v = NULL;
	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, "SUTURE_", 7) != 0)
			continue;
		v = sut_xrealloc(v, (*n + 1) * sizeof *v);
		v[(*n)++] = *e;
	}
	return v;
}
