#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The partial freeze (the default) against threads that wake all the time: six threads wait in read() on
# timerfds firing every 50-300 us (a call without a timeout: left asleep, then woken by the
# kernel during the freeze) and call the patched function the moment they wake: some wake
# between suture's two looks, some meet an entry while its int3 is there and are held by
# the guard. One more thread, woken the same way every 5 ms, forks a child that calls the
# function (a child forked while an entry was being written must get its parent's final
# bytes).
#   1. 30 apply/revert rounds.
#   2. The guard's end (WAKERS_ROUNDS, default 60, rounds): two of the six wakers run
#      under SCHED_IDLE on CPU 0 next to a process that keeps CPU 0 busy, so that they are
#      preempted at almost any point, between an int3 trap and their stop for the guard
#      too: a thread that met an int3 just before the last byte was written may still be
#      on its way to that stop when the guard ends (the kernel would then detach it and
#      deliver the SIGTRAP, which kills the process); the guard interrupts every thread
#      that ran and takes the trap first.
# Throughout: no call may return a value from neither the old nor the new function, no
# child may fail or crash, no waker's read() may fail with EINTR (the threads the guard
# interrupts have their call restarted), the process stays alive and the patch works.
source "$(dirname "$0")/../lib.sh"
require_suture
unset SUTURE_FREEZE # the default, the partial freeze

build_scenario sleepers
build_patch sleepers-fix "$S/fix.diff" prog

good='^iter=[0-9]+ value=1[0-9]{3} bad=0 calls=[0-9]+ forks=[0-9]+ childfail=0 eintr=0$'
bad='bad=[1-9]|childfail=[1-9]|eintr=[1-9]'

# rounds N [OPTION...]: N apply/revert rounds on $PID, which must stay alive
rounds() {
	local n=$1 r; shift
	for ((r = 1; r <= n; r++)); do
		sut "apply, round $r" apply "$@" -p "$PID" "$T/sleepers-fix.suture"
		sut "revert, round $r" revert "$@" -p "$PID" sleepers-fix
		kill -0 "$PID" 2>/dev/null || { tail -n 3 "$T/out" >&2; fail "the process died in round $r"; }
	done
}

# 1. six wakers and the forker
start_bg "$T/out" "$S/prog" wakers 6
PID=$BG_PID
wait_for_line "$T/out" '^iter=3 value=1003 bad=0 '
rounds 30
assert_alive "$PID"
settled_output "$T/out" "$good" "$bad"
sut "apply" apply -p "$PID" "$T/sleepers-fix.suture"
settled_output "$T/out" '^iter=[0-9]+ value=2[0-9]{3} bad=0 calls=[0-9]+ forks=[0-9]+ childfail=0 eintr=0$' 'value=1[0-9]{3}'
line=$(tail -n 1 "$T/out")
note "after 30 rounds: $line"
forks=$(echo "$line" | sed -n 's/.* forks=\([0-9]*\) .*/\1/p')
[ "$forks" -gt 30 ] || fail "the forking thread did not run ($line)"
stop_bg "$PID"

# 2. two wakers preempted everywhere
start_bg "$T/hog.out" "$S/prog" hog
start_bg "$T/out" "$S/prog" wakers 6 2
PID=$BG_PID
wait_for_line "$T/out" '^iter=3 value=1003 bad=0 ' 30
ROUNDS=${WAKERS_ROUNDS:-60}
# a thread that runs under SCHED_IDLE next to a busy process may take seconds to stop
rounds "$ROUNDS" --timeout 30000
assert_alive "$PID"
settled_output "$T/out" "$good" "$bad"
note "after $ROUNDS rounds with two wakers under SCHED_IDLE: $(tail -n 1 "$T/out")"
stop_bg "$PID"
