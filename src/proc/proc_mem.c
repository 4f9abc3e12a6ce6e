/* SPDX-License-Identifier: Apache-2.0 */
/* Reading process memory. process_vm_readv is one system call and needs no open file, so
 * it is tried first; it refuses pages the target cannot read itself (PROT_NONE guard pages,
 * execute-only code) and some ptrace-access setups, where /proc/PID/mem (which reads with
 * the kernel's forced access) still succeeds. Either way the result is all bytes or an
 * error naming the address. */
#include "proc/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

/* Reads what process_vm_readv gives; returns the number of bytes read (maybe short). */
static size_t read_vm(pid_t pid, uint64_t addr, uint8_t *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		struct iovec local = {buf + done, len - done};
		struct iovec remote = {(void *)(uintptr_t)(addr + done), len - done};
		ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	return done;
}

static int read_proc_mem(pid_t pid, uint64_t addr, uint8_t *buf, size_t len, struct sut_err *err)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return sut_errf(err, "pid %d: no such process", (int)pid);
		return sut_errno(err, "pid %d: cannot read memory at 0x%" PRIx64 ": %s", (int)pid,
				 addr, path);
	}
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, buf + done, len - done, (off_t)(addr + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			sut_errno(err, "pid %d: cannot read %zu bytes at 0x%" PRIx64, (int)pid,
				  len - done, addr + done);
			close(fd);
			return -1;
		}
		done += (size_t)r;
	}
	close(fd);
	return 0;
}

int sut_proc_read(pid_t pid, uint64_t addr, void *buf, size_t len, struct sut_err *err)
{
	if (!len)
		return 0;
	if (addr + len < addr)
		return sut_errf(err, "pid %d: read of %zu bytes at 0x%" PRIx64 " wraps around",
				(int)pid, len, addr);
	uint8_t *p = buf;
	size_t done = read_vm(pid, addr, p, len);
	if (done == len)
		return 0;
	return read_proc_mem(pid, addr + done, p + done, len - done, err);
}
