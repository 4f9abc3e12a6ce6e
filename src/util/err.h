/* SPDX-License-Identifier: Apache-2.0 */
/* Error reporting shared by every layer.
 *
 * A failing function fills a struct sut_err with one sentence that names what failed
 * (process, object, function) and why, and returns -1. Callers may prefix context with
 * sut_err_wrap() so the final message reads from the outside in:
 *   "pid 4242: libfoo.so: parse_header: pre-image mismatch at byte 3". */
#ifndef SUTURE_UTIL_ERR_H
#define SUTURE_UTIL_ERR_H

#include <stddef.h>

#define SUT_ERR_MAX 1024

struct sut_err {
	char msg[SUT_ERR_MAX];
	int code; /* an errno value when the cause was a system call, else 0 */
};

/* Sets the message; always returns -1 so callers can write `return sut_errf(...)`. */
int sut_errf(struct sut_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like sut_errf, appending ": strerror(errno)" and recording errno. */
int sut_errno(struct sut_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes the existing message with "prefix: ". Returns -1. */
int sut_err_wrap(struct sut_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sut_err_clear(struct sut_err *err);

#endif
