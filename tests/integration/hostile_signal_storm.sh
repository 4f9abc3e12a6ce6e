#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A real-time signal storm: a sender queues SIGRTMIN+1 at the target as fast as the
# kernel accepts, with the values 1, 2, 3..., while the target is patched and reverted
# 100 times. Every signal must be delivered exactly once and in order: the count the
# sender reports equals the count the target's handler received, with no duplicate, no
# gap and no signal of foreign origin (a tool that re-injects a signal it intercepted
# must not turn it into another one). The patch works on the last round.
source "$(dirname "$0")/../lib.sh"
require_suture

ROUNDS=${ROUNDS:-100}
scenario_prologue hostile_signal_storm '^iter=3 value=1003$' storm-fix prog

start_bg "$T/sender.out" "$S/sender" "$PID" "${BURST:-100}"
SENDER=$BG_PID
wait_for_line "$T/sender.out" '^sending$'

start=$(date +%s%N)
# A failed round is recorded (and its message kept) but the storm goes on, so that the
# signal accounting below is checked whatever suture did; failures fail the test at the end.
failures=0
for ((r = 1; r <= ROUNDS; r++)); do
	sut_bounded 60 apply -p "$PID" "$T/storm-fix.suture"
	if [ "$SUT_RC" -ne 0 ]; then
		failures=$((failures + 1)); sed "s/^/apply, round $r: /" "$T/last.err" >>"$T/failures"
		assert_applied "$PID" ""
		continue
	fi
	[ "$r" -eq "$ROUNDS" ] && settled_output "$T/out" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}'
	for attempt in 1 2 3 4 5; do
		sut_bounded 60 revert -p "$PID" storm-fix
		[ "$SUT_RC" -eq 0 ] && break
		failures=$((failures + 1)); sed "s/^/revert, round $r: /" "$T/last.err" >>"$T/failures"
		assert_applied "$PID" storm-fix
	done
	[ "$SUT_RC" -eq 0 ] || { cat "$T/failures" >&2; fail "revert, round $r, failed 5 times in a row"; }
done
note "$ROUNDS rounds of apply + revert under the storm in $((($(date +%s%N) - start) / 1000000)) ms"
kill -0 "$SENDER" 2>/dev/null || { cat "$T/sender.out" >&2; fail "the sender stopped before the end of the rounds"; }

kill -TERM "$SENDER"
wait "$SENDER" || { cat "$T/sender.out" >&2; fail "the sender failed"; }
wait_for_line "$T/sender.out" '^sent=[0-9]+$'
sent=$(sed -n 's/^sent=//p' "$T/sender.out")
wait_for_line "$T/out" '^received=' 10
report=$(grep '^received=' "$T/out")
note "sender: sent=$sent; target: $report"
[ "$sent" -gt "$ROUNDS" ] || fail "the storm was too weak to test anything: $sent signals"
[ "$report" = "received=$sent last=$sent dup=0 lost=0 foreign=0" ] ||
	fail "sent $sent signals, but the target reports: $report"

assert_alive "$PID"
assert_applied "$PID" ""
if [ "$failures" -ne 0 ]; then
	head -n 5 "$T/failures" >&2
	fail "$failures of the apply/revert calls failed under the signal storm (first ones above)"
fi
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
