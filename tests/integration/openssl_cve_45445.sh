#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CVE-2026-45445 (AES-OCB ignores the IV on the EVP_Cipher() path), the real upstream fix,
# built against the cached pristine OpenSSL 3.0.20 and patched into a running probe and a
# running `openssl s_server`. The fix adds 13 lines, which shifts __LINE__ (ERR_raise) in
# every later function of cipher_aes_ocb.c: only aes_ocb_cipher of that file may be replaced,
# not its namesake in crypto/evp/e_aes.c, and not the functions below it.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/lib.sh"
run_cve_case 45445 "aes_ocb_cipher"
[ "$(function_field 45445 aes_ocb_cipher file)" = cipher_aes_ocb.c ] ||
	fail "aes_ocb_cipher is not the one of cipher_aes_ocb.c: $(function_field 45445 aes_ocb_cipher file)"
