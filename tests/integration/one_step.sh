#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A program compiled and linked by a single command (cc -o prog main.c lib.c): suture build
# still finds the changed functions. The fix changes a string literal and a jump-table case
# in two switch statements; after apply every line with iter % 8 == 1 says ONE and every
# line with iter % 7 == 1 computes iter + 1000; revert brings the originals back.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue one_step '^iter=9 ' one-step prog
sut "inspect" inspect "$T/one-step.suture" --json
jq -e '[.functions[].name] | sort == ["compute", "name"]' "$T/last.out" >/dev/null ||
	fail "expected name and compute replaced: $(jq -c '[.functions[].name]' "$T/last.out")"

# right: the line is what the original (0) or fixed (1) code computes for its iter
check_lines() {
	awk -v fixed="$1" -F'[ =]' '{
		i = $2; n = $4; c = $6
		want_n = (i % 8 == 1) ? (fixed ? "ONE" : "one") : ""
		if (want_n != "" && n != want_n) { print; next }
		if (i % 7 == 1 && c != (fixed ? i + 1000 : i + 11)) print
	}'
}
sut "apply" apply -p "$PID" "$T/one-step.suture"
n=$(($(nlines "$T/out") + 1))
wait_for_lines "$T/out" $((n + 20)) 10
bad=$(lines_after "$T/out" "$n" | check_lines 1)
[ -z "$bad" ] || fail "after apply, lines not from the fixed code: $bad"
sut "revert" revert -p "$PID" one-step
n=$(($(nlines "$T/out") + 1))
wait_for_lines "$T/out" $((n + 20)) 10
bad=$(lines_after "$T/out" "$n" | check_lines 0)
[ -z "$bad" ] || fail "after revert, lines not from the original code: $bad"
assert_alive "$PID"
