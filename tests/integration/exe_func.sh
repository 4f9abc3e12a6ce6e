#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A function of a running PIE executable is replaced, then restored: the program's own
# output changes on apply and changes back on revert, and the process keeps running.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue exe_func '^iter=[0-9]+ value=1[0-9]{3}$' exe-fix prog
# Only value() changed: main's loop (always on the stack) must not be in the patch.
sut "inspect" inspect "$T/exe-fix.suture" --json
jq -e '[.functions[].name] == ["value"]' "$T/last.out" >/dev/null ||
	fail "the patch should replace value() only: $(jq -c '.functions' "$T/last.out")"
sut "apply" apply -p "$PID" "$T/exe-fix.suture"
settled_output "$T/out" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}'
assert_applied "$PID" exe-fix
assert_alive "$PID"

sut "revert" revert -p "$PID" exe-fix
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
assert_applied "$PID" ""
assert_alive "$PID"

# Every line, old or new, is value(iter) computed right: the replacement got its argument.
bad=$(awk -F'[ =]' '{ if ($4 != 1000 + $2 % 100 && $4 != 2000 + $2 % 100) print }' "$T/out" | head -n 3)
[ -z "$bad" ] || fail "wrong values: $bad"
