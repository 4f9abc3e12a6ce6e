#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Which thread staging holds for its remote calls (docs/architecture.md, "Which thread
# staging holds"): never a thread asleep for good while another exists.
#   1. A thread in pause() (started first, the lowest thread id after main), a thread in
#      5 ms sleeps, the main thread in 2 ms sleeps: staging holds the short sleeper (seen
#      in its traced stop while suture pauses inside staging), not the main thread.
#   2. The thread in pause() and the main thread only: staging holds the main thread.
# In both, 10 applies that stage and then fail on purpose (SUTURE_FAULT=staged:fail: the
# staging, then the removal of what was staged, two holds each, no freeze) leave the
# thread in pause() asleep: its voluntary and non-voluntary context-switch counts do not
# move (the choice before this rule, "a thread asleep in a system call, not the main
# thread", took it).
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario staging_choice
build_patch staging-fix "$S/fix.diff" prog

# counts TID: "VOLUNTARY NONVOLUNTARY" context switches of thread TID of $PID
counts() {
	awk '/^voluntary_ctxt_switches/ {v = $2} /^nonvoluntary_ctxt_switches/ {n = $2}
		END {print v, n}' "/proc/$PID/task/$1/status"
}

# held_during_staging: apply with suture paused inside staging (the thread held), print
# the threads of $PID in a traced stop ('t') meanwhile, then let the apply finish.
held_during_staging() {
	local held="" i f st
	SUTURE_FAULT=stage-mapped:pause=1500 \
		"$SUTURE" apply -p "$PID" "$T/staging-fix.suture" >"$T/paused.out" 2>"$T/paused.err" &
	local sp=$!
	for ((i = 0; i < 100; i++)); do
		[ -z "$held" ] || break
		sleep 0.01
		for f in /proc/"$PID"/task/*/stat; do
			st=$(sed 's/.*) //' "$f" 2>/dev/null | cut -d' ' -f1)
			[ "$st" = t ] && held+="$(basename "$(dirname "$f")") "
		done
	done
	wait "$sp" || { cat "$T/paused.err" >&2; fail "the paused apply failed"; }
	echo "$held"
}

# staging_rounds: 10 applies that stage, fail on purpose and remove what they staged
staging_rounds() {
	local r
	for ((r = 1; r <= 10; r++)); do
		if SUTURE_FAULT=staged:fail "$SUTURE" apply -p "$PID" "$T/staging-fix.suture" \
			>"$T/last.out" 2>"$T/last.err"; then
			fail "round $r: the apply with an injected failure succeeded"
		fi
		grep -q "injected failure at step staged" "$T/last.err" ||
			{ cat "$T/last.err" >&2; fail "round $r: the apply failed for another reason"; }
		if grep -q "warning" "$T/last.err"; then
			cat "$T/last.err" >&2
			fail "round $r: staged memory was not removed"
		fi
	done
}

for mode in short main; do
	: >"$T/out"
	start_bg "$T/out" "$S/prog" "$mode"
	PID=$BG_PID
	wait_for_line "$T/out" '^iter=20 value=1020$'
	declare -A tid=()
	names="forever main"
	[ "$mode" = short ] && names+=" short"
	for name in $names; do
		tid[$name]=$(sed -n "s/^thread $name \([0-9]*\)\$/\1/p" "$T/out")
		[ -n "${tid[$name]}" ] || fail "$mode: thread $name did not start"
	done
	[ "$(cut -d' ' -f1 "/proc/$PID/task/${tid[forever]}/syscall")" = 34 ] ||
		fail "$mode: the forever thread is not in pause()"

	# Under load a short sleeper may not stop within its bound (waiting for a CPU) and
	# staging then rightly takes the next thread: the expected one must be held in one of
	# three tries, and the thread asleep for good in none.
	expect=${tid[$mode]}
	seen=""
	for try in 1 2 3; do
		held=$(held_during_staging)
		[ "$held" != "${tid[forever]} " ] ||
			fail "$mode: staging held the thread asleep for good (${tid[forever]})"
		wait_for_line "$T/out" 'value=20[0-9][0-9]$'
		sut "revert after the paused apply" revert -p "$PID" staging-fix
		seen+="$held"
		[ "$held" != "$expect " ] || break
	done
	[ "$held" = "$expect " ] ||
		fail "$mode: staging held thread(s) '${seen}', never the $mode thread $expect (forever ${tid[forever]}, main ${tid[main]})"
	before=$(counts "${tid[forever]}")
	staging_rounds
	after=$(counts "${tid[forever]}")
	[ "$before" = "$after" ] ||
		fail "$mode: the thread asleep for good was woken: switches $before -> $after"
	assert_alive "$PID"
	note "$mode: staging held the $mode thread; the thread in pause() kept its counts ($after)"
	stop_bg "$PID"
	unset tid
done
echo "PASS: staging_choice"
