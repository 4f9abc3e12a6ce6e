/* SPDX-License-Identifier: Apache-2.0 */
/* prog: one thread calls value(-1), whose unlikely path (in value.cold) waits in
 * wait_for_go() until SIGUSR1: while it waits, its return address is inside value.cold,
 * so the activation of value is live although no address of it lies in value's own bytes.
 * It prints "waiting" then, released, "released value=V". The main thread prints every
 * 20 ms "iter=I value=V", V = value(I): 1000 + I % 100, 2000 + I % 100 once fixed. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int value(int i);

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

__attribute__((cold, noinline)) int wait_for_go(int i)
{
	printf("waiting\n");
	while (!go)
		usleep(10 * 1000);
	return -i;
}

static void *caller(void *a)
{
	printf("released value=%d\n", value(-1));
	return a;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	pthread_t t;
	pthread_create(&t, NULL, caller, NULL);
	for (int i = 0;; i++) {
		printf("iter=%d value=%d\n", i, value(i));
		usleep(20 * 1000);
	}
}
