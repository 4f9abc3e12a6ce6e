/* SPDX-License-Identifier: Apache-2.0 */
/* Patch signatures: Ed25519 (OpenSSL libcrypto), keys in PEM files.
 *
 * What is signed is the patch's meaning, not one file's bytes: the canonical bytes are
 * sut_patch_write_mem() of the model with its signature fields cleared. The writer is
 * deterministic, so a verifier re-serialises the model it read and checks the signature
 * over that. Any change to code, data, relocations, symbols, pre-images or metadata
 * changes the canonical bytes and breaks the signature (invariant 4: nothing unverified
 * enters a process).
 *
 * A key is named by its key id: the first 16 hex characters of SHA-256 over the raw
 * 32-byte Ed25519 public key. */
#ifndef SUTURE_PATCH_SIGN_H
#define SUTURE_PATCH_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "patch/patch.h"
#include "util/err.h"

/* The bytes a signature covers (malloc'd into *data). */
int sut_patch_canonical_bytes(const struct sut_patch *p, uint8_t **data, size_t *len,
			      struct sut_err *err);

/* Signs p with the Ed25519 private key in a PEM file, replacing any earlier signature
 * (p->sig, p->sig_len, p->sig_key_id). */
int sut_patch_sign(struct sut_patch *p, const char *private_key_pem_path, struct sut_err *err);

/* Succeeds only if p carries a valid signature by one of the n trusted public keys (PEM
 * files). On success writes the signer's key id (16 hex chars + NUL) to key_id_out when
 * it is not NULL. Fails with "patch is not signed", "signed by unknown key ... (not among
 * N trusted keys)" or "bad signature (patch modified after signing?)". */
int sut_patch_verify(const struct sut_patch *p, const char *const *trusted_pubkey_paths, size_t n,
		     char *key_id_out, struct sut_err *err);

/* Writes a new Ed25519 key pair as PEM: the private key readable by its owner only (0600),
 * the public key 0644. Refuses to overwrite an existing private key file. */
int sut_key_generate(const char *private_path, const char *public_path, struct sut_err *err);

/* Key id of the public key in a PEM file (public or private key), into out (17 bytes). */
int sut_key_id_of_file(const char *pem_path, char *out, struct sut_err *err);

#endif
