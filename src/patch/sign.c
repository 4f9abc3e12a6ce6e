/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 signing and verification of patches over their canonical bytes (see sign.h). */
#include "patch/sign.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "patch/patch_format.h"
#include "util/buf.h"

#define OSSL_REASON_MAX 256

/* The most recent OpenSSL error as text in the caller's buf, and the queue emptied so it
 * cannot leak into a later message. Callers pass a compound literal that lives for the
 * message they format: ossl_reason((char[OSSL_REASON_MAX]){0}). */
static const char *ossl_reason(char buf[OSSL_REASON_MAX])
{
	unsigned long e = ERR_get_error();
	if (!e)
		return "unknown OpenSSL error";
	ERR_error_string_n(e, buf, OSSL_REASON_MAX);
	ERR_clear_error();
	return buf;
}

static int key_id(EVP_PKEY *k, char *out, struct sut_err *err)
{
	uint8_t raw[32], md[EVP_MAX_MD_SIZE];
	size_t len = sizeof raw;
	unsigned int mdlen;
	if (EVP_PKEY_get_raw_public_key(k, raw, &len) != 1 || len != sizeof raw ||
	    EVP_Digest(raw, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return sut_errf(err, "cannot compute key id: %s", ossl_reason((char[OSSL_REASON_MAX]){0}));
	sut_hex(md, SUT_KEY_ID_LEN / 2, out);
	return 0;
}

/* Loads an Ed25519 key from a PEM file: the private key when want_private, else the public
 * key (a PEM public key, or the public half of a PEM private key). */
static EVP_PKEY *load_key(const char *path, bool want_private, struct sut_err *err)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		sut_errno(err, "%s", path);
		return NULL;
	}
	EVP_PKEY *k = NULL;
	if (!want_private)
		k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (!k) {
		ERR_clear_error();
		rewind(f);
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	}
	fclose(f);
	if (!k) {
		sut_errf(err, "%s: not a PEM %s key: %s", path, want_private ? "private" : "Ed25519",
			 ossl_reason((char[OSSL_REASON_MAX]){0}));
		return NULL;
	}
	if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		sut_errf(err, "%s: not an Ed25519 key", path);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

int sut_key_id_of_file(const char *pem_path, char *out, struct sut_err *err)
{
	EVP_PKEY *k = load_key(pem_path, false, err);
	if (!k)
		return -1;
	int rc = key_id(k, out, err);
	EVP_PKEY_free(k);
	return rc ? sut_err_wrap(err, "%s", pem_path) : 0;
}

int sut_patch_canonical_bytes(const struct sut_patch *p, uint8_t **data, size_t *len,
			      struct sut_err *err)
{
	struct sut_patch unsigned_p = *p; /* shallow: only the signature fields differ */
	unsigned_p.sig = NULL;
	unsigned_p.sig_len = 0;
	unsigned_p.sig_key_id = NULL;
	return sut_patch_write_mem(&unsigned_p, data, len, err);
}

int sut_patch_sign(struct sut_patch *p, const char *private_key_pem_path, struct sut_err *err)
{
	EVP_PKEY *k = load_key(private_key_pem_path, true, err);
	if (!k)
		return -1;
	uint8_t *msg = NULL, sig[SUT_SIG_ED25519_LEN];
	size_t msglen, siglen = sizeof sig;
	char id[SUT_KEY_ID_LEN + 1];
	int rc = -1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx) {
		sut_errf(err, "cannot sign: %s", ossl_reason((char[OSSL_REASON_MAX]){0}));
		goto out;
	}
	if (key_id(k, id, err) || sut_patch_canonical_bytes(p, &msg, &msglen, err))
		goto out;
	/* Ed25519 is a one-shot scheme: no separate digest, hence the NULL md. */
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, msg, msglen) != 1 || siglen != sizeof sig) {
		sut_errf(err, "cannot sign patch %s: %s", p->id, ossl_reason((char[OSSL_REASON_MAX]){0}));
		goto out;
	}
	free(p->sig);
	free(p->sig_key_id);
	p->sig = sut_xmalloc(siglen);
	memcpy(p->sig, sig, siglen);
	p->sig_len = siglen;
	p->sig_key_id = sut_xstrdup(id);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	free(msg);
	return rc;
}

int sut_patch_verify(const struct sut_patch *p, const char *const *trusted_pubkey_paths, size_t n,
		     char *key_id_out, struct sut_err *err)
{
	if (!p->sig || !p->sig_key_id)
		return sut_errf(err, "patch %s is not signed", p->id);
	EVP_PKEY *signer = NULL;
	for (size_t i = 0; i < n && !signer; i++) {
		char id[SUT_KEY_ID_LEN + 1];
		EVP_PKEY *k = load_key(trusted_pubkey_paths[i], false, err);
		if (!k)
			return sut_err_wrap(err, "trusted key");
		if (key_id(k, id, err)) {
			EVP_PKEY_free(k);
			return sut_err_wrap(err, "%s", trusted_pubkey_paths[i]);
		}
		if (strcmp(id, p->sig_key_id) == 0)
			signer = k;
		else
			EVP_PKEY_free(k);
	}
	if (!signer)
		return sut_errf(err, "patch %s: signed by unknown key %s (not among %zu trusted keys)",
				p->id, p->sig_key_id, n);

	uint8_t *msg = NULL;
	size_t msglen;
	int rc = -1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx) {
		sut_errf(err, "cannot verify: %s", ossl_reason((char[OSSL_REASON_MAX]){0}));
		goto out;
	}
	if (sut_patch_canonical_bytes(p, &msg, &msglen, err))
		goto out;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, signer) != 1) {
		sut_errf(err, "cannot verify patch %s: %s", p->id, ossl_reason((char[OSSL_REASON_MAX]){0}));
		goto out;
	}
	if (EVP_DigestVerify(ctx, p->sig, p->sig_len, msg, msglen) != 1) {
		ERR_clear_error();
		sut_errf(err, "patch %s: bad signature (patch modified after signing?)", p->id);
		goto out;
	}
	if (key_id_out)
		memcpy(key_id_out, p->sig_key_id, SUT_KEY_ID_LEN + 1);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(signer);
	free(msg);
	return rc;
}

/* Writes a PEM key to a new file with the given mode; private keys use O_EXCL so an
 * existing key is never silently replaced. */
static int write_pem(const char *path, EVP_PKEY *k, bool private_key, struct sut_err *err)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (private_key ? O_EXCL : O_TRUNC);
	int fd = open(path, flags, private_key ? 0600 : 0644);
	if (fd < 0)
		return sut_errno(err, "%s", path);
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return sut_errno(err, "%s", path);
	}
	int ok = private_key ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)
			     : PEM_write_PUBKEY(f, k);
	int closed = fclose(f);
	if (ok != 1 || closed != 0) {
		if (ok != 1)
			sut_errf(err, "%s: cannot write key: %s", path, ossl_reason((char[OSSL_REASON_MAX]){0}));
		else
			sut_errno(err, "%s", path);
		unlink(path);
		return -1;
	}
	return 0;
}

int sut_key_generate(const char *private_path, const char *public_path, struct sut_err *err)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k)
		return sut_errf(err, "cannot generate an Ed25519 key: %s", ossl_reason((char[OSSL_REASON_MAX]){0}));
	int rc = write_pem(private_path, k, true, err);
	if (!rc && write_pem(public_path, k, false, err)) {
		unlink(private_path);
		rc = -1;
	}
	EVP_PKEY_free(k);
	return rc;
}
