#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Soak: `openssl s_server` of the cached OpenSSL 3.0.20 under continuous load from the TLS
# client loop, while the CVE-2026-45445 patch (built once) is applied and reverted
# SOAK_ROUNDS times (default 10,000). Every SOAK_SAMPLE rounds (default 1,000) the server's
# mapping count, resident memory (VmRSS) and open descriptors are sampled.
#
# Passes when: every apply and revert succeeded; the client saw zero failed requests; the
# server is alive and ends with no patch applied; and the last sample does not exceed the
# first by more than SOAK_RSS_MARGIN_KB of VmRSS (default 1024) and not at all in mappings
# or non-socket descriptors. The first sample is taken after one warm-up round under load, so that the
# registry mapping (created by the first apply and kept on purpose) and the server's own
# warm-up are not counted as growth. Prints the rounds per second and the freeze times.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/lib.sh"
ROUNDS=${SOAK_ROUNDS:-10000}
SAMPLE=${SOAK_SAMPLE:-1000}
RSS_MARGIN_KB=${SOAK_RSS_MARGIN_KB:-1024}

openssl_setup
# The run takes minutes: a private copy keeps the binary under test the same throughout,
# even if out/suture is rebuilt meanwhile.
cp "$SUTURE" "$T/suture"
SUTURE=$T/suture
build_cve 45445
start_tls_server
start_tls_client
wait_for_server_load
# keep_freeze: append the freeze time suture reported for the last command to $T/freezes.
keep_freeze() {
	local msg; msg=$(<"$T/last.err")
	[[ $msg =~ freeze\ ([0-9.]+)\ ms ]] && echo "${BASH_REMATCH[1]}" >>"$T/freezes"
	return 0
}
# soak_round N [check]: apply then revert; with "check", status must show the patch
# applied in between (every sampled round), so the rounds are not silently doing nothing.
soak_round() {
	sut "apply of cve-45445 (round $1)" apply -p "$SERVER_PID" "$T/cve-45445.suture"
	keep_freeze
	[ "${2:-}" != check ] || assert_applied "$SERVER_PID" cve-45445
	sut "revert of cve-45445 (round $1)" revert -p "$SERVER_PID" cve-45445
	keep_freeze
}

soak_round 0 check
note "round      maps  rss_kb  fds  (server pid $SERVER_PID)"
sample_server 0 | tee "$T/samples" | sed 's/^/  /' >&2
t0=$(date +%s%N)
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % SAMPLE == 0 || r == ROUNDS)); then
		soak_round "$r" check
		sample_server "$r" | tee -a "$T/samples" | sed 's/^/  /' >&2
	else
		soak_round "$r"
	fi
done
ms=$((($(date +%s%N) - t0) / 1000000))
note "$ROUNDS apply/revert rounds in $((ms / 1000)).$((ms % 1000 / 100)) s:" \
	"$(awk -v n="$ROUNDS" -v ms="$ms" 'BEGIN { printf "%.1f", n * 1000 / ms }') rounds/s"

[ -s "$T/freezes" ] && sort -n "$T/freezes" | awk '{ v[NR] = $1; s += $1 }
	END { printf "  freeze (ms) over %d apply/revert: mean %.3f, median %.3f, max %.3f\n",
		NR, s / NR, v[int((NR + 1) / 2)], v[NR] }' >&2

assert_alive "$SERVER_PID"
assert_applied "$SERVER_PID" ""
stop_tls_client
assert_flat_samples "$T/samples" "$RSS_MARGIN_KB"
