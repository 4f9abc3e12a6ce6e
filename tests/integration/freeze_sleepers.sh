#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sleeping threads stay asleep (issue 12 item 3): four threads asleep for the whole test in
# nanosleep, FUTEX_WAIT, epoll_wait and read count every return from their call, a fifth
# thread spins calling the patched function, the main thread wakes every 20 ms.
#   1. Control, with the full freeze (SUTURE_FREEZE=all): 5 apply/revert rounds. No
#      sleeper returns from its call (invariant 5), but each is interrupted and resumed by
#      every freeze: its context-switch counts move. This proves the counts see a freeze.
#   2. The default (the partial freeze, no SUTURE_FREEZE in the environment): 100 plain
#      apply/revert rounds. No return, and the voluntary and non-voluntary context-switch
#      counts of the four sleepers are exactly what they were.
# Staging (before the freeze) borrows one thread asleep in a system call for its remote
# calls; the scenario starts a thread in pause() first, which staging picks (lowest id
# among the cheapest), and that thread is not counted.
source "$(dirname "$0")/../lib.sh"
require_suture
unset SUTURE_FREEZE # the default is what is tested

build_scenario sleepers
build_patch sleepers-fix "$S/fix.diff" prog

start_bg "$T/out" "$S/prog"
PID=$BG_PID
wait_for_line "$T/out" '^iter=3 value=1003 wakeups=0 '
sleepers="nanosleep futex epoll read"
declare -A tid want=([nanosleep]=230 [futex]=202 [epoll]=232 [read]=0)
for name in $sleepers spin stage; do
	tid[$name]=$(sed -n "s/^thread $name \([0-9]*\)\$/\1/p" "$T/out")
	[ -n "${tid[$name]}" ] || fail "thread $name did not start"
done
for name in $sleepers; do
	nr=$(cut -d' ' -f1 "/proc/$PID/task/${tid[$name]}/syscall")
	[ "$nr" = "${want[$name]}" ] || fail "thread $name is in system call '$nr', not ${want[$name]}"
done

# switches: "NAME VOLUNTARY NONVOLUNTARY" for each sleeper
switches() {
	local name
	for name in $sleepers; do
		echo "$name $(awk '/^voluntary_ctxt_switches/ {v = $2} /^nonvoluntary_ctxt_switches/ {n = $2} END {print v, n}' "/proc/$PID/task/${tid[$name]}/status")"
	done
}

rounds() {
	local n=$1 r
	for ((r = 1; r <= n; r++)); do
		sut "apply, round $r" apply -p "$PID" "$T/sleepers-fix.suture"
		sut "revert, round $r" revert -p "$PID" sleepers-fix
	done
}

# 1. control: the full freeze wakes every sleeper
before=$(switches)
SUTURE_FREEZE=all rounds 5
after=$(switches)
note "full freeze, 5 rounds: before: $(echo $before) / after: $(echo $after)"
for name in $sleepers; do
	b=$(echo "$before" | awk -v n=$name '$1 == n {print $2}')
	a=$(echo "$after" | awk -v n=$name '$1 == n {print $2}')
	[ "$a" -ge $((b + 10)) ] ||
		fail "control: the full freeze did not show in the voluntary switches of $name ($b -> $a)"
done
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3} wakeups=0 ' 'wakeups=[1-9]'

# 2. the default, the partial freeze, leaves them asleep
ROUNDS=${SLEEPERS_ROUNDS:-100}
before=$(switches)
spins_before=$(tail -n 1 "$T/out" | sed -n 's/.* spins=\([0-9]*\)$/\1/p')
rounds "$ROUNDS"
after=$(switches)
note "default (partial) freeze, $ROUNDS rounds: before: $(echo $before) / after: $(echo $after)"
[ "$before" = "$after" ] ||
	fail "a sleeper's context-switch counts changed over $ROUNDS apply/revert rounds"
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3} wakeups=0 ' 'wakeups=[1-9]'
spins_after=$(tail -n 1 "$T/out" | sed -n 's/.* spins=\([0-9]*\)$/\1/p')
[ "$spins_after" -gt "$spins_before" ] || fail "the spinning thread stopped running"
# and the patch still works under it
sut "apply" apply -p "$PID" "$T/sleepers-fix.suture"
settled_output "$T/out" '^iter=[0-9]+ value=2[0-9]{3} wakeups=0 ' 'value=1[0-9]{3}'
[ "$(switches)" = "$after" ] || fail "a sleeper's context-switch counts changed at the last apply"
assert_alive "$PID"
stop_bg "$PID"
