/* SPDX-License-Identifier: Apache-2.0 */
#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sut_errf(struct sut_err *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	err->code = 0;
	return -1;
}

int sut_errno(struct sut_err *err, const char *fmt, ...)
{
	int saved = errno;
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof err->msg)
		snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(saved));
	err->code = saved;
	errno = saved;
	return -1;
}

int sut_err_wrap(struct sut_err *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	char prefix[SUT_ERR_MAX], old[SUT_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	size_t pl = strnlen(prefix, sizeof prefix - 1);
	if (pl > sizeof err->msg - 3)
		pl = sizeof err->msg - 3;
	memcpy(err->msg, prefix, pl);
	memcpy(err->msg + pl, ": ", 2);
	size_t room = sizeof err->msg - pl - 3;
	size_t ol = strnlen(old, room);
	memcpy(err->msg + pl + 2, old, ol);
	err->msg[pl + 2 + ol] = 0;
	return -1;
}

void sut_err_clear(struct sut_err *err)
{
	if (err) {
		err->msg[0] = 0;
		err->code = 0;
	}
}
