#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The registry lives in the process, so a forked child inherits the patched code and the
# record of it: status shows the patch in the child, the child can be reverted on its own
# (the parent stays patched), and the parent can then be reverted too.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario fork_inherit
start_bg "$T/out" "$S/prog" "$T/child.pid"
PID=$BG_PID
wait_for_line "$T/out" "^pid=$PID iter=[0-9]+ value=1[0-9]{3}$"
build_patch fork-fix "$S/fix.diff" prog
sut "apply" apply -p "$PID" "$T/fork-fix.suture"
wait_for_line "$T/out" "^pid=$PID iter=[0-9]+ value=2[0-9]{3}$"

kill -USR1 "$PID"
for _ in $(seq 100); do [ -s "$T/child.pid" ] && break; sleep 0.05; done
[ -s "$T/child.pid" ] || fail "the target did not fork"
CHILD=$(cat "$T/child.pid")
STARTED_PIDS+=("$CHILD")
wait_for_line "$T/out" "^pid=$CHILD iter=[0-9]+ value=2[0-9]{3}$"
assert_applied "$CHILD" fork-fix
assert_applied "$PID" fork-fix

# the child goes back to the original code; the parent keeps the fix
sut "revert in the child" revert -p "$CHILD" fork-fix
wait_for_line "$T/out" "^pid=$CHILD iter=[0-9]+ value=1[0-9]{3}$"
assert_applied "$CHILD" ""
assert_applied "$PID" fork-fix
n=$(nlines "$T/out")
wait_for_lines "$T/out" $((n + 8)) 10
lines_after "$T/out" "$n" | grep -E "^pid=$PID " | grep -Eqv 'value=2[0-9]{3}$' &&
	fail "the parent lost its patch when the child was reverted"
lines_after "$T/out" "$((n + 2))" | grep -E "^pid=$CHILD " | grep -Eq 'value=2[0-9]{3}$' &&
	fail "the child still runs the patched code after its revert"

sut "revert in the parent" revert -p "$PID" fork-fix
assert_applied "$PID" ""
assert_alive "$PID"
assert_alive "$CHILD"
