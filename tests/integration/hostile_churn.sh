#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Thread churn: the target creates and ends tens of thousands of short-lived threads a
# second (joined and detached) while it is patched and reverted 50 times. Each suture call
# must either succeed or fail cleanly (saying why, the process left as it was) within its
# timeout: never hang, never crash. The short-lived threads always see either the old or
# the new value(), never anything else, the churn goes on, and the process keeps running
# with the right output.
source "$(dirname "$0")/../lib.sh"
require_suture

ROUNDS=${ROUNDS:-50}
scenario_prologue hostile_churn '^iter=3 value=1003 ' churn-fix prog

# threads_created: the churn count from the latest complete line.
threads_created() { head -n "$(nlines "$T/out")" "$T/out" | grep '^iter=' | tail -n 1 | sed 's/.*threads=//'; }

applied=0 apply_failed=0 revert_failed=0
start=$(date +%s%N)
for ((r = 1; r <= ROUNDS; r++)); do
	sut_bounded 30 apply -p "$PID" --timeout 1000 "$T/churn-fix.suture"
	if [ "$SUT_RC" -ne 0 ]; then
		apply_failed=$((apply_failed + 1)); sed "s/^/apply, round $r: /" "$T/last.err" >>"$T/failures"
		assert_applied "$PID" ""
		continue
	fi
	applied=$((applied + 1))
	[ "$r" -eq "$ROUNDS" ] && settled_output "$T/out" '^iter=[0-9]+ value=2[0-9]{3} ' 'value=1[0-9]{3}'
	until sut_bounded 30 revert -p "$PID" --timeout 1000 churn-fix; [ "$SUT_RC" -eq 0 ]; do
		revert_failed=$((revert_failed + 1)); sed "s/^/revert, round $r: /" "$T/last.err" >>"$T/failures"
		assert_applied "$PID" churn-fix
		[ "$revert_failed" -lt 20 ] || { cat "$T/failures" >&2; fail "revert failed 20 times"; }
	done
done
note "$ROUNDS rounds in $((($(date +%s%N) - start) / 1000000)) ms: $applied applied and reverted," \
	"$apply_failed apply and $revert_failed revert calls failed cleanly"
[ -s "$T/failures" ] && { note "first failures:"; head -n 3 "$T/failures" >&2; }
[ "$applied" -gt 0 ] || fail "no apply succeeded in $ROUNDS rounds of thread churn"

assert_alive "$PID"
assert_applied "$PID" ""
churn_before=$(threads_created)
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3} threads=[0-9]+$' 'value=2[0-9]{3}'
[ "$(threads_created)" -gt "$churn_before" ] || fail "the thread churn stopped"
if grep -q '^BAD' "$T/out"; then
	grep '^BAD' "$T/out" | head -n 10 >&2
	fail "the short-lived threads saw wrong values or could not be created"
fi
