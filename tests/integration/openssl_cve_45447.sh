#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CVE-2026-45447 (use-after-free in PKCS7_verify), the real upstream fix, patched into a
# running probe and `openssl s_server` of the cached OpenSSL 3.0.20: exactly the exported
# PKCS7_verify (2.3 KB, calling hidden ossl_pkcs7_* helpers) is replaced. The probe sees
# the content BIO freed inside PKCS7_verify while vulnerable, and no longer once patched.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/lib.sh"
run_cve_case 45447 "PKCS7_verify"
