#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The strict rule covers the whole function, including the parts GCC split off into
# symbols of their own (value.cold here): a thread waiting in a call made from
# value.cold is inside an activation of value although no address on its stack lies in
# value's own bytes. apply is refused, naming the thread and the function; once the
# thread has left, the apply goes through.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario split_cold
nm "$S/prog" | grep -q ' value\.cold$' || skip "this compiler did not split value into value.cold"
build_patch cold-fix "$S/fix.diff" prog
start_bg "$T/out" "$S/prog"
PID=$BG_PID
wait_for_line "$T/out" '^waiting$'
wait_for_line "$T/out" '^iter=3 value=1003$'

expect_fail "apply while a thread is inside value.cold" \
	"$SUTURE" apply -p "$PID" --timeout 500 "$T/cold-fix.suture"
note "$(head -n 1 "$T/last.err")"
stderr_mentions "return address into value" "the thread inside value's split-off part"
assert_applied "$PID" ""
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'

kill -USR1 "$PID"
wait_for_line "$T/out" '^released value=1008$'
sut "apply once the thread has left value" apply -p "$PID" "$T/cold-fix.suture"
settled_output "$T/out" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}'
sut "revert" revert -p "$PID" cold-fix
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
assert_alive "$PID"
