/* SPDX-License-Identifier: Apache-2.0 */
/* Threads that spend their lives blocked in one system call each, woken only by a ticker
 * thread every TICK_MS (or by their own timeout), so that a tool stopping them many times
 * a second catches them inside the call. After every return each thread checks what a
 * tool could have disturbed:
 * - the call returned the way its wake-up makes it return (no EINTR it did not already
 *   get: only pause() and sigsuspend() return EINTR, once per handled signal);
 * - a timed wait lasted at least its timeout (CLOCK_MONOTONIC);
 * - errno: set to a value of the thread's own before the call, unchanged by a call that
 *   succeeds, the right code for one that fails;
 * - the signal mask: each thread blocks its own set, which must still be blocked.
 * A failed check prints "BAD <name> ..." (names[] below); a good return counts in progress[]. The ticker
 * sends SIGUSR1 only to the threads that wait for it (pause, sigsuspend); the others block
 * it. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 150
#define TIMED_MS 200

enum { READER, ACCEPTOR, EPOLL_WOKEN, EPOLL_TIMED, FUTEX_WOKEN, FUTEX_TIMED, SLEEPER,
       PAUSER, HANDLER_READ, HANDLER_SUSPEND, NKINDS };
static const char *const names[NKINDS] = { "read", "accept", "epoll_wait", "epoll_timeout",
	"futex_wake", "futex_timeout", "nanosleep", "pause", "handler_read", "handler_sigsuspend" };

static atomic_long progress[NKINDS];
static pthread_t threads[NKINDS];
static int pipe_main[2], pipe_handler[2], listen_fd, epoll_woken, epoll_empty, event_fd;
static atomic_int futex_word;
static atomic_int started;
static __thread long sigusr1_seen; /* SIGUSR1 handler runs on this thread */
static __thread sigset_t own_mask;  /* what this thread blocks (outside handlers) */

static void die(const char *what)
{
	fprintf(stderr, "hostile_blocked: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* The thread's own errno marker: distinct per kind, outside every real errno value. */
static int marker(int kind)
{
	return 7000 + kind;
}

static void check_mask(int kind, const sigset_t *want, const char *where)
{
	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	for (int s = 1; s < SIGRTMAX; s++)
		if (sigismember(&cur, s) != sigismember(want, s)) {
			printf("BAD %s signal mask changed (signal %d) %s\n", names[kind], s, where);
			return;
		}
}

/* check_return KIND RC ERR_EXPECTED: the call returned RC; errno must be the marker if
 * RC >= 0, else ERR_EXPECTED. */
static int check_return(int kind, long rc, int err_expected)
{
	int e = errno;

	if (rc >= 0 && e != marker(kind)) {
		printf("BAD %s succeeded but errno changed to %d\n", names[kind], e);
		return -1;
	}
	if (rc < 0 && e != err_expected) {
		printf("BAD %s failed with errno %d (%s), expected %d\n", names[kind], e, strerror(e),
		       err_expected);
		return -1;
	}
	return 0;
}

static void on_sigusr1(int sig)
{
	(void)sig;
	sigusr1_seen++;
}

/* Blocks the signals of this kind's own set: SIGUSR1 (unless the kind waits for it) and
 * one real-time signal per kind, so every thread's mask is different. */
static void set_own_mask(int kind, int wants_sigusr1)
{
	sigemptyset(&own_mask);
	if (!wants_sigusr1)
		sigaddset(&own_mask, SIGUSR1);
	sigaddset(&own_mask, SIGUSR2);
	sigaddset(&own_mask, SIGRTMIN + 2 + kind);
	pthread_sigmask(SIG_SETMASK, &own_mask, NULL);
	atomic_fetch_add(&started, 1);
}

static void done(int kind, const sigset_t *mask, const char *where)
{
	check_mask(kind, mask, where);
	atomic_fetch_add(&progress[kind], 1);
}

static void *reader(void *arg)
{
	char c;

	(void)arg;
	set_own_mask(READER, 0);
	for (;;) {
		errno = marker(READER);
		ssize_t n = read(pipe_main[0], &c, 1);
		if (check_return(READER, n, 0) == 0 && n != 1)
			printf("BAD read returned %zd\n", n);
		done(READER, &own_mask, "after read");
	}
	return NULL;
}

static void *acceptor(void *arg)
{
	(void)arg;
	set_own_mask(ACCEPTOR, 0);
	for (;;) {
		errno = marker(ACCEPTOR);
		int c = accept(listen_fd, NULL, NULL);
		check_return(ACCEPTOR, c, 0);
		if (c >= 0)
			close(c);
		done(ACCEPTOR, &own_mask, "after accept");
	}
	return NULL;
}

static void *epoll_woken_thread(void *arg)
{
	struct epoll_event ev;
	uint64_t v;

	(void)arg;
	set_own_mask(EPOLL_WOKEN, 0);
	for (;;) {
		errno = marker(EPOLL_WOKEN);
		int n = epoll_wait(epoll_woken, &ev, 1, -1);
		if (check_return(EPOLL_WOKEN, n, 0) == 0 && n != 1)
			printf("BAD epoll_wait with no timeout returned %d\n", n);
		if (n == 1 && read(event_fd, &v, sizeof(v)) != sizeof(v))
			printf("BAD epoll_wait the eventfd was not readable\n");
		done(EPOLL_WOKEN, &own_mask, "after epoll_wait");
	}
	return NULL;
}

static void *epoll_timed_thread(void *arg)
{
	struct epoll_event ev;

	(void)arg;
	set_own_mask(EPOLL_TIMED, 0);
	for (;;) {
		long t0 = now_ms();
		errno = marker(EPOLL_TIMED);
		int n = epoll_wait(epoll_empty, &ev, 1, TIMED_MS);
		long took = now_ms() - t0;
		if (check_return(EPOLL_TIMED, n, 0) == 0 && n != 0)
			printf("BAD epoll_timeout returned %d on an empty set\n", n);
		if (took < TIMED_MS - 1) /* epoll rounds to the ms; allow that much */
			printf("BAD epoll_timeout lasted %ld ms of %d\n", took, TIMED_MS);
		done(EPOLL_TIMED, &own_mask, "after epoll_wait with timeout");
	}
	return NULL;
}

static long futex(atomic_int *word, int op, int val, const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

static void *futex_woken_thread(void *arg)
{
	(void)arg;
	set_own_mask(FUTEX_WOKEN, 0);
	for (;;) {
		int seen = atomic_load(&futex_word);
		errno = marker(FUTEX_WOKEN);
		long rc = futex(&futex_word, FUTEX_WAIT_PRIVATE, seen, NULL);
		/* EAGAIN: the ticker changed the word between the load and the wait. */
		if (rc < 0 && errno == EAGAIN)
			errno = marker(FUTEX_WOKEN), rc = 0;
		check_return(FUTEX_WOKEN, rc, 0);
		done(FUTEX_WOKEN, &own_mask, "after futex wait");
	}
	return NULL;
}

static void *futex_timed_thread(void *arg)
{
	static atomic_int never_changes;
	const struct timespec timeout = { 0, TIMED_MS * 1000000L };

	(void)arg;
	set_own_mask(FUTEX_TIMED, 0);
	for (;;) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		errno = marker(FUTEX_TIMED);
		long rc = futex(&never_changes, FUTEX_WAIT_PRIVATE, 0, &timeout);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		check_return(FUTEX_TIMED, rc, ETIMEDOUT);
		if (rc == 0)
			printf("BAD futex_timeout woke up with nobody waking it\n");
		long took_ns = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
		if (took_ns < TIMED_MS * 1000000L)
			printf("BAD futex_timeout lasted %ld ns of %d ms\n", took_ns, TIMED_MS);
		done(FUTEX_TIMED, &own_mask, "after futex wait with timeout");
	}
	return NULL;
}

static void *sleeper(void *arg)
{
	const struct timespec req = { 0, TIMED_MS * 1000000L };

	(void)arg;
	set_own_mask(SLEEPER, 0);
	for (;;) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		errno = marker(SLEEPER);
		int rc = nanosleep(&req, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		check_return(SLEEPER, rc, 0);
		long took_ns = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
		if (took_ns < TIMED_MS * 1000000L)
			printf("BAD nanosleep lasted %ld ns of %d ms\n", took_ns, TIMED_MS);
		done(SLEEPER, &own_mask, "after nanosleep");
	}
	return NULL;
}

static void *pauser(void *arg)
{
	(void)arg;
	set_own_mask(PAUSER, 1);
	for (;;) {
		long before = sigusr1_seen;
		errno = marker(PAUSER);
		int rc = pause();
		/* pause() returns only after a handler ran: EINTR, and the handler ran once. */
		if (check_return(PAUSER, rc, EINTR) == 0 && rc >= 0)
			printf("BAD pause returned %d\n", rc);
		if (sigusr1_seen != before + 1)
			printf("BAD pause returned after %ld SIGUSR1 handler runs, expected 1\n",
			       sigusr1_seen - before);
		done(PAUSER, &own_mask, "after pause");
	}
	return NULL;
}

/* SIGUSR2 is sent once to each of the two handler threads; its handler never returns:
 * the thread lives on inside it, blocked in read() or in sigsuspend(). */
static void on_sigusr2(int sig, siginfo_t *si, void *uc)
{
	sigset_t in_handler, wait_mask;
	int kind = pthread_equal(pthread_self(), threads[HANDLER_READ]) ? HANDLER_READ : HANDLER_SUSPEND;
	char c;

	(void)sig;
	(void)si;
	(void)uc;
	pthread_sigmask(SIG_BLOCK, NULL, &in_handler);
	wait_mask = in_handler;
	sigdelset(&wait_mask, SIGUSR1);
	for (;;) {
		if (kind == HANDLER_READ) {
			errno = marker(kind);
			ssize_t n = read(pipe_handler[0], &c, 1);
			if (check_return(kind, n, 0) == 0 && n != 1)
				printf("BAD handler_read returned %zd\n", n);
		} else {
			long before = sigusr1_seen;
			errno = marker(kind);
			int rc = sigsuspend(&wait_mask);
			if (check_return(kind, rc, EINTR) == 0 && rc >= 0)
				printf("BAD handler_sigsuspend returned %d\n", rc);
			if (sigusr1_seen != before + 1)
				printf("BAD handler_sigsuspend returned after %ld SIGUSR1 handler runs, expected 1\n",
				       sigusr1_seen - before);
		}
		done(kind, &in_handler, "inside the SIGUSR2 handler");
	}
}

static void *handler_thread(void *arg)
{
	int kind = (int)(long)arg;

	/* SIGUSR1 stays blocked outside the handler; inside, the suspend kind unblocks it
	 * only for the duration of sigsuspend(). */
	set_own_mask(kind, 0);
	sigset_t allow_usr2;
	sigemptyset(&allow_usr2);
	sigaddset(&allow_usr2, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &allow_usr2, NULL);
	sigdelset(&own_mask, SIGUSR2);
	for (;;)
		pause(); /* until SIGUSR2, whose handler never returns */
	return NULL;
}

static void *ticker(void *arg)
{
	const struct timespec tick = { 0, TICK_MS * 1000000L };
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	sigset_t all;
	uint64_t one = 1;

	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	if (getsockname(listen_fd, (struct sockaddr *)&sa, &len) < 0)
		die("getsockname");
	pthread_kill(threads[HANDLER_READ], SIGUSR2);
	pthread_kill(threads[HANDLER_SUSPEND], SIGUSR2);
	for (;;) {
		nanosleep(&tick, NULL);
		if (write(pipe_main[1], "x", 1) != 1 || write(pipe_handler[1], "x", 1) != 1)
			die("write to a pipe");
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("connect to 127.0.0.1");
		close(c);
		if (write(event_fd, &one, sizeof(one)) != sizeof(one))
			die("write to the eventfd");
		atomic_fetch_add(&futex_word, 1);
		futex(&futex_word, FUTEX_WAKE_PRIVATE, 1, NULL);
		pthread_kill(threads[PAUSER], SIGUSR1);
		pthread_kill(threads[HANDLER_SUSPEND], SIGUSR1);
	}
	return NULL;
}

static void spawn(pthread_t *t, void *(*fn)(void *), long arg)
{
	int rc = pthread_create(t, NULL, fn, (void *)arg);

	if (rc != 0) {
		errno = rc;
		die("pthread_create");
	}
}

void print_progress(void)
{
	printf("progress");
	for (int k = 0; k < NKINDS; k++)
		printf(" %s=%ld", names[k], atomic_load(&progress[k]));
	printf("\n");
}

void start_blockers(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	struct sigaction usr1 = { .sa_handler = on_sigusr1 }, usr2 = { .sa_sigaction = on_sigusr2 };
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t main_mask;
	pthread_t tick;

	/* The main thread and the threads it creates block SIGUSR1/2 until each sets its own. */
	sigemptyset(&main_mask);
	sigaddset(&main_mask, SIGUSR1);
	sigaddset(&main_mask, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &main_mask, NULL);
	sigemptyset(&usr1.sa_mask);
	sigemptyset(&usr2.sa_mask);
	usr2.sa_flags = SA_SIGINFO;
	if (sigaction(SIGUSR1, &usr1, NULL) < 0 || sigaction(SIGUSR2, &usr2, NULL) < 0)
		die("sigaction");
	if (pipe(pipe_main) < 0 || pipe(pipe_handler) < 0)
		die("pipe");
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listen_fd, 16) < 0)
		die("listen on 127.0.0.1");
	event_fd = eventfd(0, 0);
	epoll_woken = epoll_create1(0);
	epoll_empty = epoll_create1(0);
	if (event_fd < 0 || epoll_woken < 0 || epoll_empty < 0 ||
	    epoll_ctl(epoll_woken, EPOLL_CTL_ADD, event_fd, &ev) < 0)
		die("eventfd/epoll");
	spawn(&threads[READER], reader, 0);
	spawn(&threads[ACCEPTOR], acceptor, 0);
	spawn(&threads[EPOLL_WOKEN], epoll_woken_thread, 0);
	spawn(&threads[EPOLL_TIMED], epoll_timed_thread, 0);
	spawn(&threads[FUTEX_WOKEN], futex_woken_thread, 0);
	spawn(&threads[FUTEX_TIMED], futex_timed_thread, 0);
	spawn(&threads[SLEEPER], sleeper, 0);
	spawn(&threads[PAUSER], pauser, 0);
	spawn(&threads[HANDLER_READ], handler_thread, HANDLER_READ);
	spawn(&threads[HANDLER_SUSPEND], handler_thread, HANDLER_SUSPEND);
	while (atomic_load(&started) < NKINDS)
		usleep(1000);
	spawn(&tick, ticker, 0);
}
