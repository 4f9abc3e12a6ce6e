#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The per-call rule: the same fix as always_on_stack (poll_loop, which one thread never
# leaves, and label()), built with --per-call. Under that rule the switch does not wait for
# poll_loop's activation to end: apply succeeds, new calls of label() take the new code at
# once, the running poll_loop goes on in the old code (still counting), and revert works.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue always_on_stack '^iter=2 label=old polls=[0-9]+$' loop-fix prog --per-call
sut "inspect" inspect "$T/loop-fix.suture" --json
jq -e '.consistency == "per-call"' "$T/last.out" >/dev/null ||
	fail "the patch does not declare the per-call rule: $(jq -c .consistency "$T/last.out")"

sut "apply of a per-call patch" apply -p "$PID" --timeout 2000 "$T/loop-fix.suture"
settled_output "$T/out" '^iter=[0-9]+ label=new polls=[0-9]+$' 'label=old'
jq -e '.processes[0].objects[0].patches[0].consistency == "per-call"' \
	<("$SUTURE" status -p "$PID" --json) >/dev/null || fail "status does not show the per-call rule"
# the old activation of poll_loop keeps running: polls still grow
a=$(tail -n 1 "$T/out" | sed 's/.*polls=//')
sleep 0.5
b=$(tail -n 1 "$T/out" | sed 's/.*polls=//')
[ "$b" -gt "$a" ] || fail "the poll_loop thread stopped counting ($a, then $b)"

sut "revert" revert -p "$PID" loop-fix
settled_output "$T/out" '^iter=[0-9]+ label=old polls=[0-9]+$' 'label=new'
assert_alive "$PID"
