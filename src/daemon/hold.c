/* SPDX-License-Identifier: Apache-2.0 */
/* The hold socket, ROOT/run/suture/hold.sock: a starting process that preloads
 * libsutured-hold.so connects from its constructor and waits for one byte; sutured looks
 * at it (and patches it) first. Anyone may connect (every user's programs start), so the
 * request carries nothing: the process is the peer of the connection (SO_PEERCRED), and
 * sutured does for it only what it would do for any process it found by itself. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/daemon_internal.h"
#include "util/buf.h"

/* Held processes answered per turn of the loop before other work gets a turn. */
#define HOLD_BATCH 64

int dm_hold_open(struct sut_daemon *d, struct sut_err *err)
{
	char *path = sut_xasprintf("%s/hold.sock", d->paths.run_dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		sut_errf(err, "hold socket path %s is too long", path);
		free(path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		free(path);
		return sut_errno(err, "hold socket");
	}
	unlink(path); /* the control socket's probe already proved no other sutured serves */
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, 0666) < 0 ||
	    listen(fd, 4096) < 0) {
		sut_errno(err, "hold socket %s", path);
		close(fd);
		free(path);
		return -1;
	}
	free(path);
	d->hold_fd = fd;
	return 0;
}

void dm_hold_accept(struct sut_daemon *d)
{
	for (int i = 0; i < HOLD_BATCH; i++) {
		int fd = accept4(d->hold_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct ucred cr;
		socklen_t cl = sizeof cr;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0 && cr.pid > 0) {
			d->c.held++;
			uint64_t t0 = dm_now_ns();
			if (dm_ensure(d, cr.pid, true) == DM_APPLIED)
				d->c.held_patched++;
			uint64_t us = (dm_now_ns() - t0) / 1000;
			if (us > d->c.hold_max_us)
				d->c.hold_max_us = us;
			d->c.hold_sum_us += us;
		}
		/* the byte releases it; a process that gave up waiting is gone from the socket */
		send(fd, "", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
	}
}
