/* SPDX-License-Identifier: Apache-2.0 */
/* ticketd: a small TCP service on 127.0.0.1. Each connection gets a quota of tickets from
 * libquota.so and speaks a line protocol:
 *   TAKE -> "OK ticket N of LIMIT" or "DENIED quota of LIMIT used"
 *   PING -> "PONG conn=C seq=S" (C: the server's number for this connection, S: its
 *           request count), which shows a connection is still the same one being served.
 * Usage: ticketd [PORT]  (default 0: the kernel picks a free port, printed on stdout as
 * "listening on 127.0.0.1:PORT"). One thread per connection; runs until killed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "quota.h"

#define TICKETS_PER_CLIENT 3

struct conn {
	int fd;
	int id;
};

static void *serve(void *arg)
{
	struct conn *c = arg;
	struct quota q;
	char line[128];
	int seq = 0;
	FILE *in = fdopen(c->fd, "r");

	if (!in) {
		close(c->fd);
		free(c);
		return NULL;
	}
	quota_init(&q, TICKETS_PER_CLIENT);
	while (fgets(line, sizeof(line), in)) {
		seq++;
		if (strncmp(line, "TAKE", 4) == 0) {
			int n = quota_take(&q);

			if (n)
				dprintf(c->fd, "OK ticket %d of %d\n", n, q.limit);
			else
				dprintf(c->fd, "DENIED quota of %d used\n", q.limit);
		} else if (strncmp(line, "PING", 4) == 0) {
			dprintf(c->fd, "PONG conn=%d seq=%d\n", c->id, seq);
		} else {
			dprintf(c->fd, "ERROR unknown request\n");
		}
	}
	printf("connection %d closed\n", c->id);
	fclose(in);
	free(c);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int one = 1, next_id = 1;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	setvbuf(stdout, NULL, _IOLBF, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(argc > 1 ? atoi(argv[1]) : 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
		perror("ticketd: listen on 127.0.0.1");
		return 1;
	}
	printf("listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		struct conn *c;
		pthread_t t;

		if (fd < 0)
			continue;
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->id = next_id++;
		printf("connection %d opened\n", c->id);
		if (pthread_create(&t, NULL, serve, c) != 0) {
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
}
