/* SPDX-License-Identifier: Apache-2.0 */
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void oom(void)
{
	fputs("suture: out of memory\n", stderr);
	abort();
}

void *sut_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *sut_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *sut_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *sut_xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		oom();
	return p;
}

char *sut_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	return s;
}

void sut_hex(const uint8_t *bytes, size_t len, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[bytes[i] >> 4];
		out[2 * i + 1] = d[bytes[i] & 15];
	}
	out[2 * len] = 0;
}

static int nib(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sut_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

void sut_buf_append(struct sut_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return; /* an empty buffer has no data pointer to add 0 to */
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		b->data = sut_xrealloc(b->data, cap);
		b->cap = cap;
	}
	if (p)
		memcpy(b->data + b->len, p, n);
	else
		memset(b->data + b->len, 0, n);
	b->len += n;
}

size_t sut_buf_align(struct sut_buf *b, size_t align)
{
	if (align > 1 && b->len % align)
		sut_buf_append(b, NULL, align - b->len % align);
	return b->len;
}

void sut_buf_free(struct sut_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int sut_read_file(const char *path, uint8_t **data, size_t *len, struct sut_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sut_errno(err, "%s", path);
	struct sut_buf b = {0};
	for (;;) {
		uint8_t chunk[65536];
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			sut_errno(err, "%s: read", path);
			close(fd);
			sut_buf_free(&b);
			return -1;
		}
		if (r == 0)
			break;
		sut_buf_append(&b, chunk, (size_t)r);
	}
	close(fd);
	*data = b.data ? b.data : sut_xmalloc(1);
	*len = b.len;
	return 0;
}

int sut_write_file(const char *path, const void *data, size_t len, struct sut_err *err)
{
	const char *slash = strrchr(path, '/');
	char *tmp = slash ? sut_xasprintf("%.*s/.%s.tmp.%d", (int)(slash - path), path, slash + 1,
					  (int)getpid())
			  : sut_xasprintf(".%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		sut_errno(err, "%s", tmp);
		free(tmp);
		return -1;
	}
	const uint8_t *p = data;
	size_t left = len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			sut_errno(err, "%s: write", tmp);
			close(fd);
			unlink(tmp);
			free(tmp);
			return -1;
		}
		p += w;
		left -= (size_t)w;
	}
	int synced = fsync(fd);
	if (close(fd) < 0 || synced < 0 || rename(tmp, path) < 0) {
		sut_errno(err, "%s", path);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}
