#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The four OpenSSL CVE patches together in a running probe and `openssl s_server` of the
# cached OpenSSL 3.0.20, while a TLS client loop handshakes with the server all along:
# applied in one command, reverted one by one in another order, applied one by one,
# reverted in one command, then OSSL_CYCLES (default 10) more apply/revert cycles of all
# four. After every step the probe shows exactly the applied fixes; no handshake fails.
# (34182 is built without its error-string hunk: see tests/openssl/pending/cve_34182.sh.)
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/lib.sh"
openssl_setup
awk '/^--- a\//{ skip = ($2 == "a/crypto/cms/cms_err.c") } !skip' "$(cve_patch 34182)" >"$T/34182-core.patch"
for n in $OSSL_CASES; do
	if [ "$n" = 34182 ]; then build_cve "$n" "$T/34182-core.patch"; else build_cve "$n"; fi
done
ALL="$T/cve-45445.suture $T/cve-42770.suture $T/cve-45447.suture $T/cve-34182.suture"
IDS="cve-45445 cve-42770 cve-45447 cve-34182"

start_probe
start_tls_server
start_tls_client
expect_probe "$(all_cases vulnerable)"

# state "N..." : the cases N are fixed in the probe and applied in both processes, the
# others vulnerable and not applied.
state() {
	local c want="" ids=""
	for c in $OSSL_CASES; do
		case " $1 " in
		*" $c "*) want+="$c=fixed "; ids+="cve-$c " ;;
		*) want+="$c=vulnerable " ;;
		esac
	done
	expect_probe "$want"
	assert_applied "$PROBE_PID" "$ids"
	assert_applied "$SERVER_PID" "$ids"
}

# shellcheck disable=SC2086
apply_patches "apply of all four" $ALL
state "45445 42770 45447 34182"
revert_patches "revert of 45447" cve-45447;  state "45445 42770 34182"
revert_patches "revert of 45445" cve-45445;  state "42770 34182"
revert_patches "revert of 34182" cve-34182;  state "42770"
revert_patches "revert of 42770" cve-42770;  state ""

applied=""
for n in 34182 45447 42770 45445; do
	apply_patches "apply of $n" "$T/cve-$n.suture"
	applied+=" $n"; state "$applied"
done
# shellcheck disable=SC2086
revert_patches "revert of all four" cve-42770 cve-34182 cve-45445 cve-45447
state ""

cycles=${OSSL_CYCLES:-10}
for ((i = 1; i <= cycles; i++)); do
	# shellcheck disable=SC2086
	apply_patches "apply of all four (cycle $i)" $ALL
	# shellcheck disable=SC2086
	revert_patches "revert of all four (cycle $i)" $IDS
done
state ""

stop_tls_client
assert_alive "$SERVER_PID"
note "freeze times (ms):"
grep -o 'freeze [0-9.]* ms' "$T/freeze.log" | awk '{ n++; s += $2; if ($2 > m) m = $2 }
	END { printf "    %d freezes, mean %.3f, max %.3f\n", n, s / n, m }' >&2
