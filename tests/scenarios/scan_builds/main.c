/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "rate=R VERSION" every 100 ms until killed. With the argument "listen" it first
 * listens on a TCP socket bound to 0.0.0.0 (the test runs it in a network namespace of
 * its own, so nothing outside can reach it). */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char *crypto_version(void);
int crypto_rate(void);

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "listen")) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET};
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4) < 0) {
			perror("listen");
			return 1;
		}
		printf("listening\n");
	}
	for (;;) {
		printf("rate=%d %s\n", crypto_rate(), crypto_version());
		usleep(100 * 1000);
	}
}
