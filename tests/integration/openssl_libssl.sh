#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A fix to libssl.so.3 (not libcrypto): SSL_set_quiet_shutdown, a 4-byte function in 3.0.20
# whose 5-byte jump must extend into its alignment padding, gains an argument check that
# raises an error through libcrypto (ERR_new, ERR_set_debug, ERR_set_error: bound through
# libssl's own GOT slots). Applied to a running libssl user and to s_server under the TLS
# client loop: the user's output flips from accepted to refused with the error text, no
# handshake fails, and revert brings the old behaviour back. The fix adds 4 lines and a new
# __func__ string, which renumbers the compiler's __func__.N locals: neither the __LINE__
# drift nor the renumbering may drag in other functions (SSL_peek did, before constants
# were matched by content): exactly one function is replaced.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/lib.sh"
openssl_setup
gcc -O2 -Wall -Wextra -Werror -I"$OSSL_TREE/include" -o "$T/quiet" "$TOP/tests/openssl/quiet.c" \
	-L"$OSSL_TREE" -lssl -lcrypto -Wl,-rpath,"$OSSL_TREE" 2>"$T/quiet.cc.log" ||
	{ cat "$T/quiet.cc.log" >&2; fail "cannot compile tests/openssl/quiet.c"; }

start_bg "$T/quiet.out" "$T/quiet"
QUIET=$BG_PID
wait_for_line "$T/quiet.out" '^iter=2 quiet=5 accepted$'
start_tls_server
start_tls_client

sut "build of the libssl fix" build --src "$OSSL_TREE" --diff "$TOP/tests/openssl/libssl-quiet-shutdown.diff" \
	--target libssl.so.3 --build-cmd "$OSSL_BUILD_CMD" --id ssl-quiet \
	--expect-build-id "$LIBSSL_BUILD_ID" -o "$T/ssl-quiet.suture"
sut "inspect" inspect "$T/ssl-quiet.suture" --json
jq -e '[.functions[].name] == ["SSL_set_quiet_shutdown"]' "$T/last.out" >/dev/null ||
	fail "expected SSL_set_quiet_shutdown alone: $(jq -c '[.functions[] | {name, size}]' "$T/last.out")"
jq -e '.functions[0].size == 5' "$T/last.out" >/dev/null ||
	fail "the 4-byte function should be replaced over 5 bytes (with its padding): $(jq -c '.functions[0]' "$T/last.out")"

sut "apply" apply -p "$QUIET" -p "$SERVER_PID" "$T/ssl-quiet.suture"
settled_output "$T/quiet.out" '^iter=[0-9]+ quiet=0 refused err=passed invalid argument$' 'accepted'
assert_applied "$SERVER_PID" ssl-quiet
sut "revert" revert -p "$QUIET" -p "$SERVER_PID" ssl-quiet
settled_output "$T/quiet.out" '^iter=[0-9]+ quiet=5 accepted$' 'refused'
stop_tls_client
assert_alive "$SERVER_PID"
assert_alive "$QUIET"
