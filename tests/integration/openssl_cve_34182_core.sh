#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CVE-2026-34182 (CMS AuthEnvelopedData may accept forged messages) without the hunk that
# adds the new reason's text to the error-string table of crypto/cms/cms_err.c (the whole diff
# is tested by openssl_cve_34182.sh). What remains is the signature change alone:
# ossl_cms_EncryptedContent_init_bio gains a parameter and its three callers change (the two
# static ones are inlined into ossl_cms_EnvelopedData_init_bio). All four must be in one patch
# and switch in one freeze in each process, and the forged one-byte-tag message must stop
# decrypting; no function outside the signature change is replaced.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/lib.sh"
# The upstream diff minus its crypto/cms/cms_err.c section.
awk '/^--- a\//{ skip = ($2 == "a/crypto/cms/cms_err.c") } !skip' "$(cve_patch 34182)" >"$T/34182-core.patch"
grep -q 'cms_err.c' "$T/34182-core.patch" && fail "the cms_err.c hunk was not removed"
run_cve_case 34182 "ossl_cms_EncryptedContent_init_bio ossl_cms_EncryptedData_init_bio \
ossl_cms_EnvelopedData_init_bio ossl_cms_AuthEnvelopedData_init_bio" "$T/34182-core.patch"
