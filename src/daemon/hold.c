/* SPDX-License-Identifier: Apache-2.0 */
/* The hold socket, ROOT/run/suture/hold.sock: a starting process that preloads
 * libsutured-hold.so connects from its constructor and waits for one byte; sutured looks
 * at it (and patches it) first. Anyone may connect (every user's programs start), so the
 * request carries nothing: the process is the peer of the connection (SO_PEERCRED), and
 * sutured does for it only what it would do for any process it found by itself. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/daemon_internal.h"
#include "proc/proc.h"
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

/* Looks again this long after the previous look: 2 ms doubling to 100 ms. */
#define HOLD_RETRY_FIRST_NS 2000000ull
#define HOLD_RETRY_MAX_NS 100000000ull
/* sutured answers a held process after this long at most, patched or not (its own hold
 * timeout, SUTURED_HOLD_TIMEOUT_MS, is normally much shorter and it leaves on its own). */
#define HOLD_MAX_NS (60 * 1000000000ull)

/* A process the kernel hold stopped is released after this long at most: it is stopped
 * as a whole, not waiting in a constructor with its own timeout. */
#define KHOLD_MAX_NS (10 * 1000000000ull)

/* Does the held process still wait? A preloaded one closes its end when its hold timeout
 * is over; a stopped one waits as long as it is the same process. */
static bool still_waiting(struct sut_daemon *d, const struct dm_held *h)
{
	if (h->kseq)
		return dm_khold_same(d, h->pid, h->kstart);
	struct pollfd p = {.fd = h->fd, .events = POLLIN | POLLRDHUP};
	return poll(&p, 1, 0) == 0;
}

static const char *unpatched_reason(struct sut_daemon *d, const struct dm_held *h)
{
	if (h->last == DM_WAIT)
		return "its target library's text was not mapped yet";
	const struct dm_problem *p = g_hash_table_lookup(d->problems, GINT_TO_POINTER(h->pid));
	return p && p->reason ? p->reason : "the transaction failed";
}

/* The byte releases it (a process that gave up waiting is gone from the socket); a
 * stopped one is continued. */
static void release(struct sut_daemon *d, struct dm_held *h, const char *unpatched_why)
{
	if (unpatched_why) {
		d->c.held_unpatched++;
		char comm[32];
		sut_proc_comm(h->pid, comm, sizeof comm);
		dm_log(d, 4, h->pid, NULL, "pid %d (%s): released from the hold unpatched after %u "
		       "look%s in %.1f ms: %s (%s)", (int)h->pid, comm, h->tries + 1,
		       h->tries ? "s" : "", (dm_now_ns() - h->since_ns) / 1e6, unpatched_why,
		       unpatched_reason(d, h));
	}
	uint64_t us = (dm_now_ns() - h->since_ns) / 1000;
	if (h->kseq) {
		static const char *const vn[] = {"none", "wait", "done", "applied", "excluded",
						 "failed", "gone"};
		dm_log(d, 7, h->pid, NULL, "pid %d: continued after %llu us (%s)", (int)h->pid,
		       (unsigned long long)us, vn[h->last]);
		if (us > d->c.khold_max_us)
			d->c.khold_max_us = us;
		d->c.khold_sum_us += us;
		dm_khold_continue(d, h->pid, h->kseq, h->kstart);
		h->kseq = 0;
		h->pid = 0;
		return;
	}
	if (us > d->c.hold_max_us)
		d->c.hold_max_us = us;
	d->c.hold_sum_us += us;
	send(h->fd, "", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(h->fd);
	h->fd = -1;
}

static bool released(const struct dm_held *h)
{
	return h->fd < 0 && h->kseq == 0;
}

/* One look at a held process; false while it maps a target that is not patched yet (it
 * stays held: an apply that failed or a library still being mapped is tried again). */
static bool look_held(struct sut_daemon *d, struct dm_held *h)
{
	enum dm_verdict v = dm_ensure(d, h->pid, DM_FRESH | DM_NOW);
	h->last = v;
	if (v == DM_APPLIED && h->kseq)
		d->c.kheld_patched++;
	else if (v == DM_APPLIED)
		d->c.held_patched++;
	if (v != DM_WAIT && v != DM_FAILED) {
		release(d, h, NULL); /* patched, nothing to do, excluded, or gone */
		return true;
	}
	uint64_t now = dm_now_ns();
	if (now - h->since_ns >= (h->kseq ? KHOLD_MAX_NS : HOLD_MAX_NS)) {
		release(d, h, "the daemon's hold limit is over");
		return true;
	}
	uint64_t back = HOLD_RETRY_FIRST_NS << (h->tries < 6 ? h->tries : 6);
	h->next_ns = now + (back < HOLD_RETRY_MAX_NS ? back : HOLD_RETRY_MAX_NS);
	return false;
}

void dm_hold_accept(struct sut_daemon *d)
{
	for (int i = 0; i < HOLD_BATCH; i++) {
		int fd = accept4(d->hold_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct ucred cr;
		socklen_t cl = sizeof cr;
		struct dm_held h = {.fd = fd, .since_ns = dm_now_ns()};
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || cr.pid <= 0) {
			send(fd, "", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		h.pid = cr.pid;
		d->c.held++;
		if (!look_held(d, &h))
			g_array_append_val(d->held, h);
	}
}

uint64_t dm_hold_retry(struct sut_daemon *d, uint64_t now)
{
	uint64_t next = 0;
	for (guint i = 0; i < d->held->len;) {
		struct dm_held *h = &g_array_index(d->held, struct dm_held, i);
		if (h->next_ns <= now) {
			if (!still_waiting(d, h)) {
				if (h->kseq)
					release(d, h, NULL); /* it exited, or was killed */
				else
					release(d, h, "it gave up waiting (its hold timeout)");
			} else {
				h->tries++;
				d->c.hold_retries++;
				look_held(d, h);
			}
		}
		if (released(h)) {
			g_array_remove_index_fast(d->held, i);
			continue;
		}
		if (!next || h->next_ns < next)
			next = h->next_ns;
		i++;
	}
	return next;
}

/* The event is sent from the probe before the stop takes effect (the kernel delivers the
 * SIGSTOP once the probed instruction has been stepped): waits, briefly, until the
 * process is in its stop, so that the transaction finds it stopped as a whole. */
#define KHOLD_STOP_WAIT_NS 20000000ull

void dm_hold_add_kernel(struct sut_daemon *d, pid_t pid, uint64_t seq, uint64_t start_boottime)
{
	struct dm_held h = {.fd = -1, .kseq = seq, .kstart = start_boottime, .pid = pid,
			    .since_ns = dm_now_ns()};
	for (uint64_t until = h.since_ns + KHOLD_STOP_WAIT_NS; dm_now_ns() < until;) {
		char st = 0;
		if (!dm_khold_state(d, pid, start_boottime, &st) || st == 'T' || st == 't')
			break;
		usleep(50);
	}
	if (!look_held(d, &h))
		g_array_append_val(d->held, h);
}

void dm_hold_release_kernel(struct sut_daemon *d, const char *why)
{
	for (guint i = 0; i < d->held->len;) {
		struct dm_held *h = &g_array_index(d->held, struct dm_held, i);
		if (!h->kseq) {
			i++;
			continue;
		}
		release(d, h, why);
		g_array_remove_index_fast(d->held, i);
	}
}

void dm_hold_close_all(struct sut_daemon *d)
{
	for (guint i = 0; i < d->held->len; i++) {
		struct dm_held *h = &g_array_index(d->held, struct dm_held, i);
		release(d, h, "sutured is stopping");
	}
	g_array_set_size(d->held, 0);
}
