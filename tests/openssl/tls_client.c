/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A TLS client loop that counts failed handshakes against a server being live-patched.
 * It connects to HOST:PORT again and again; each round is one full TLS handshake, an HTTP
 * request ("GET / HTTP/1.0", which `openssl s_server -www` answers) and the reading of the
 * whole answer, then a clean close. It stops on SIGTERM/SIGINT or after --count handshakes
 * and prints one JSON line: {"handshakes": N, "failures": N}. The first failures are
 * described on standard error.
 *
 * Invariant: every round is counted exactly once, as a handshake or as a failure; the stop
 * signal is taken between rounds only, so it never cuts a round short.
 *
 * usage: tls_client HOST PORT [--count N]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* The stop signals are blocked for the whole run and only looked at between rounds: a
 * handler would interrupt the round under way (socket calls with SO_RCVTIMEO fail with
 * EINTR even under SA_RESTART), and that round would count as a failed handshake the
 * server never caused. */
static int stop_requested(void)
{
	sigset_t pending;

	return sigpending(&pending) == 0 &&
	       (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
}

static int tcp_connect(const char *host, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 10, 0 };	/* a stuck server shows up as a failure, not a hang */
	int fd;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One round; returns NULL on success, else what failed. */
static const char *one_round(SSL_CTX *ctx, const char *host, int port)
{
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	char buf[4096];
	size_t total = 0;
	const char *failed = NULL;
	int fd = tcp_connect(host, port), n;
	SSL *ssl;

	if (fd < 0)
		return "TCP connect failed";
	ssl = SSL_new(ctx);
	if (ssl == NULL || !SSL_set_fd(ssl, fd))
		failed = "SSL_new failed";
	else if (SSL_connect(ssl) != 1)
		failed = "TLS handshake failed";
	else if (SSL_write(ssl, req, sizeof(req) - 1) != (int)sizeof(req) - 1)
		failed = "writing the request failed";
	else {
		while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0)
			total += (size_t)n;
		/* s_server -www answers "HTTP/1.0 200 ok" and closes; an empty answer is a failure */
		if (total == 0)
			failed = "the server sent no answer";
		else
			SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	close(fd);
	return failed;
}

int main(int argc, char **argv)
{
	unsigned long handshakes = 0, failures = 0, count = 0;
	sigset_t stops;
	SSL_CTX *ctx;
	const char *why;
	int port;

	if (argc < 3) {
		fprintf(stderr, "usage: tls_client HOST PORT [--count N]\n");
		return 2;
	}
	port = atoi(argv[2]);
	if (argc >= 5 && strcmp(argv[3], "--count") == 0)
		count = strtoul(argv[4], NULL, 10);
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigprocmask(SIG_BLOCK, &stops, NULL);
	signal(SIGPIPE, SIG_IGN);

	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		fprintf(stderr, "tls_client: SSL_CTX_new failed\n");
		return 1;
	}
	/* The server's certificate is a throw-away self-signed one: the test is about
	 * completing handshakes, not about trust. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* No session resumption: every round is a full handshake. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

	while (!stop_requested() && (count == 0 || handshakes + failures < count)) {
		why = one_round(ctx, argv[1], port);
		if (why == NULL) {
			handshakes++;
			continue;
		}
		failures++;
		if (failures <= 5) {
			fprintf(stderr, "tls_client: round %lu: %s\n", handshakes + failures, why);
			ERR_print_errors_fp(stderr);
		}
		ERR_clear_error();
	}
	printf("{\"handshakes\": %lu, \"failures\": %lu}\n", handshakes, failures);
	SSL_CTX_free(ctx);
	return 0;
}
