#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The patch changes poll_loop(), which one thread never leaves, and label(), which main
# calls. Under the strict rule no safe moment exists: apply --timeout 1000 must give up,
# name poll_loop, and leave the process exactly as it was: same output (label() was not
# redirected either), same mappings, no patch in status, every thread still running.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue always_on_stack '^iter=2 label=old polls=[0-9]+$' loop-fix prog
maps_before=$(cat "/proc/$PID/maps")

start=$(date +%s%N)
expect_fail "apply of a patch to a function always on a stack" \
	timeout 60 "$SUTURE" apply -p "$PID" --timeout 1000 "$T/loop-fix.suture"
ms=$((($(date +%s%N) - start) / 1000000))
stderr_mentions 'poll_loop' "the function that is always on a stack (poll_loop)"
[ "$ms" -ge 900 ] || { cat "$T/last.err" >&2; fail "apply gave up after $ms ms, before its 1000 ms timeout"; }
[ "$ms" -lt 30000 ] || fail "apply took $ms ms with a 1000 ms timeout"

assert_alive "$PID"
assert_applied "$PID" ""
[ "$(cat "/proc/$PID/maps")" = "$maps_before" ] ||
	fail "the failed apply changed the mappings: $(diff <(echo "$maps_before") "/proc/$PID/maps")"

# Output unchanged, and the loop thread is still counting.
n=$(nlines "$T/out")
settled_output "$T/out" '^iter=[0-9]+ label=old polls=[0-9]+$' 'label=new' 5
polls_then=$(sed -n "${n}p" "$T/out" | sed 's/.*polls=//')
polls_now=$(lines_after "$T/out" "$n" | tail -n 1 | sed 's/.*polls=//')
[ "$polls_now" -gt "$polls_then" ] || fail "the loop thread stopped counting ($polls_then, then $polls_now)"
