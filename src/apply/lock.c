/* SPDX-License-Identifier: Apache-2.0 */
#include "apply/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/env.h"

int sut_state_dir_path(char *buf, size_t cap, struct sut_err *err)
{
	const char *over = sut_env("SUTURE_RUN_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (over)
		n = snprintf(buf, cap, "%s", over);
	else if (geteuid() == 0)
		n = snprintf(buf, cap, "/run/suture");
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, cap, "%s/suture", xdg);
	else
		return sut_errf(err, "no state directory for lock files: suture runs as uid %u "
				     "and XDG_RUNTIME_DIR is not set",
				(unsigned)geteuid());
	if (n < 0 || (size_t)n >= cap)
		return sut_errf(err, "state directory path too long");
	return 0;
}

/* The directory must be ours alone: anything else is refused, not fixed. */
static int check_dir(int fd, const char *path, struct sut_err *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return sut_errno(err, "state directory %s", path);
	if (!S_ISDIR(st.st_mode))
		return sut_errf(err, "state directory %s is not a directory", path);
	if (st.st_uid != geteuid())
		return sut_errf(err, "refusing state directory %s: owned by uid %u, not %u", path,
				(unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077)
		return sut_errf(err, "refusing state directory %s: mode %04o lets others in (want 0700)",
				path, (unsigned)(st.st_mode & 07777));
	return 0;
}

int sut_state_dir_open(struct sut_err *err)
{
	char path[4096];
	if (sut_state_dir_path(path, sizeof path, err) < 0)
		return -1;
	for (int tries = 0; tries < 2; tries++) {
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			if (check_dir(fd, path, err) < 0) {
				close(fd);
				return -1;
			}
			return fd;
		}
		/* O_NOFOLLOW | O_DIRECTORY on a symlink fails with ELOOP or ENOTDIR */
		struct stat st;
		if ((errno == ELOOP || errno == ENOTDIR) && lstat(path, &st) == 0 &&
		    S_ISLNK(st.st_mode))
			return sut_errf(err, "refusing state directory %s: it is a symlink", path);
		if (errno == ELOOP || errno == ENOTDIR)
			return sut_errf(err, "refusing state directory %s: not a directory", path);
		if (errno != ENOENT)
			return sut_errno(err, "state directory %s", path);
		/* first use: mkdir never follows a symlink at the last component, and EEXIST
		 * (someone was quicker) goes through the checks on the next round */
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return sut_errno(err, "creating state directory %s", path);
	}
	return sut_errf(err, "state directory %s keeps vanishing", path);
}

/* The holder's suture pid, from the lock file (for the message when it is busy). */
static long holder_of(int fd)
{
	char buf[64] = "";
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *s = strstr(buf, "suture=");
	return s ? atol(s + 7) : 0;
}

int sut_lock_pid(pid_t pid, int timeout_ms, struct sut_err *err)
{
	int dfd = sut_state_dir_open(err);
	if (dfd < 0)
		return sut_err_wrap(err, "pid %d: cannot lock", (int)pid);
	char name[32];
	snprintf(name, sizeof name, "%d.lock", (int)pid);
	int waited = 0;
	for (;;) {
		int fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			sut_errno(err, "pid %d: lock file %s", (int)pid, name);
			close(dfd);
			return -1;
		}
		struct stat st;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			sut_errf(err, "pid %d: lock file %s is not a regular file", (int)pid, name);
			close(fd);
			close(dfd);
			return -1;
		}
		while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno != EWOULDBLOCK || waited >= timeout_ms) {
				long h = errno == EWOULDBLOCK ? holder_of(fd) : 0;
				if (h > 0)
					sut_errf(err, "pid %d: another suture (pid %ld) is working on this "
						      "process",
						 (int)pid, h);
				else if (errno == EWOULDBLOCK)
					sut_errf(err, "pid %d: another suture is working on this process "
						      "(lock %s held)",
						 (int)pid, name);
				else
					sut_errno(err, "pid %d: lock %s", (int)pid, name);
				close(fd);
				close(dfd);
				return -1;
			}
			struct timespec ts = {0, 10 * 1000000L};
			nanosleep(&ts, NULL);
			waited += 10;
		}
		/* the holder we waited for removed the file: ours is no longer the lock */
		struct stat now;
		if (fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0 || now.st_ino != st.st_ino ||
		    now.st_dev != st.st_dev) {
			close(fd);
			continue;
		}
		char who[64];
		int n = snprintf(who, sizeof who, "target=%d suture=%d\n", (int)pid, (int)getpid());
		if (ftruncate(fd, 0) < 0 || pwrite(fd, who, (size_t)n, 0) != n) {
			/* informational only: the lock is the flock, not the content */
		}
		close(dfd);
		return fd;
	}
}

void sut_unlock_pid(int fd)
{
	if (fd < 0)
		return;
	char buf[64] = "";
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	int target = n > 7 && !strncmp(buf, "target=", 7) ? atoi(buf + 7) : 0;
	struct sut_err err;
	int dfd = target > 0 ? sut_state_dir_open(&err) : -1;
	if (dfd >= 0) {
		char name[32];
		snprintf(name, sizeof name, "%d.lock", target);
		struct stat mine, there;
		/* remove the name only if it still leads to the file we hold */
		if (fstat(fd, &mine) == 0 && fstatat(dfd, name, &there, AT_SYMLINK_NOFOLLOW) == 0 &&
		    mine.st_ino == there.st_ino && mine.st_dev == there.st_dev)
			unlinkat(dfd, name, 0);
		close(dfd);
	}
	close(fd);
}
