#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# suture build names the inlined function even when it has no symbol of its own:
#   suture build ... --diff tests/openssl/CVE-2026-42770.patch --target libcrypto.so.3
#   suture inspect: "dh_set_peer  dh_exch.c ... changed" — the reason does not say that
#   dh_set_peer is replaced because it contains the inlined dh_match_params.
# Issue 3 asks that inspect says so. dh_match_params is inlined in both compilations and has
# no symbol, so the relation must come from elsewhere (e.g. the changed source lines fall in
# dh_match_params' body and the compiled callers of it, found from the source's call graph
# or from DW_TAG_inlined_subroutine when the comparison compiles add -g).
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/lib.sh"
openssl_setup
build_cve 42770
assert_functions 42770 "dh_set_peer"
reason=$(function_field 42770 dh_set_peer reason)
echo "$reason" | grep -q dh_match_params ||
	fail "the reason for replacing dh_set_peer is '$reason'; it should name the inlined dh_match_params"
