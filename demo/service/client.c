/* SPDX-License-Identifier: Apache-2.0 */
/* client for ticketd.
 *   client PORT take N   connects, asks for N tickets, prints each answer and a verdict:
 *                        whether the server kept to the quota it announced.
 *   client PORT watch    keeps one connection and sends PING every 200 ms, printing each
 *                        answer, until killed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_to(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("client: connect to 127.0.0.1");
		exit(1);
	}
	return fd;
}

/* Sends one request line and reads one answer line into buf; 0 on success. */
static int ask(FILE *in, int fd, const char *req, char *buf, int len)
{
	if (dprintf(fd, "%s\n", req) < 0 || !fgets(buf, len, in))
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int take(FILE *in, int fd, int n)
{
	char buf[128];
	int granted = 0, limit = 0;

	for (int i = 1; i <= n; i++) {
		int num, lim;

		if (ask(in, fd, "TAKE", buf, sizeof(buf)) < 0) {
			fprintf(stderr, "client: connection lost\n");
			return 1;
		}
		printf("  TAKE #%d -> %s\n", i, buf);
		if (sscanf(buf, "OK ticket %d of %d", &num, &lim) == 2)
			granted++, limit = lim;
		else if (sscanf(buf, "DENIED quota of %d", &lim) == 1)
			limit = lim;
	}
	if (granted > limit)
		printf("  => %d tickets granted on a quota of %d: the quota is NOT enforced\n", granted, limit);
	else
		printf("  => %d tickets granted on a quota of %d: the quota is enforced\n", granted, limit);
	return 0;
}

static int watch(FILE *in, int fd)
{
	char buf[128];

	for (;;) {
		if (ask(in, fd, "PING", buf, sizeof(buf)) < 0) {
			printf("connection lost\n");
			return 1;
		}
		printf("%s\n", buf);
		usleep(200 * 1000);
	}
}

int main(int argc, char **argv)
{
	int fd;
	FILE *in;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3 || (strcmp(argv[2], "watch") != 0 && (strcmp(argv[2], "take") != 0 || argc < 4))) {
		fprintf(stderr, "usage: client PORT take N | client PORT watch\n");
		return 2;
	}
	fd = connect_to(atoi(argv[1]));
	in = fdopen(fd, "r");
	if (!in) {
		perror("client: fdopen");
		return 1;
	}
	return strcmp(argv[2], "watch") == 0 ? watch(in, fd) : take(in, fd, atoi(argv[3]));
}
