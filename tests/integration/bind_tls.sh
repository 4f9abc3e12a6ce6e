#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Replacement code that uses the target's own __thread variables is bound to the same
# variables, in the calling thread, in every access model: in the library (general-dynamic,
# local-dynamic, initial-exec, with an interposed global) and in the program (local-exec,
# initial-exec, and general-/local-dynamic from a -fPIC file). Two threads with different
# counts prove each thread reaches its own variables, and the sums the fixes print prove
# the patched code reads the values the original code wrote.
source "$(dirname "$0")/../lib.sh"
require_suture

start_scenario bind_tls '^t=1 k=1[0-9]{3} '
# fields (split on ' ' and '='): t T k K, then NAME VALUE pairs; every VALUE is K times the
# name's factor, minus one for G (see main.c)
CHECK='function want(n, k) {
		if (n == "G") return 2 * k - 1; if (n == "F") return 2 * k
		if (n == "SL") return 4 * k - 1; if (n == "SE") return 2 * k; if (n == "SD") return 3 * k
		return k
	}
	{ ok = $1 == "t" && $3 == "k"; sums = 0
	  for (i = 5; i < NF; i += 2) { ok = ok && $(i + 1) == want($i, $4); sums += $i ~ /^S/ }
	  print (ok && NF == 4 + 2 * (7 + SUMS) && sums == SUMS) ? "good" : "bad: " $0 }'
# settled_tls SUMS [LINES]: every new line of both threads is right, with SUMS sum fields
settled_tls() {
	local n bad
	n=$(($(nlines "$T/out") + 1))
	wait_for_lines "$T/out" $((n + ${2:-6})) 10
	bad=$(lines_after "$T/out" "$n" | awk -F'[ =]' -v SUMS="$1" "$CHECK" | grep -v '^good$' |
		head -n 5) || true
	[ -z "$bad" ] || fail "thread-local counters wrong: $bad"
	lines_after "$T/out" "$n" | grep -q '^t=0 ' && lines_after "$T/out" "$n" | grep -q '^t=1 ' ||
		fail "both threads should have printed"
}
settled_tls 0

build_patch tally-sum "$S/fix-lib.diff" libtally.so
sut "apply of the library fix" apply -p "$PID" "$T/tally-sum.suture"
settled_tls 1

build_patch count-sum "$S/fix-exe.diff" prog
sut "inspect" inspect "$T/count-sum.suture" --json
jq -e '[.functions[].name] | sort == ["count", "pic"]' "$T/last.out" >/dev/null ||
	fail "the program fix should replace count() and pic(): $(jq -c '.functions' "$T/last.out")"
sut "apply of the program fix" apply -p "$PID" "$T/count-sum.suture"
settled_tls 3 8
assert_applied "$PID" "tally-sum count-sum"

sut "revert of the library fix" revert -p "$PID" tally-sum
settled_tls 2
sut "revert of the program fix" revert -p "$PID" count-sum
settled_tls 0
assert_applied "$PID" ""
assert_alive "$PID"
