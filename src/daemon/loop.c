/* SPDX-License-Identifier: Apache-2.0 */
/* sutured's event loop: one thread (it is the tracer of every transaction it runs), one
 * epoll set: the process-events connector, inotify on the store folders and the policy
 * file's folder, the control socket, and a signalfd (TERM/INT stop, HUP reloads). Timed
 * work (exec look-agains, the debounced reload, the periodic pass) is due by deadline. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon_internal.h"
#include "util/buf.h"

#define RELOAD_DEBOUNCE_NS (50 * 1000000ull)  /* a dpkg unpack is several events */
#define ALIVE_NS (250 * 1000000ull)
/* look again at a new process this long after its exec: 0.5 ms doubling, 9 looks, the
 * last at 128 ms; then the periodic pass takes over */
#define PENDING_FIRST_NS 500000ull
#define PENDING_TRIES 9

uint64_t dm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void dm_log(struct sut_daemon *d, int prio, pid_t pid, const char *patch, const char *fmt, ...)
{
	if (!d->h.log)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg)
		d->h.log(d->h.ctx, prio, pid, patch, msg);
	free(msg);
}

static void record_latency(struct sut_daemon *d, uint64_t exec_ns)
{
	uint64_t now = dm_now_ns();
	uint64_t us = now > exec_ns ? (now - exec_ns) / 1000 : 0;
	d->c.processes_patched_new++;
	d->c.exec_to_patched_last_us = us;
	d->c.exec_to_patched_sum_us += us;
	if (us > d->c.exec_to_patched_max_us)
		d->c.exec_to_patched_max_us = us;
}

/* Has the dynamic linker finished mapping the process's libraries? Its executable
 * mappings beyond the program and the linker did not change over the last two looks. */
static bool loaded(struct sut_daemon *d, struct dm_pending *p)
{
	const struct dm_seen *s = g_hash_table_lookup(d->seen, GINT_TO_POINTER(p->pid));
	if (!s || s->sig != s->prev_sig)
		p->stable = 0;
	else
		p->stable++;
	return s && s->nexec >= 3 && p->stable >= 2;
}

/* One look at a process that exec'd; schedules the next look if it maps no target yet,
 * or one whose text is not mapped yet, or if the transaction failed. */
static void look_new(struct sut_daemon *d, struct dm_pending *p)
{
	d->c.exec_checked++;
	/* DM_NOW: a transaction that failed on a process the dynamic linker is still setting
	 * up (it maps a library where the patch was about to be staged) is tried again at the
	 * next look, not after the backoff of a process that keeps failing */
	enum dm_verdict v = dm_ensure(d, p->pid, DM_FRESH | DM_NOW);
	if (v == DM_APPLIED)
		record_latency(d, p->exec_ns);
	p->tries++;
	bool again = v == DM_WAIT || v == DM_FAILED || (v == DM_NONE && !loaded(d, p));
	if (again && p->tries < PENDING_TRIES)
		p->next_ns = p->exec_ns + (PENDING_FIRST_NS << (p->tries - 1));
	else
		p->next_ns = 0; /* done */
}

void dm_new_process(struct sut_daemon *d, pid_t pid, uint64_t ts_ns)
{
	if (d->nauto == 0)
		return;
	struct dm_pending p = {.pid = pid, .exec_ns = ts_ns ? ts_ns : dm_now_ns()};
	look_new(d, &p);
	if (p.next_ns)
		g_array_append_val(d->pending, p);
}

static void on_exec(void *ctx, pid_t pid, uint64_t ts_ns)
{
	struct sut_daemon *d = ctx;
	d->c.exec_events++;
	dm_new_process(d, pid, ts_ns);
}

static void on_exit_ev(void *ctx, pid_t pid)
{
	struct sut_daemon *d = ctx;
	dm_forget_pid(d, pid);
	for (guint i = 0; i < d->pending->len; i++)
		if (g_array_index(d->pending, struct dm_pending, i).pid == pid) {
			g_array_remove_index_fast(d->pending, i);
			break;
		}
}

static void run_pending(struct sut_daemon *d, uint64_t now)
{
	for (guint i = 0; i < d->pending->len;) {
		struct dm_pending *p = &g_array_index(d->pending, struct dm_pending, i);
		if (p->next_ns && p->next_ns <= now)
			look_new(d, p);
		if (p->next_ns == 0)
			g_array_remove_index_fast(d->pending, i);
		else
			i++;
	}
}

static void watch(struct sut_daemon *d, const char *dir)
{
	g_mkdir_with_parents(dir, 0755);
	if (inotify_add_watch(d->ino_fd, dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
				      IN_ATTRIB) < 0)
		dm_log(d, 4, 0, NULL, "cannot watch %s: %s (changes there are seen at the next "
		       "pass only)", dir, strerror(errno));
}

static void drain(int fd)
{
	char buf[4096];
	while (read(fd, buf, sizeof buf) > 0)
		;
}

static int add_fd(struct sut_daemon *d, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	return epoll_ctl(d->ep_fd, EPOLL_CTL_ADD, fd, &ev);
}

static void status_line(struct sut_daemon *d)
{
	if (!d->h.ready)
		return;
	char line[256];
	snprintf(line, sizeof line, "%zu auto patch%s, %u process%s not patched, %s", d->nauto,
		 d->nauto == 1 ? "" : "es", g_hash_table_size(d->problems),
		 g_hash_table_size(d->problems) == 1 ? "" : "es",
		 d->kh ? "new processes held by the kernel hold" :
		 d->connector ? "new processes by exec events" : "new processes by rescan only");
	d->h.ready(d->h.ctx, line);
}

/* Exec events through the process-events connector, unless switched off (--no-connector). */
static void open_connector(struct sut_daemon *d, const struct sut_daemon_opts *o)
{
	if (o->no_connector || d->connector)
		return;
	struct sut_err cerr;
	if (dm_connector_open(&d->nl_fd, &cerr) < 0) {
		dm_log(d, 4, 0, NULL, "%s: new processes are found by the periodic pass only",
		       cerr.msg);
		return;
	}
	d->connector = true;
	add_fd(d, d->nl_fd);
}

static void log_no_kernel_hold(struct sut_daemon *d, const char *what)
{
	dm_log(d, 4, 0, NULL, "kernel hold %s: %s; new processes are patched after they start "
	       "(exec events and the periodic pass; a program that calls a patched function "
	       "within its first milliseconds can run the old code once)", what, d->khold_why);
}

/* The kernel hold's guard died and could not be restarted: without it a sutured killed
 * now would leave its stops for the next one, so the hold ends here. Its stops are
 * continued (those not patched yet are found again by the connector and the pass), the
 * probes removed, and new processes are seen through exec events from now on. */
static void fall_back(struct sut_daemon *d, const struct sut_daemon_opts *o)
{
	dm_hold_release_kernel(d, "the kernel hold ended (its guard could not be restarted)");
	dm_khold_close(d);
	log_no_kernel_hold(d, "ended");
	open_connector(d, o);
	d->next_pass_ns = 0; /* the released ones, and anything started meanwhile */
	status_line(d);
}

static void cleanup(struct sut_daemon *d)
{
	dm_hold_close_all(d);
	dm_khold_close(d);
	g_array_free(d->held, TRUE);
	int fds[] = {d->nl_fd, d->ino_fd, d->sig_fd, d->ctl_fd, d->hold_fd, d->ep_fd};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (d->ctl_fd >= 0)
		unlink(d->paths.socket);
	if (d->hold_fd >= 0) {
		char *hold = sut_xasprintf("%s/hold.sock", d->paths.run_dir);
		unlink(hold);
		free(hold);
	}
	dm_store_drop(d);
	g_ptr_array_free(d->managed, TRUE);
	g_hash_table_destroy(d->managed_bid);
	g_hash_table_destroy(d->seen);
	g_hash_table_destroy(d->problems);
	g_hash_table_destroy(d->not_target);
	g_array_free(d->pending, TRUE);
	sut_store_paths_free(&d->paths);
}

static void free_problem(gpointer p)
{
	struct dm_problem *x = p;
	free(x->patch);
	free(x->reason);
	free(x);
}

int sut_daemon_run(const struct sut_daemon_opts *o, const struct sut_daemon_hooks *h,
		   struct sut_err *err)
{
	struct sut_daemon d = {.h = *h, .nl_fd = -1, .ino_fd = -1, .sig_fd = -1, .ctl_fd = -1,
			       .hold_fd = -1, .ep_fd = -1};
	sut_store_paths_init(&d.paths, o->root);
	d.managed = g_ptr_array_new_with_free_func(free);
	d.managed_bid = g_hash_table_new_full(g_str_hash, g_str_equal, free, free);
	d.seen = g_hash_table_new_full(NULL, NULL, NULL, free);
	d.problems = g_hash_table_new_full(NULL, NULL, NULL, free_problem);
	d.not_target = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
	d.pending = g_array_new(FALSE, FALSE, sizeof(struct dm_pending));
	d.held = g_array_new(FALSE, FALSE, sizeof(struct dm_held));
	d.started = (uint64_t)time(NULL);
	d.conf.rescan_ms = 1000;
	d.conf.timeout_ms = 5000;
	d.conf.kernel_hold = true;

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	d.ep_fd = epoll_create1(EPOLL_CLOEXEC);
	d.ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d.sig_fd < 0 || d.ep_fd < 0 || d.ino_fd < 0) {
		sut_errno(err, "sutured: event loop set-up");
		cleanup(&d);
		return -1;
	}
	if (dm_control_open(&d, err) < 0 || dm_hold_open(&d, err) < 0) {
		cleanup(&d);
		return -1;
	}
	char *confdir = sut_xstrdup(d.paths.config);
	*strrchr(confdir, '/') = 0;
	watch(&d, d.paths.operator_dir);
	watch(&d, d.paths.package_dir);
	watch(&d, confdir);
	free(confdir);
	add_fd(&d, d.sig_fd);
	add_fd(&d, d.ino_fd);
	add_fd(&d, d.ctl_fd);
	add_fd(&d, d.hold_fd);

	dm_managed_load(&d);
	dm_reload(&d);
	/* the probes (or the connector) are in place before the first pass: a process
	 * started during the pass is held (or seen by one or the other) */
	if (dm_khold_open(&d, o->no_kernel_hold) == 0) {
		add_fd(&d, dm_khold_fd(&d));
		dm_khold_start(&d);
	} else if (strcmp(d.khold_state, "off")) {
		log_no_kernel_hold(&d, "unavailable");
	}
	/* With the kernel hold, exec events are not needed: a process that runs a known
	 * target's initialiser reaches a probe (held, or told when it is not held), and a
	 * target file at a place not known yet is found by the periodic pass. Leaving them
	 * out keeps an exec of an unrelated program from waking the daemon at all. */
	if (!d.kh)
		open_connector(&d, o);
	dm_full_pass(&d);
	d.next_pass_ns = dm_now_ns() + (uint64_t)d.conf.rescan_ms * 1000000ull;
	dm_log(&d, 6, 0, NULL, "serving: %zu auto patch%s, control socket %s, new processes "
	       "by %s", d.nauto, d.nauto == 1 ? "" : "es", d.paths.socket,
	       d.kh ? "the kernel hold (uprobes on the targets' first initialisers)" :
	       d.connector ? "exec events (proc connector)" : "periodic pass");
	status_line(&d);

	uint64_t last_alive = 0;
	bool kbusy = false;
	while (!d.stop) {
		uint64_t now = dm_now_ns();
		uint64_t next = d.next_pass_ns;
		if (d.reload_at_ns && d.reload_at_ns < next)
			next = d.reload_at_ns;
		for (guint i = 0; i < d.pending->len; i++) {
			uint64_t t = g_array_index(d.pending, struct dm_pending, i).next_ns;
			if (t && t < next)
				next = t;
		}
		uint64_t th = dm_hold_retry(&d, now);
		if (th && th < next)
			next = th;
		if (last_alive + ALIVE_NS < next)
			next = last_alive + ALIVE_NS;
		int timeout = next > now ? (int)((next - now + 999999) / 1000000) : 0;
		if (kbusy)
			timeout = 0; /* queued stops: another batch after a look at the rest */
		struct epoll_event evs[8];
		int n = epoll_wait(d.ep_fd, evs, 8, timeout);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == d.nl_fd) {
				if (dm_connector_read(d.nl_fd, on_exec, on_exit_ev, &d)) {
					d.c.overruns++;
					d.next_pass_ns = 0; /* lost events: look at everything now */
				}
			} else if (fd == d.ino_fd) {
				drain(d.ino_fd);
				if (!d.reload_at_ns)
					d.reload_at_ns = dm_now_ns() + RELOAD_DEBOUNCE_NS;
			} else if (d.kh && fd == dm_khold_fd(&d)) {
				dm_khold_read(&d);
			} else if (fd == d.hold_fd) {
				dm_hold_accept(&d);
			} else if (fd == d.ctl_fd) {
				dm_control_accept(&d);
			} else if (fd == d.sig_fd) {
				struct signalfd_siginfo si;
				while (read(d.sig_fd, &si, sizeof si) == sizeof si) {
					if (si.ssi_signo == SIGHUP)
						d.reload_at_ns = dm_now_ns();
					else
						d.stop = true;
				}
			}
		}
		kbusy = dm_khold_work(&d);
		dm_khold_beat(&d);
		if (dm_khold_guard_check(&d) < 0)
			fall_back(&d, o);
		now = dm_now_ns();
		run_pending(&d, now);
		if (d.reload_at_ns && d.reload_at_ns <= now) {
			d.reload_at_ns = 0;
			dm_reload(&d);
			d.next_pass_ns = 0;
		}
		if (d.next_pass_ns <= now && !kbusy) { /* held processes first */
			dm_full_pass(&d);
			status_line(&d);
			d.next_pass_ns = dm_now_ns() + (uint64_t)d.conf.rescan_ms * 1000000ull;
		}
		if (last_alive + ALIVE_NS <= now) {
			last_alive = now;
			if (d.h.alive)
				d.h.alive(d.h.ctx);
		}
	}
	dm_log(&d, 6, 0, NULL, "stopping (processes keep their patches)");
	cleanup(&d);
	return 0;
}
