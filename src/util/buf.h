/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers every layer uses: checked allocation, hex, growable byte buffers, files. */
#ifndef SUTURE_UTIL_BUF_H
#define SUTURE_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Allocation that aborts on failure: out-of-memory in a patcher is not recoverable
 * in a useful way, and aborting before any process is touched keeps invariant 1. */
void *sut_xmalloc(size_t n);
void *sut_xcalloc(size_t n, size_t size);
void *sut_xrealloc(void *p, size_t n);
char *sut_xstrdup(const char *s);
char *sut_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void sut_hex(const uint8_t *bytes, size_t len, char *out);
/* Parses hex into out; returns number of bytes, or -1 on bad input / overflow. */
int sut_unhex(const char *hex, uint8_t *out, size_t cap);

struct sut_buf {
	uint8_t *data;
	size_t len, cap;
};
void sut_buf_append(struct sut_buf *b, const void *p, size_t n);
/* Appends zero bytes until len is a multiple of align (a power of two). Returns new len. */
size_t sut_buf_align(struct sut_buf *b, size_t align);
void sut_buf_free(struct sut_buf *b);

/* Reads a whole file. */
int sut_read_file(const char *path, uint8_t **data, size_t *len, struct sut_err *err);
/* Writes a whole file atomically and durably: a hidden temp file in the same folder
 * (".NAME.tmp.PID", which folder listings that skip dot-files never see), fsync, rename.
 * On failure the file at path is unchanged and the temp file is gone. */
int sut_write_file(const char *path, const void *data, size_t len, struct sut_err *err);

#endif
