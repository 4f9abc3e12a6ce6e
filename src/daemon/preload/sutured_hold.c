/* SPDX-License-Identifier: Apache-2.0 */
/* libsutured-hold.so: holds a starting process until sutured has looked at it.
 *
 * Preloaded (LD_PRELOAD, or /etc/ld.so.preload for every dynamically linked program), its
 * constructor runs once the dynamic linker has mapped and relocated every library the
 * program needs, and before main. It connects to sutured's hold socket and waits for one
 * byte: meanwhile sutured patches the process if it maps a target of an auto patch
 * (daemon.h). A process that maps none is answered after one read of its maps.
 *
 * What it does not cover: constructors of other libraries run before this one (the
 * dynamic linker runs a preloaded library's initialiser after those of the libraries
 * loaded for the program), statically linked programs, and programs started with a
 * cleared environment when it is given by LD_PRELOAD.
 *
 * It never delays a program by more than the timeout (SUTURED_HOLD_TIMEOUT_MS, default
 * 500 ms), does nothing when no sutured listens (the connect fails at once), keeps errno,
 * and uses no allocation and no stdio. Under AT_SECURE (setuid programs) the environment
 * is not read: the system socket and the default timeout are used. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HOLD_SOCKET "/run/suture/hold.sock"
#define HOLD_TIMEOUT_MS 500

static long parse_ms(const char *s)
{
	long v = 0;
	for (; s && *s >= '0' && *s <= '9' && v < 600000; s++)
		v = v * 10 + (*s - '0');
	return v > 0 ? v : HOLD_TIMEOUT_MS;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void set_timeouts(int fd, long ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Connects before the deadline; -1 when no sutured listens or time is up. A connect
 * waiting on a full backlog ends with EINTR when sutured itself stops this process to
 * patch it (a finite wait is not restarted), and with EAGAIN at the timeout: both retry
 * while time is left. */
static int connect_by(const struct sockaddr_un *sa, long deadline)
{
	for (;;) {
		long left = deadline - now_ms();
		if (left <= 0)
			return -1;
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		set_timeouts(fd, left);
		if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0)
			return fd;
		int e = errno;
		close(fd);
		if (e != EINTR && e != EAGAIN)
			return -1; /* ENOENT, ECONNREFUSED: no sutured */
	}
}

__attribute__((constructor)) static void sutured_hold(void)
{
	int saved = errno;
	const char *path = secure_getenv("SUTURED_HOLD_SOCKET");
	long deadline = now_ms() + parse_ms(secure_getenv("SUTURED_HOLD_TIMEOUT_MS"));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!path || !*path || strlen(path) >= sizeof sa.sun_path)
		path = HOLD_SOCKET;
	strcpy(sa.sun_path, path);
	int fd = connect_by(&sa, deadline);
	if (fd >= 0) {
		char c;
		/* one byte, or sutured closing, or the deadline: then main runs */
		while (recv(fd, &c, 1, 0) < 0 && (errno == EINTR || errno == EAGAIN) &&
		       now_ms() < deadline)
			set_timeouts(fd, deadline - now_ms() > 0 ? deadline - now_ms() : 1);
		close(fd);
	}
	errno = saved;
}
