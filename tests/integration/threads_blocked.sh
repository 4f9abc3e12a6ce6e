#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Eight threads blocked in read, accept, nanosleep and futex waits go through 100 rounds of
# apply + revert without noticing: no EINTR, no shortened sleep, no call returning. The
# patch still works on the last round, and the rounds leak neither mappings nor threads.
source "$(dirname "$0")/../lib.sh"
require_suture

ROUNDS=${ROUNDS:-100}
start_scenario threads_blocked '^iter=3 value=1003$'
threads=$(ls "/proc/$PID/task" | wc -l)
[ "$threads" -eq 9 ] || fail "expected 9 threads, found $threads"

build_patch blocked-fix "$S/fix.diff" prog

# A first round sets up whatever suture keeps in the process for good (its registry), so
# the mapping count is taken after it.
sut "warm-up apply" apply -p "$PID" "$T/blocked-fix.suture"
sut "warm-up revert" revert -p "$PID" blocked-fix
maps_before=$(wc -l <"/proc/$PID/maps")

start=$(date +%s%N)
for ((r = 1; r <= ROUNDS; r++)); do
	sut "apply, round $r" apply -p "$PID" "$T/blocked-fix.suture"
	[ "$r" -eq "$ROUNDS" ] && settled_output "$T/out" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}'
	sut "revert, round $r" revert -p "$PID" blocked-fix
done
note "$ROUNDS rounds of apply + revert in $((($(date +%s%N) - start) / 1000000)) ms"
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'

assert_alive "$PID"
assert_applied "$PID" ""
maps_after=$(wc -l <"/proc/$PID/maps")
[ "$maps_after" -eq "$maps_before" ] ||
	fail "/proc/$PID/maps had $maps_before lines before the rounds and $maps_after after"
threads=$(ls "/proc/$PID/task" | wc -l)
[ "$threads" -eq 9 ] || fail "expected 9 threads after the rounds, found $threads"

# A sleeping thread reports a SHORT sleep only when it wakes: give each one a full period.
sleep 0.6
if grep -Ev '^(ready|iter=[0-9]+ value=[12][0-9]{3})$' "$T/out" >"$T/odd"; then
	head -n 20 "$T/odd" >&2
	fail "blocked threads noticed the patching ($(wc -l <"$T/odd") lines like the above)"
fi
