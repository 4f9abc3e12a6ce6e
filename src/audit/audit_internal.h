/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the audit layer: the chain link shared by writer and verifier. */
#ifndef SUTURE_AUDIT_AUDIT_INTERNAL_H
#define SUTURE_AUDIT_AUDIT_INTERNAL_H

#include <stddef.h>

#include "audit/audit.h"

/* SHA-256 of the line's bytes (without its newline), lowercase hex, into out (65 bytes). */
void sut_audit_hash(const char *line, size_t len, char out[SUT_AUDIT_HASH_HEX + 1]);
/* The anchor: the "prev" of a file's first line. */
void sut_audit_anchor(char out[SUT_AUDIT_HASH_HEX + 1]);

#endif
