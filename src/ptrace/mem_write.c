/* SPDX-License-Identifier: Apache-2.0 */
/* Writing process memory through /proc/PID/mem. The kernel writes with forced access, so
 * read-only code pages are written too (they become private copy-on-write pages of this
 * process, never the file on disk). The caller must have every thread stopped when it
 * writes code (DESIGN.md invariant 7), or go through sut_freeze_write_code under a
 * partial freeze; this function does not check that.
 *
 * During a partial freeze one descriptor, opened before the freeze, serves every write to
 * the process (ptr_mem_pin): it is bound to the memory the process had then, so if a
 * thread left asleep wakes and execs meanwhile the writes fail instead of reaching the
 * new program. */
#include "ptrace/ptrace.h"
#include "ptrace/ptrace_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/buf.h"

static __thread pid_t pinned_pid;
static __thread int pinned_fd = -1;
static __thread struct ptr_range *written;
static __thread size_t nwritten, capwritten;

const struct ptr_range *ptr_mem_written(size_t *n)
{
	*n = nwritten;
	return written;
}

int ptr_mem_pin(pid_t pid, struct sut_err *err)
{
	char path[64];
	ptr_mem_unpin();
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return sut_errno(err, "pid %d: cannot open %s", (int)pid, path);
	pinned_pid = pid;
	pinned_fd = fd;
	return 0;
}

void ptr_mem_unpin(void)
{
	if (pinned_fd >= 0)
		close(pinned_fd);
	pinned_fd = -1;
	pinned_pid = 0;
	free(written);
	written = NULL;
	nwritten = capwritten = 0;
}

int sut_ptrace_write(pid_t pid, uint64_t addr, const void *buf, size_t len, struct sut_err *err)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	bool pinned = pinned_fd >= 0 && pinned_pid == pid;
	int fd = pinned ? pinned_fd : open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return sut_errno(err, "pid %d: cannot write %zu bytes at 0x%" PRIx64 ": %s",
				 (int)pid, len, addr, path);
	const uint8_t *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t w = pwrite(fd, p + done, len - done, (off_t)(addr + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			sut_errno(err, "pid %d: cannot write %zu bytes at 0x%" PRIx64, (int)pid,
				  len - done, addr + done);
			if (!pinned)
				close(fd);
			return -1;
		}
		done += (size_t)w;
	}
	if (!pinned) {
		close(fd);
		return 0;
	}
	if (nwritten == capwritten) {
		capwritten = capwritten ? 2 * capwritten : 16;
		written = sut_xrealloc(written, capwritten * sizeof *written);
	}
	written[nwritten++] = (struct ptr_range){addr, len};
	return 0;
}
