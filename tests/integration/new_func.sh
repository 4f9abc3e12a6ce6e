#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The fix adds a static helper that the running program does not have and calls it from
# the changed function: the patch carries the helper as a new symbol, and the new output
# (computed by the helper) appears on apply and goes away on revert.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue new_func '^iter=[0-9]+ kind=(odd|even)$' describe-digits prog
sut "inspect" inspect "$T/describe-digits.suture" --json
jq -e '[.functions[].name] == ["describe"]' "$T/last.out" >/dev/null ||
	fail "the patch should replace describe() only: $(jq -c '.functions' "$T/last.out")"
jq -e '.new_symbols | tostring | test("digits")' "$T/last.out" >/dev/null ||
	fail "the patch does not list digits() as new: $(jq -c '.new_symbols' "$T/last.out")"

sut "apply" apply -p "$PID" "$T/describe-digits.suture"
settled_output "$T/out" '^iter=[0-9]+ kind=(odd|even) digits=[0-9]+$' 'kind=(odd|even)$' 5
assert_applied "$PID" describe-digits
assert_alive "$PID"

sut "revert" revert -p "$PID" describe-digits
settled_output "$T/out" '^iter=[0-9]+ kind=(odd|even)$' 'digits=' 5
assert_applied "$PID" ""
assert_alive "$PID"

# The helper computed the right digit count, and parity is right on every line.
bad=$(head -n "$(nlines "$T/out")" "$T/out" | awk -F'[ =]' '
	($4 == "odd") != ($2 % 2 == 1) { print "wrong parity: " $0 }
	NF > 4 && $6 != length($2 "") { print "wrong digits: " $0 }' | head -n 5)
[ -z "$bad" ] || fail "$bad"
