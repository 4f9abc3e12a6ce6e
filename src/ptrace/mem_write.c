/* SPDX-License-Identifier: Apache-2.0 */
/* Writing process memory through /proc/PID/mem. The kernel writes with forced access, so
 * read-only code pages are written too (they become private copy-on-write pages of this
 * process, never the file on disk). The caller must have every thread stopped when it
 * writes code (DESIGN.md invariant 7); this function does not check that. */
#include "ptrace/ptrace.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

int sut_ptrace_write(pid_t pid, uint64_t addr, const void *buf, size_t len, struct sut_err *err)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	int fd = open(path, O_RDWR | O_CLOEXEC);
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
			close(fd);
			return -1;
		}
		done += (size_t)w;
	}
	close(fd);
	return 0;
}
