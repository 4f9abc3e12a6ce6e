/* SPDX-License-Identifier: Apache-2.0 */
/* prog: two threads resume inside the first five bytes of a function the fix replaces:
 *   caller  calls entry(wait_go): while wait_go waits (until SIGUSR1), its return address
 *           is entry+3. Prints "caller waiting", then "caller done".
 *   spinner runs spin() (a loop at spin+2) and takes SIGUSR2 there; the handler waits
 *           (until SIGWINCH), so the PC saved in its signal frame is spin+2. Prints
 *           "spinner in handler", then leaves spin with siglongjmp: "spinner done".
 * The main thread prints every 20 ms "iter=I gen=G", G = entry(nothing): 1, 2 once fixed. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int entry(void (*fn)(void));
void spin(void);

static volatile sig_atomic_t go, go_spinner;
static sigjmp_buf out;

static void on_go(int sig)
{
	if (sig == SIGUSR1)
		go = 1;
	else
		go_spinner = 1;
}

static void wait_go(void)
{
	printf("caller waiting\n");
	while (!go)
		usleep(10 * 1000);
}

static void nothing(void)
{
}

static void on_usr2(int sig)
{
	(void)sig;
	printf("spinner in handler\n");
	while (!go_spinner)
		usleep(10 * 1000);
	siglongjmp(out, 1);
}

static void *caller(void *a)
{
	entry(wait_go);
	printf("caller done\n");
	return a;
}

static void *spinner(void *a)
{
	if (!sigsetjmp(out, 1))
		spin();
	printf("spinner done\n");
	return a;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_go);
	signal(SIGWINCH, on_go);
	struct sigaction sa = {0};
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &s, NULL); /* they go to the main thread */
	pthread_t c, sp;
	pthread_create(&c, NULL, caller, NULL);
	pthread_create(&sp, NULL, spinner, NULL);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	usleep(100 * 1000);
	pthread_kill(sp, SIGUSR2);
	for (int i = 0;; i++) {
		printf("iter=%d gen=%d\n", i, entry(nothing));
		usleep(20 * 1000);
	}
}
