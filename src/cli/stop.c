/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/stop.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static sigset_t held;
static atomic_int first_sig, hard_stop;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int inflight;

/* stderr through write(2): the message must not wait behind a worker's stdio lock */
static void say(const char *msg)
{
	ssize_t n = write(STDERR_FILENO, msg, strlen(msg));
	(void)n;
}

static void *signal_thread(void *arg)
{
	(void)arg;
	for (unsigned count = 1;; count++) {
		int sig;
		if (sigwait(&held, &sig) != 0)
			continue;
		char msg[256];
		const char *name = sigabbrev_np(sig);
		if (count == 1) {
			atomic_store(&first_sig, sig);
			snprintf(msg, sizeof msg,
				 "suture: SIG%s: finishing the transactions under way, starting no "
				 "new one (again: stop after the current transaction)\n",
				 name ? name : "?");
		} else if (count == 2) {
			atomic_store(&hard_stop, 1);
			pthread_mutex_lock(&mu);
			int n = inflight;
			pthread_mutex_unlock(&mu);
			snprintf(msg, sizeof msg,
				 "suture: SIG%s again: stopping when the %d transaction%s under way "
				 "end%s\n",
				 name ? name : "?", n, n == 1 ? "" : "s", n == 1 ? "s" : "");
		} else {
			snprintf(msg, sizeof msg,
				 "suture: SIG%s: still waiting for the transaction under way (it "
				 "cannot be cut short safely)\n",
				 name ? name : "?");
		}
		say(msg);
	}
	return NULL;
}

void cli_stop_init(void)
{
	sigemptyset(&held);
	static const int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(&held, sigs[i]);
	pthread_sigmask(SIG_BLOCK, &held, NULL);
	pthread_t t;
	if (pthread_create(&t, NULL, signal_thread, NULL) == 0)
		pthread_detach(t);
	/* without the thread the signals stay blocked: held until exit, which is safe */
}

bool cli_stop_requested(void)
{
	return atomic_load(&first_sig) != 0;
}

int cli_stop_signal(void)
{
	return atomic_load(&first_sig);
}

bool cli_txn_start(void)
{
	pthread_mutex_lock(&mu);
	bool ok = !atomic_load(&hard_stop);
	if (ok)
		inflight++;
	pthread_mutex_unlock(&mu);
	return ok;
}

void cli_txn_end(void)
{
	pthread_mutex_lock(&mu);
	inflight--;
	pthread_mutex_unlock(&mu);
}
