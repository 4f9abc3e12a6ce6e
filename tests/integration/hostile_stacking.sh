#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Three stacked patches over overlapping function sets (fix1: rate_a rate_b, fix2: rate_a
# rate_c, fix3: rate_b rate_c), applied 1, 2, 3 and reverted in each of the 3! = 6 orders.
# After every step each function must run the newest patch still applied that names it,
# or its original body: never a dangling jump to code that was unmapped. A patch applied
# twice and the revert of a patch that is not applied are refused and change nothing.
source "$(dirname "$0")/../lib.sh"
require_suture

start_scenario hostile_stacking '^a=10 b=20 c=30$'
for p in fix1 fix2 fix3; do build_patch "$p" "$S/$p.diff" prog; done

# The value each patch gives each function (empty: the patch does not replace it).
declare -A GIVES=([fix1:a]=11 [fix1:b]=21 [fix2:a]=12 [fix2:c]=32 [fix3:b]=23 [fix3:c]=33)
declare -A ORIG=([a]=10 [b]=20 [c]=30)

# expected "P..." : the line the program must print with these patches applied, listed
# in application order (the newest last wins where they overlap).
expected() {
	local f p v line=
	for f in a b c; do
		v=${ORIG[$f]}
		for p in $1; do [ -n "${GIVES[$p:$f]:-}" ] && v=${GIVES[$p:$f]}; done
		line+="$f=$v "
	done
	echo "${line% }"
}

# settled STACK: every line printed after the last suture call returned matches the
# stack, and status lists exactly the patches of the stack.
settled() {
	local want n
	want=$(expected "$1")
	n=$(($(nlines "$T/out") + 1))
	wait_for_lines "$T/out" $((n + 3)) 10
	if lines_after "$T/out" "$n" | grep -vqx -- "$want"; then
		lines_after "$T/out" "$n" | tail -n 5 >&2
		fail "with patches '$1' applied, expected every line to be '$want'"
	fi
	assert_applied "$PID" "$1"
}

# without "P..." P: the list with P taken out.
without() {
	local q out=
	for q in $1; do [ "$q" = "$2" ] || out="${out:+$out }$q"; done
	echo "$out"
}

orders=("fix1 fix2 fix3" "fix1 fix3 fix2" "fix2 fix1 fix3" "fix2 fix3 fix1" "fix3 fix1 fix2" "fix3 fix2 fix1")
for order in "${orders[@]}"; do
	stack=
	for p in fix1 fix2 fix3; do
		sut "apply $p" apply -p "$PID" "$T/$p.suture"
		stack="${stack:+$stack }$p"
		settled "$stack"
	done
	for p in $order; do
		sut "revert $p (order: $order)" revert -p "$PID" "$p"
		stack=$(without "$stack" "$p")
		settled "$stack"
	done
	note "revert order $order: ok"
done

# Refusals, with two patches stacked: the process must be left exactly as it was.
sut "apply fix2" apply -p "$PID" "$T/fix2.suture"
sut "apply fix3" apply -p "$PID" "$T/fix3.suture"
maps_before=$(cat "/proc/$PID/maps")
for p in fix2 fix3; do
	expect_fail "applying $p a second time" "$SUTURE" apply -p "$PID" "$T/$p.suture"
	stderr_mentions "$p" "the patch id ($p)"
	settled "fix2 fix3"
done
expect_fail "reverting fix1, which is not applied" "$SUTURE" revert -p "$PID" fix1
stderr_mentions 'fix1' "the patch id (fix1)"
expect_fail "reverting a patch id never seen" "$SUTURE" revert -p "$PID" no-such-patch
stderr_mentions 'no-such-patch' "the patch id (no-such-patch)"
settled "fix2 fix3"
[ "$(cat "/proc/$PID/maps")" = "$maps_before" ] ||
	fail "a refused command changed the mappings: $(diff <(echo "$maps_before") "/proc/$PID/maps")"

# Applying fix1 and fix1 again in one command is refused as a whole (all or nothing).
expect_fail "applying fix1 twice in one command" "$SUTURE" apply -p "$PID" "$T/fix1.suture" "$T/fix1.suture"
settled "fix2 fix3"

sut "revert fix3" revert -p "$PID" fix3
sut "revert fix2" revert -p "$PID" fix2
settled ""
assert_alive "$PID"
