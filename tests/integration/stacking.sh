#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two patches on one object with overlapping functions: fix1 replaces rate_a and rate_b,
# fix2 replaces rate_a and rate_c. Applied 1 then 2, the newest wins for rate_a. Reverting
# fix1 out of order keeps fix2's rate_a and brings back the original rate_b only; reverting
# fix2 restores everything. Re-applying an applied patch and reverting one that is not
# applied both fail and change nothing.
source "$(dirname "$0")/../lib.sh"
require_suture

start_scenario stacking '^a=10 b=20 c=30$'
build_patch fix1 "$S/fix1.diff" prog
build_patch fix2 "$S/fix2.diff" prog

# settled STATE: every line printed after the last suture call returned is STATE.
settled() {
	local want=$1 n
	n=$(($(nlines "$T/out") + 1))
	wait_for_lines "$T/out" $((n + 3)) 10
	if lines_after "$T/out" "$n" | grep -vqx -- "$want"; then
		lines_after "$T/out" "$n" | tail -n 5 >&2
		fail "expected every line to be '$want'"
	fi
}

sut "apply fix1" apply -p "$PID" "$T/fix1.suture"
settled 'a=11 b=21 c=30'
sut "apply fix2 on top of fix1" apply -p "$PID" "$T/fix2.suture"
settled 'a=12 b=21 c=32'
assert_applied "$PID" "fix1 fix2"
# verify proves the stack: fix2 owns rate_a's jump and saved fix1's
SUTURE_PATCH_DIRS=$T/none sut "verify of the stack" verify -p "$PID" --patch "$T/fix1.suture" --patch "$T/fix2.suture"
grep -Eq '^  ok +fix1 ' "$T/last.out" && grep -Eq '^  ok +fix2 ' "$T/last.out" ||
	{ cat "$T/last.out" >&2; fail "verify did not prove both stacked patches"; }

expect_fail "applying fix1 a second time" "$SUTURE" apply -p "$PID" "$T/fix1.suture"
stderr_mentions 'fix1' "the patch id"
settled 'a=12 b=21 c=32'
assert_applied "$PID" "fix1 fix2"

sut "revert fix1 (out of order)" revert -p "$PID" fix1
settled 'a=12 b=20 c=32'
assert_applied "$PID" "fix2"

expect_fail "reverting fix1 again" "$SUTURE" revert -p "$PID" fix1
stderr_mentions 'fix1' "the patch id"
expect_fail "reverting a patch id never applied" "$SUTURE" revert -p "$PID" no-such-patch
stderr_mentions 'no-such-patch' "the patch id"
settled 'a=12 b=20 c=32'
assert_applied "$PID" "fix2"

sut "revert fix2" revert -p "$PID" fix2
settled 'a=10 b=20 c=30'
assert_applied "$PID" ""
assert_alive "$PID"
