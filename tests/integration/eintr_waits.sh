#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Invariant 5 for the calls the kernel ends with EINTR (not a restart) when a ptrace stop
# interrupts them: sigtimedwait with a timeout and sigwaitinfo (rt_sigtimedwait), send and
# write on a TCP socket with SO_SNDTIMEO, connect with SO_SNDTIMEO, recv with
# SO_RCVTIMEO. Each thread is checked to be inside its call, then five rounds of apply and
# revert each freeze the process twice: no thread may see an EINTR, and every thread is
# still (or again) inside its call afterwards.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario eintr_waits
build_patch eintr-fix "$S/fix.diff" prog

start_bg "$T/out" "$S/prog"
PID=$BG_PID
wait_for_line "$T/out" '^iter=5 value=1005 eintr=0$'
declare -A want=([sigtimedwait]=128 [sigwaitinfo]=128 [send]=44 [write]=1 [connect]=42 [recv]=45)
in_calls() {
	local name tid nr
	for name in "${!want[@]}"; do
		tid=$(sed -n "s/^thread $name \([0-9]*\)\$/\1/p" "$T/out")
		[ -n "$tid" ] || fail "thread $name did not start"
		for ((i = 0; i < 100; i++)); do
			nr=$(cut -d' ' -f1 "/proc/$PID/task/$tid/syscall" 2>/dev/null || true)
			[ "$nr" = "${want[$name]}" ] && break
			sleep 0.05
		done
		[ "$nr" = "${want[$name]}" ] || fail "thread $name ($tid) is in system call '$nr', not ${want[$name]}"
	done
}
in_calls
for round in 1 2 3 4 5; do
	sut "apply, round $round" apply -p "$PID" "$T/eintr-fix.suture"
	wait_for_new_line "$T/out" "$(nlines "$T/out")" 'value=2[0-9]{3}'
	sut "revert, round $round" revert -p "$PID" eintr-fix
	wait_for_new_line "$T/out" "$(nlines "$T/out")" 'value=1[0-9]{3}'
done
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3} eintr=0$' 'eintr=[1-9]'
in_calls
assert_alive "$PID"
stop_bg "$PID"
