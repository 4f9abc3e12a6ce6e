#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One read of a process per job (architecture.md, "One read of a process per job"): a job
# reads the target's maps once for its view and once in each freeze, and passes over its
# objects once, however many patches it applies; the patches are applied all the same.
# Counted with strace (one file per thread) on `apply -p PID A B`, `revert -p PID B A` and
# `apply --all A`, under the full freeze (SUTURE_FREEZE=all); under the default, the
# partial freeze, each attempt that finds sleepers reads the maps once more, before it
# stops anyone, to check them (architecture.md): `apply -p PID A B` once more, then
# between 1 + freezes and 1 + 2 x freezes reads.
source "$(dirname "$0")/../lib.sh"
require_suture
export SUTURE_FREEZE=all
command -v strace >/dev/null || skip "strace is not installed (scripts/deps.sh installs it)"

build_scenario lib_func
start_bg "$T/out" "$S/prog"
PID=$BG_PID
wait_for_line "$T/out" '^n=[1-9] price=[0-9]+$'
build_patch fix-a "$S/fix.diff" libfoo.so
build_patch fix-b "$S/fix.diff" libfoo.so # the same function again: stacked on fix-a
EXE_LO=$(awk 'NR == 1 { split($1, a, "-"); print a[1]; exit }' "/proc/$PID/maps")

# traced NAME ARGS...: suture ARGS --json under strace; the trace in $T/NAME.trace
traced() {
	local name=$1; shift
	strace -ff -qq -s 1 -e trace=openat,process_vm_readv -o "$T/$name.tr" \
		"$SUTURE" "$@" --json >"$T/$name.json" 2>"$T/$name.err" ||
		{ cat "$T/$name.err" >&2; fail "suture $* failed"; }
	cat "$T/$name.tr".* >"$T/$name.trace"
}
# check NAME: maps opens == 1 + the freezes the JSON reports; one pass over the objects
check() {
	local name=$1 maps passes freezes
	maps=$(grep -c "openat(.*\"/proc/$PID/maps\"" "$T/$name.trace" || true)
	passes=$(grep -E "process_vm_readv\($PID, .*\], 1, \[\{iov_base=0x0*$EXE_LO, " \
		"$T/$name.trace" | grep -vc " = -1" || true)
	freezes=$(jq --argjson p "$PID" '[.results[] | select(.pid == $p) | .attempts] | add' \
		"$T/$name.json")
	[ "$maps" -eq $((1 + freezes)) ] ||
		fail "$name: $maps reads of the maps for $freezes freeze(s) (want $((1 + freezes)))"
	[ "$passes" -eq 1 ] || fail "$name: $passes passes over the objects (want 1)"
	note "$name: maps read $maps times ($freezes freezes), objects once"
}

traced apply_two apply -p "$PID" "$T/fix-a.suture" "$T/fix-b.suture"
check apply_two
settled_awk "$T/out" '[ =]' '$4 == $2 * 9' 12
assert_applied "$PID" "fix-a fix-b"

traced revert_two revert -p "$PID" fix-b fix-a
check revert_two
settled_awk "$T/out" '[ =]' '$4 == $2 * 7' 12
assert_applied "$PID" ""

traced apply_all apply --all "$T/fix-a.suture"
check apply_all
settled_awk "$T/out" '[ =]' '$4 == $2 * 9' 12
assert_applied "$PID" fix-a
sut "revert" revert -p "$PID" fix-a

# the default: the partial freeze
traced() {
	local name=$1; shift
	SUTURE_FREEZE= strace -ff -qq -s 1 -e trace=openat,process_vm_readv -o "$T/$name.tr" \
		"$SUTURE" "$@" --json >"$T/$name.json" 2>"$T/$name.err" ||
		{ cat "$T/$name.err" >&2; fail "suture $* failed"; }
	cat "$T/$name.tr".* >"$T/$name.trace"
}
traced partial_two apply -p "$PID" "$T/fix-a.suture" "$T/fix-b.suture"
maps=$(grep -c "openat(.*\"/proc/$PID/maps\"" "$T/partial_two.trace" || true)
freezes=$(jq --argjson p "$PID" '[.results[] | select(.pid == $p) | .attempts] | add' \
	"$T/partial_two.json")
[ "$maps" -ge $((1 + freezes)) ] && [ "$maps" -le $((1 + 2 * freezes)) ] ||
	fail "partial_two: $maps reads of the maps for $freezes freeze(s) (want $((1 + freezes)) to $((1 + 2 * freezes)))"
note "partial_two: maps read $maps times ($freezes freezes)"
assert_applied "$PID" "fix-a fix-b"
sut "revert" revert -p "$PID" fix-b fix-a
assert_alive "$PID"
