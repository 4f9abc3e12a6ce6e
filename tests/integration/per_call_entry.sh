#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The per-call rule lets old activations finish in old code, but nothing may resume
# inside the five bytes a jump overwrites: not a PC, not a return address (a call that
# ends inside them: entry's two-byte call returns to entry+3), not the PC saved in a
# signal frame (a thread interrupted at spin+2, waiting in its signal handler). Each is
# refused by name until the thread has left; then the per-call patch applies, and the
# program's own output changes.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario per_call_entry
build_patch entry-fix "$S/fix.diff" prog --per-call
start_bg "$T/out" "$S/prog"
PID=$BG_PID
wait_for_line "$T/out" '^caller waiting$'
wait_for_line "$T/out" '^spinner in handler$'
wait_for_line "$T/out" '^iter=3 gen=1$'

expect_fail "per-call apply while threads would resume inside entry bytes" \
	"$SUTURE" apply -p "$PID" --timeout 500 "$T/entry-fix.suture"
note "$(head -n 1 "$T/last.err")"
stderr_mentions "entry|spin" "the function whose entry bytes a thread would resume in"
assert_applied "$PID" ""
settled_output "$T/out" '^iter=[0-9]+ gen=1$' 'gen=2'

kill -USR1 "$PID"
wait_for_line "$T/out" '^caller done$'
# only the signal frame's saved PC is left inside the entry bytes (of spin)
expect_fail "per-call apply while a signal frame would resume inside spin's entry bytes" \
	"$SUTURE" apply -p "$PID" --timeout 500 "$T/entry-fix.suture"
note "$(head -n 1 "$T/last.err")"
stderr_mentions "bytes of spin" "spin, where the signal frame would resume"
assert_applied "$PID" ""

kill -WINCH "$PID"
wait_for_line "$T/out" '^spinner done$'
sut "per-call apply once no thread resumes inside entry bytes" apply -p "$PID" "$T/entry-fix.suture"
settled_output "$T/out" '^iter=[0-9]+ gen=2$' 'gen=1'
sut "revert" revert -p "$PID" entry-fix
settled_output "$T/out" '^iter=[0-9]+ gen=1$' 'gen=2'
assert_alive "$PID"
