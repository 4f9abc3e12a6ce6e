#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A target stopped by SIGSTOP stays stopped through apply and revert (state T in
# /proc/PID/stat, no output while stopped), status shows the patch, and after SIGCONT it
# runs the new code. The tracer case is hostile_traced.sh.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue hostile_stopped '^iter=3 value=1003$' stop-fix prog

# assert_still_stopped WHEN: PID is in state T, now and a little later, and printed nothing.
assert_still_stopped() {
	local n st
	n=$(nlines "$T/out")
	for _ in 1 2 3 4 5; do
		st=$(proc_state "$PID")
		[ "$st" = T ] || fail "$1: process $PID is in state '$st', expected T (stopped)"
		sleep 0.05
	done
	[ "$(nlines "$T/out")" -eq "$n" ] || fail "$1: the stopped process printed lines"
}

# stop_target: SIGSTOP and wait for the stop to be visible.
stop_target() {
	kill -STOP "$PID"
	for _ in $(seq 100); do [ "$(proc_state "$PID")" = T ] && break; sleep 0.02; done
	assert_still_stopped "after SIGSTOP"
}

# 1. Apply to a stopped process.
stop_target
sut_bounded 30 apply -p "$PID" "$T/stop-fix.suture"
[ "$SUT_RC" -eq 0 ] || { cat "$T/last.err" >&2; fail "apply to a stopped process failed"; }
assert_still_stopped "after apply"
assert_applied "$PID" stop-fix
assert_still_stopped "after status"
kill -CONT "$PID"
settled_output "$T/out" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}'

# 2. Revert from a stopped process.
stop_target
sut_bounded 30 revert -p "$PID" stop-fix
[ "$SUT_RC" -eq 0 ] || { cat "$T/last.err" >&2; fail "revert from a stopped process failed"; }
assert_still_stopped "after revert"
assert_applied "$PID" ""
kill -CONT "$PID"
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'

assert_alive "$PID"
