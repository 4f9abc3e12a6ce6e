#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The partial freeze against threads that wake all the time: six threads wait in read() on
# timerfds firing every 50-300 us (a call without a timeout: left asleep, then woken by the
# kernel during the freeze) and call the patched function the moment they wake: some wake
# between suture's two looks, some meet an entry while its int3 is there and are held by
# the guard. One more thread, woken the same way every 5 ms, forks a child that calls the
# function (a child forked while an entry was being written must get its parent's final
# bytes). 30 apply/revert rounds: no call may return a value from neither the old nor the
# new function, no child may fail or crash, the process stays alive and the patch works.
source "$(dirname "$0")/../lib.sh"
require_suture
export SUTURE_FREEZE=sleepers

build_scenario sleepers
build_patch sleepers-fix "$S/fix.diff" prog

start_bg "$T/out" "$S/prog" wakers 6
PID=$BG_PID
wait_for_line "$T/out" '^iter=3 value=1003 bad=0 '
for ((r = 1; r <= 30; r++)); do
	sut "apply, round $r" apply -p "$PID" "$T/sleepers-fix.suture"
	sut "revert, round $r" revert -p "$PID" sleepers-fix
done
assert_alive "$PID"
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3} bad=0 calls=[0-9]+ forks=[0-9]+ childfail=0$' 'bad=[1-9]|childfail=[1-9]'
sut "apply" apply -p "$PID" "$T/sleepers-fix.suture"
settled_output "$T/out" '^iter=[0-9]+ value=2[0-9]{3} bad=0 calls=[0-9]+ forks=[0-9]+ childfail=0$' 'value=1[0-9]{3}'
line=$(tail -n 1 "$T/out")
note "after 30 rounds: $line"
forks=$(echo "$line" | sed -n 's/.* forks=\([0-9]*\) .*/\1/p')
[ "$forks" -gt 30 ] || fail "the forking thread did not run ($line)"
stop_bg "$PID"
