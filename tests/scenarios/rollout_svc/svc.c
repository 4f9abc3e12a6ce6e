/* SPDX-License-Identifier: Apache-2.0 */
/* A tiny TCP service: listens on 127.0.0.1 (a free port, printed as "port=N"), answers
 * every connection with one line made by reply() and closes it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tag.h"

__attribute__((noinline)) int reply(char *buf, size_t cap, unsigned long n)
{
	return snprintf(buf, cap, "status=ok n=%lu\n", n);
}

int main(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 16) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &al) < 0) {
		perror("svc");
		return 1;
	}
	printf("port=%d tag=%s\n", ntohs(a.sin_port), tag);
	fflush(stdout);
	for (unsigned long n = 1;; n++) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		char buf[128];
		int len = reply(buf, sizeof buf, n);
		if (len > 0 && write(c, buf, (size_t)len) < 0)
			perror("svc: write");
		close(c);
	}
}
