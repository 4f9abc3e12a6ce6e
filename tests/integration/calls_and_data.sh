#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The replaced function uses the target's own unchanged pieces: a static function, a
# static const table, a global counter the unchanged main loop increments, and snprintf.
# Its new format appears while the counter keeps counting from where it was (state is the
# program's, not the patch's), and every value it prints is the right one.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue calls_and_data '^ticks=[0-9]+ level=[0-9]$' status-v2 prog
sut "apply" apply -p "$PID" "$T/status-v2.suture"
settled_output "$T/out" '^v2 ticks=[0-9]+ level=[0-9] scaled=[0-9]+$' '^ticks=' 10
assert_applied "$PID" status-v2
assert_alive "$PID"

sut "revert" revert -p "$PID" status-v2
settled_output "$T/out" '^ticks=[0-9]+ level=[0-9]$' '^v2 ' 5
assert_applied "$PID" ""
assert_alive "$PID"

# Whole run: the counter went up by exactly one a line (never reset by apply or revert),
# level is level_table[ticks % 8] and scaled is ten times it.
bad=$(head -n "$(nlines "$T/out")" "$T/out" | sed 's/^v2 //' | awk -F'[ =]' '
	BEGIN { split("3 1 4 1 5 9 2 6", tab, " ") }
	NR > 1 && $2 != prev + 1 { print "counter jumped: " prev " then " $0 }
	$4 != tab[$2 % 8 + 1] { print "wrong level: " $0 }
	NF > 4 && $6 != $4 * 10 { print "wrong scaled: " $0 }
	{ prev = $2 }' | head -n 5)
[ -z "$bad" ] || fail "$bad"
[ "$(count_lines "$T/out" '^v2 ')" -ge 10 ] || fail "too few lines in the new format"
