/* SPDX-License-Identifier: Apache-2.0 */
#include "apply/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int sut_lock_pid(pid_t pid, int timeout_ms, struct sut_err *err)
{
	const char *dir = access("/run/lock", W_OK) == 0 ? "/run/lock" : "/tmp";
	char path[128];
	snprintf(path, sizeof path, "%s/suture.%d.lock", dir, (int)pid);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return sut_errno(err, "%s", path);
	for (int waited = 0;; waited += 10) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK || waited >= timeout_ms) {
			sut_errno(err, "pid %d: another suture is working on this process (%s)",
				  (int)pid, path);
			close(fd);
			return -1;
		}
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

void sut_unlock_pid(int fd)
{
	if (fd >= 0)
		close(fd);
}
