/* SPDX-License-Identifier: Apache-2.0 */
/* A long-running libssl user for the libssl patch test: every 100 ms it asks
 * SSL_set_quiet_shutdown() for an out-of-range mode (5) and prints what stuck:
 * "quiet=5 accepted" while the 3.0.20 code takes anything, "quiet=0 refused err=..." once
 * the fix (tests/openssl/libssl-quiet-shutdown.diff) validates the argument and raises an
 * error through libcrypto's ERR_* functions. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	if (!ctx)
		return 1;
	for (int i = 0;; i++) {
		SSL *ssl = SSL_new(ctx);
		if (!ssl)
			return 1;
		ERR_clear_error();
		SSL_set_quiet_shutdown(ssl, 5);
		int q = SSL_get_quiet_shutdown(ssl);
		unsigned long e = ERR_get_error();
		if (q == 5)
			printf("iter=%d quiet=5 accepted\n", i);
		else
			printf("iter=%d quiet=%d refused err=%s\n", i, q,
			       e ? ERR_reason_error_string(e) : "none");
		SSL_free(ssl);
		usleep(100 * 1000);
	}
}
