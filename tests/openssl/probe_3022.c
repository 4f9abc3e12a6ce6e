/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A long-running process that uses OpenSSL for real and shows, from outside, whether two
 * bugs fixed in OpenSSL 3.0.22 (open in Debian 12's 3.0.20-1~deb12u2) are present in the
 * library it has mapped. Every interval it runs each trigger in-process and prints:
 *
 *   63074 vulnerable|fixed   a CMP server context keeps the extraCerts of a rejected request
 *   75803 vulnerable|fixed   EVP_Cipher(ctx, out, NULL, 0) accepts a forged AEAD tag
 *                            (ChaCha20-Poly1305 and AES-128-OCB; vulnerable if either does)
 *
 * followed by "round N". A trigger that cannot decide prints "CASE error: WHY".
 *
 * 63074: one CMP server context lives as long as the probe (a live patch stops further
 * growth but does not shrink what is already cached, so each round compares the count of
 * its untrusted certificates before and after one rejected request). The client has a wrong
 * PBM secret and a fresh self-signed certificate in its extraCerts each round.
 *
 * usage: probe_3022 [--once] [--interval-ms N]
 */
#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum verdict { VULNERABLE, FIXED, ERROR };

static const char *verdict_name[] = { "vulnerable", "fixed", "error" };
static char why[256];

static enum verdict error_because(const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char ebuf[160] = "";

	if (e != 0)
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
	snprintf(why, sizeof(why), "%s%s%s", what, e ? ": " : "", ebuf);
	return ERROR;
}

/* ---- 63074 ---- */

static OSSL_CMP_SRV_CTX *srv;
static EVP_PKEY *client_key;

static int srv_genm(OSSL_CMP_SRV_CTX *ctx, const OSSL_CMP_MSG *genm,
		    const STACK_OF(OSSL_CMP_ITAV) *in, STACK_OF(OSSL_CMP_ITAV) **out)
{
	(void)ctx;
	(void)genm;
	(void)in;
	/* never reached for the probe's requests (they are rejected before), but a server
	 * context needs its general-message handler */
	*out = sk_OSSL_CMP_ITAV_new_null();
	return *out != NULL;
}

/* A fresh self-signed certificate (new serial each call): the server adds extraCerts with
 * X509_ADD_FLAG_NO_DUP, so the same certificate twice would not show growth. */
static X509 *fresh_cert(void)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	if (x == NULL || n == NULL
	    || !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"probe", -1, -1, 0)
	    || !X509_set_version(x, X509_VERSION_3)
	    || !ASN1_INTEGER_set(X509_get_serialNumber(x), serial++)
	    || !X509_set_subject_name(x, n) || !X509_set_issuer_name(x, n)
	    || !X509_gmtime_adj(X509_getm_notBefore(x), 0)
	    || !X509_gmtime_adj(X509_getm_notAfter(x), 3600)
	    || !X509_set_pubkey(x, client_key) || !X509_sign(x, client_key, EVP_sha256())) {
		X509_free(x);
		x = NULL;
	}
	X509_NAME_free(n);
	return x;
}

static int setup_63074(void)
{
	client_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	srv = OSSL_CMP_SRV_CTX_new(NULL, NULL);
	if (client_key == NULL || srv == NULL
	    || !OSSL_CMP_SRV_CTX_init(srv, NULL, NULL, NULL, srv_genm, NULL, NULL, NULL))
		return 0;
	OSSL_CMP_CTX *sctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);
	static const unsigned char secret[] = "server-secret";
	return OSSL_CMP_CTX_set1_secretValue(sctx, secret, sizeof(secret) - 1)
	       && OSSL_CMP_CTX_set_log_cb(sctx, NULL);
}

static int quiet_log(const char *func, const char *file, int line, OSSL_CMP_severity level,
		     const char *msg)
{
	(void)func; (void)file; (void)line; (void)level; (void)msg;
	return 1;
}

static enum verdict trigger_63074(void)
{
	static const unsigned char wrong[] = "wrong-secret", ref[] = "probe-client";
	OSSL_CMP_CTX *sctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);
	OSSL_CMP_CTX *c = OSSL_CMP_CTX_new(NULL, NULL);
	STACK_OF(X509) *extra = sk_X509_new_null();
	X509 *cert = fresh_cert();
	enum verdict v;

	OSSL_CMP_CTX_set_log_cb(sctx, quiet_log);
	if (c == NULL || extra == NULL || cert == NULL || !sk_X509_push(extra, cert)
	    || !OSSL_CMP_CTX_set_log_cb(c, quiet_log)
	    || !OSSL_CMP_CTX_set1_referenceValue(c, ref, sizeof(ref) - 1)
	    || !OSSL_CMP_CTX_set1_secretValue(c, wrong, sizeof(wrong) - 1)
	    || !OSSL_CMP_CTX_set1_extraCertsOut(c, extra)
	    || !OSSL_CMP_CTX_set_transfer_cb(c, OSSL_CMP_CTX_server_perform)
	    || !OSSL_CMP_CTX_set_transfer_cb_arg(c, srv)) {
		if (sk_X509_num(extra) == 0)
			X509_free(cert);
		v = error_because("cannot set up the CMP client");
		goto out;
	}
	int before = sk_X509_num(OSSL_CMP_CTX_get0_untrusted(sctx));
	STACK_OF(OSSL_CMP_ITAV) *res = OSSL_CMP_exec_GENM_ses(c);
	int after = sk_X509_num(OSSL_CMP_CTX_get0_untrusted(sctx));
	if (res != NULL) {
		sk_OSSL_CMP_ITAV_pop_free(res, OSSL_CMP_ITAV_free);
		v = error_because("the server accepted a request with a wrong secret");
	} else {
		v = after > (before < 0 ? 0 : before) ? VULNERABLE : FIXED;
	}
out:
	sk_X509_pop_free(extra, X509_free);
	OSSL_CMP_CTX_free(c);
	return v;
}

/* ---- 75803 ---- */

/* 1 when EVP_Cipher(ctx, out, NULL, 0) accepts a bogus tag after AAD, 0 when it refuses,
 * -1 when the trigger could not run. */
static int empty_final_accepts(const char *name, int keylen, int ivlen)
{
	static const unsigned char key[32] = "0123456789abcdef0123456789abcde";
	static const unsigned char iv[16] = "nonce-nonce-non";
	static const unsigned char aad[] = "header that the tag must cover";
	unsigned char tag[16], out[32];
	int l, r = -1;
	EVP_CIPHER *ciph = EVP_CIPHER_fetch(NULL, name, NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	memset(tag, 0x5a, sizeof(tag));
	(void)keylen;
	if (ciph != NULL && ctx != NULL && EVP_CipherInit_ex2(ctx, ciph, NULL, NULL, 0, NULL)
	    && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, ivlen, NULL) > 0
	    && EVP_CipherInit_ex2(ctx, NULL, key, iv, 0, NULL)
	    && EVP_CipherUpdate(ctx, NULL, &l, aad, sizeof(aad))
	    && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, sizeof(tag), tag) > 0)
		r = EVP_Cipher(ctx, out, NULL, 0) >= 0 ? 1 : 0;
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(ciph);
	return r;
}

static enum verdict trigger_75803(void)
{
	int chacha = empty_final_accepts("ChaCha20-Poly1305", 32, 12);
	int ocb = empty_final_accepts("AES-128-OCB", 16, 12);

	if (chacha < 0 || ocb < 0)
		return error_because(chacha < 0 ? "ChaCha20-Poly1305 trigger failed" : "AES-128-OCB trigger failed");
	return chacha || ocb ? VULNERABLE : FIXED;
}

static void report(const char *name, enum verdict (*trigger)(void))
{
	enum verdict v;

	ERR_clear_error();
	v = trigger();
	if (v == ERROR)
		printf("%s error: %s\n", name, why);
	else
		printf("%s %s\n", name, verdict_name[v]);
	ERR_clear_error();
}

int main(int argc, char **argv)
{
	int once = 0, interval_ms = 500;
	unsigned long round;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0)
			once = 1;
		else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc)
			interval_ms = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: probe_3022 [--once] [--interval-ms N]\n");
			return 2;
		}
	}
	if (!setup_63074()) {
		fprintf(stderr, "probe_3022: cannot set up the CMP server context\n");
		return 1;
	}
	printf("probe pid %d, %s\n", (int)getpid(), OpenSSL_version(OPENSSL_VERSION));
	for (round = 1;; round++) {
		report("63074", trigger_63074);
		report("75803", trigger_75803);
		printf("round %lu\n", round);
		fflush(stdout);
		if (once)
			return 0;
		struct timespec ts = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
}
