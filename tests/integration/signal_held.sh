#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Signals never end suture in the middle of a transaction: terminating signals are held in
# every thread for the whole transaction, staging (a target thread's registers borrowed
# for remote calls) and freeze alike; one thread takes them. The first finishes what is
# under way and starts nothing new (the processes not done are named); a second one is
# still held until the transaction under way ends. The SUTURE_FAULT pause steps hold
# suture at a known point while the test signals it.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario exe_func
start_bg "$T/out1" "$S/prog"
A=$BG_PID
start_bg "$T/out2" "$S/prog"
B=$BG_PID
wait_for_line "$T/out1" '^iter=[0-9]+ value=1[0-9]{3}$'
wait_for_line "$T/out2" '^iter=[0-9]+ value=1[0-9]{3}$'
build_patch exe-fix "$S/fix.diff" prog
build_patch exe-fix2 "$S/fix.diff" prog

# bg_suture ARGS...: suture in the background ($SP), output in $T/bg.out and $T/bg.err
bg_suture() {
	"$SUTURE" "$@" >"$T/bg.out" 2>"$T/bg.err" &
	SP=$!
	STARTED_PIDS+=("$SP")
}
# wait_traced PID: until suture ($SP) is PID's tracer (a thread of PID is held, or seized
# asleep by the partial freeze's guard, a thread of suture's own)
wait_traced() {
	local i tracer
	for ((i = 0; i < 200; i++)); do
		tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$1/status" 2>/dev/null)
		[ "$tracer" = "$SP" ] && return 0
		[ -n "$tracer" ] && [ "$tracer" != 0 ] && [ -d "/proc/$SP/task/$tracer" ] && return 0
		sleep 0.05
	done
	cat "$T/bg.err" >&2
	fail "suture never attached to pid $1"
}
# wait_mapped PID ID: until PID maps the staged image of patch ID
wait_mapped() {
	local i
	for ((i = 0; i < 200; i++)); do
		grep -Eq "/memfd:suture:$2( |$)" "/proc/$1/maps" 2>/dev/null && return 0
		sleep 0.05
	done
	cat "$T/bg.err" >&2
	fail "pid $1 never mapped the image of $2"
}
# finish: suture's exit status into $RC
finish() { RC=0; wait "$SP" || RC=$?; }
# values_right FILE: every line of the program's output is value(iter) computed right
values_right() {
	local bad
	bad=$(awk -F'[ =]' '{ if ($4 != 1000 + $2 % 100 && $4 != 2000 + $2 % 100) print }' "$1" | head -n 3)
	[ -z "$bad" ] || fail "$(basename "$1"): wrong values: $bad"
}

# 1. SIGTERM while staging holds a thread of the target (its registers borrowed for the
# remote mmap/memfd calls): suture finishes the transaction and exits normally.
SUTURE_FAULT=stage-mapped:pause=1500 bg_suture apply -p "$A" "$T/exe-fix.suture"
wait_mapped "$A" exe-fix
wait_traced "$A"
kill -TERM "$SP"
finish
[ "$RC" = 0 ] || { cat "$T/bg.err" >&2; fail "suture ended with $RC after SIGTERM during staging"; }
grep -q "SIGTERM: finishing the transactions under way" "$T/bg.err" ||
	{ cat "$T/bg.err" >&2; fail "suture did not say it took SIGTERM"; }
assert_applied "$A" exe-fix
settled_output "$T/out1" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}'
[ "$(awk '/^TracerPid:/ {print $2}' "/proc/$A/status")" = 0 ] || fail "pid $A is still traced"

# 2. Two SIGINTs while every thread is frozen (revert): both held, the revert completes.
SUTURE_FAULT=revert-frozen:pause=1500 bg_suture revert -p "$A" exe-fix
wait_traced "$A"
kill -INT "$SP"
wait_for_line "$T/bg.err" 'SIGINT: finishing' 5
kill -INT "$SP"
finish
[ "$RC" = 0 ] || { cat "$T/bg.err" >&2; fail "suture ended with $RC after two SIGINTs during the freeze"; }
grep -q "SIGINT again: stopping when the 1 transaction under way ends" "$T/bg.err" ||
	{ cat "$T/bg.err" >&2; fail "the second SIGINT was not acknowledged"; }
assert_applied "$A" ""
settled_output "$T/out1" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'

# 3. SIGHUP while the first of two processes is handled: that one completes, the other
# is not started and is named; exit status 1.
SUTURE_FAULT=staged:pause=1500 bg_suture apply --jobs 1 --json -p "$A" -p "$B" "$T/exe-fix.suture"
wait_mapped "$A" exe-fix
kill -HUP "$SP"
finish
[ "$RC" = 1 ] || { cat "$T/bg.err" >&2; fail "an interrupted run exited $RC, want 1"; }
grep -q "interrupted by SIGHUP: 1 process not handled: $B " "$T/bg.err" ||
	{ cat "$T/bg.err" >&2; fail "the process not handled is not named"; }
jq -e --argjson a "$A" --argjson b "$B" '.interrupted == "SIGHUP" and .not_done == [$b] and
	(.results | length == 1 and .[0].pid == $a and .[0].ok)' "$T/bg.out" >/dev/null ||
	{ cat "$T/bg.out" >&2; fail "the JSON report does not say what was not done"; }
assert_applied "$A" exe-fix
assert_applied "$B" ""

# 4. A second signal ends the run at the next transaction boundary, even inside one
# process's job: the first patch completes, the second is not started, and the report
# says the first was left applied (its take-back would be another transaction).
SUTURE_FAULT=staged:pause=1500 bg_suture apply -p "$B" "$T/exe-fix.suture" "$T/exe-fix2.suture"
wait_mapped "$B" exe-fix
kill -INT "$SP"
wait_for_line "$T/bg.err" 'SIGINT: finishing' 5
kill -USR1 "$SP"
finish
[ "$RC" = 1 ] || { cat "$T/bg.err" >&2; fail "a run stopped between transactions exited $RC, want 1"; }
grep -q "pid $B: exe-fix2 not applied: interrupted" "$T/bg.err" &&
	grep -q "pid $B: exe-fix left applied: interrupted before its take-back" "$T/bg.err" ||
	{ cat "$T/bg.err" >&2; fail "the report does not say where the run stopped"; }
assert_applied "$B" exe-fix
# the trail has the finished transaction
jq -e -s --argjson b "$B" 'map(select(.pid == $b and .action == "apply" and .ok and .patch == "exe-fix")) | length == 1' \
	"$SUTURE_AUDIT_LOG" >/dev/null || { cat "$SUTURE_AUDIT_LOG" >&2; fail "the trail lacks the applies of pid $B"; }

values_right "$T/out1"
values_right "$T/out2"
assert_alive "$A"
assert_alive "$B"
