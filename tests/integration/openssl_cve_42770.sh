#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CVE-2026-42770 (DHX peer validation ignores q), the real upstream fix, patched into a
# running probe and `openssl s_server` of the cached OpenSSL 3.0.20. The changed function,
# static dh_match_params, has no symbol in libcrypto: it is inlined into dh_set_peer, which
# must be the one function replaced. (That inspect names dh_match_params as the reason is
# checked by tests/openssl/pending/cve_42770_inline_reason.sh.)
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/lib.sh"
run_cve_case 42770 "dh_set_peer"
[ "$(function_field 42770 dh_set_peer file)" = dh_exch.c ] ||
	fail "dh_set_peer is not bound to dh_exch.c: $(function_field 42770 dh_set_peer file)"
