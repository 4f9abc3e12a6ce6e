#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Invariant 7 counts every thread running in the process's memory, and a CLONE_VM child
# (as vfork makes) runs there without being a thread of the process: suture cannot stop
# it with the process, so apply is refused, naming it, until it is gone; then it works.
source "$(dirname "$0")/../lib.sh"
require_suture

start_scenario shared_vm '^iter=2 value=1[0-9]{3}$'
CHILD=$(sed -n 's/^child=//p' "$T/out")
[ -n "$CHILD" ] || fail "the target did not report its CLONE_VM child"
build_patch shared-fix "$S/fix.diff" prog

expect_fail "apply while a CLONE_VM child shares the memory" \
	"$SUTURE" apply -p "$PID" --timeout 500 "$T/shared-fix.suture"
stderr_mentions "pid $CHILD shares its memory" "the child sharing the memory"
assert_applied "$PID" ""
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'

kill -USR1 "$PID"
wait_for_line "$T/out" '^child gone$'
sut "apply once the child is gone" apply -p "$PID" "$T/shared-fix.suture"
settled_output "$T/out" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}'
sut "revert" revert -p "$PID" shared-fix
assert_alive "$PID"
