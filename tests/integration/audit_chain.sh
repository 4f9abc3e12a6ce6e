#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The audit trail an auditor can trust: a line per transaction written as it ends (a
# suture killed later loses none of what it finished), refusals recorded, the real user
# recorded, and the lines hash-chained so `suture audit verify` finds the first line that
# was changed, removed or inserted.
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
LOG=$SUTURE_AUDIT_LOG

# 1. Transactions and refusals, each one line.
sut "apply" apply -p "$A" "$T/exe-fix.suture"
# signed by a key nobody trusts
"$SUTURE" keygen "$T/other.key" "$T/other.pub" 2>/dev/null
SUTURE_SIGNING_KEY=$T/other.key sut "build signed by another key" build --src "$S" \
	--diff "$S/fix.diff" --target prog -o "$T/other.suture" --id other-fix
expect_fail "apply of a patch signed by an untrusted key" "$SUTURE" apply -p "$B" "$T/other.suture"
# a wrong build: a process that does not map the patch's target
start_bg "$T/sleep.out" sleep 300
expect_fail "apply to a process of another build" "$SUTURE" apply -p "$BG_PID" "$T/exe-fix.suture"
stop_bg "$BG_PID"
sut "revert" revert -p "$A" exe-fix
[ "$(nlines "$LOG")" = 4 ] || { cat "$LOG" >&2; fail "expected 4 audit lines"; }
loginuid=$(cat /proc/self/loginuid 2>/dev/null || echo 4294967295)
jq -e -s --argjson a "$A" --argjson lu "$loginuid" '
	(.[0].prev == ("0" * 64)) and
	.[0].action == "apply" and .[0].ok and .[0].pid == $a and (.[0].signer | length) == 16 and
	.[1].action == "refuse" and (.[1].ok | not) and .[1].patch == "other-fix" and
	(.[1].file | endswith("other.suture")) and (.[1].error | test("unknown key")) and
	.[2].action == "apply" and (.[2].ok | not) and (.[2].error | test("build")) and
	.[3].action == "revert" and .[3].ok and
	all(.[]; .uid == 0 and (.suture_pid | type) == "number" and (.prev | length) == 64) and
	(if $lu == 4294967295 then all(.[]; has("loginuid") | not) else all(.[]; .loginuid == $lu) end)
	' "$LOG" >/dev/null || { cat "$LOG" >&2; fail "the audit lines do not say what happened and who did it"; }
# each prev is the SHA-256 of the line before
for n in 2 3 4; do
	want=$(sed -n "$((n - 1))p" "$LOG" | tr -d '\n' | sha256sum | cut -d' ' -f1)
	got=$(sed -n "${n}p" "$LOG" | jq -r .prev)
	[ "$want" = "$got" ] || fail "line $n: prev $got is not the SHA-256 of line $((n - 1)) ($want)"
done
sut "audit verify" audit verify --log "$LOG" --json
jq -e '.ok and .lines == 4 and (.last_hash | length) == 64' "$T/last.out" >/dev/null ||
	fail "audit verify does not accept an intact trail: $(cat "$T/last.out")"
# SUTURE_AUDIT_LOG is the default file for verify too
sut "audit verify (default log)" audit verify
grep -q "4 lines, chain intact" "$T/last.err" || fail "audit verify without --log: $(cat "$T/last.err")"

# 2. Tampering is found at the first broken line.
verify_broken() { # FILE LINE WHAT
	expect_fail "audit verify of a trail with $3" "$SUTURE" audit verify --log "$1" --json
	jq -e --argjson l "$2" '(.ok | not) and .broken_line == $l' "$T/last.out" >/dev/null ||
		{ cat "$T/last.out" "$T/last.err" >&2; fail "$3: not reported at line $2"; }
	stderr_mentions "chain broken at line $2" "the broken line"
}
sed '2s/"ok":false/"ok":true/' "$LOG" >"$T/changed.jsonl"
verify_broken "$T/changed.jsonl" 3 "a changed line"
sed '1d' "$LOG" >"$T/first-removed.jsonl"
verify_broken "$T/first-removed.jsonl" 1 "its first line removed"
sed '2d' "$LOG" >"$T/removed.jsonl"
verify_broken "$T/removed.jsonl" 2 "a line removed"
sed '2p' "$LOG" >"$T/inserted.jsonl"
verify_broken "$T/inserted.jsonl" 3 "a line repeated"
head -c -20 "$LOG" >"$T/torn.jsonl"
verify_broken "$T/torn.jsonl" 4 "a torn last line"

# 3. A killed suture keeps the lines of what it finished: the first process's apply is
# in the trail although suture is killed while staging the second.
before=$(nlines "$LOG")
SUTURE_FAULT=staged:pause=4000 "$SUTURE" apply --jobs 1 -p "$A" -p "$B" "$T/exe-fix.suture" \
	>"$T/killed.out" 2>"$T/killed.err" &
sp=$!
STARTED_PIDS+=("$sp")
wait_for_new_line "$LOG" "$before" '"action":"apply"' 20
first=$(lines_after "$LOG" "$before" | head -n1 | jq .pid)
second=$A; [ "$first" = "$A" ] && second=$B
for ((i = 0; i < 200; i++)); do
	grep -q "suture:exe-fix" "/proc/$second/maps" 2>/dev/null && break
	sleep 0.05
done
grep -q "suture:exe-fix" "/proc/$second/maps" ||
	{ cat "$T/killed.err" >&2; fail "the second transaction never reached staging"; }
kill -9 "$sp"
wait "$sp" 2>/dev/null || true
lines_after "$LOG" "$before" | jq -e -s --argjson p "$first" \
	'length == 1 and .[0].action == "apply" and .[0].ok and .[0].pid == $p' >/dev/null ||
	{ lines_after "$LOG" "$before" >&2; fail "the finished apply of pid $first is not in the trail"; }
sut "audit verify after a kill" audit verify --log "$LOG"
assert_applied "$first" exe-fix
assert_alive "$second"

# 4. Concurrent suture runs append whole, chained lines.
sut "revert" revert -p "$first" exe-fix
"$SUTURE" apply -p "$A" "$T/exe-fix.suture" >/dev/null 2>&1 &
c1=$!
"$SUTURE" apply -p "$B" "$T/exe-fix.suture" >/dev/null 2>&1 &
c2=$!
wait "$c1" || true
wait "$c2" || true
sut "audit verify after concurrent runs" audit verify --log "$LOG" --json
jq -e '.ok' "$T/last.out" >/dev/null || fail "concurrent appends broke the chain: $(cat "$T/last.out")"
assert_alive "$A"
assert_alive "$B"
