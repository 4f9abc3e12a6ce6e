#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A new call that the target references as strcoll@GLIBC_2.2.5 (no GOT slot) binds as the
# dynamic linker would: to libc's strcoll in a plain process, and to an unversioned
# interposer preloaded in front of libc (which satisfies a versioned reference).
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario bind_versioned_interposer
readelf -rW "$S/prog" | grep -q 'R_X86_64_64 .* strcoll@GLIBC_2.2.5 + 1' ||
	fail "the scenario is wrong: prog has no strcoll@GLIBC_2.2.5 + 1 relocation"
readelf -rW "$S/prog" | grep -Eq '(GLOB_DAT|JUMP_SLO).* strcoll' &&
	fail "the scenario is wrong: prog has a GOT slot for strcoll"
readelf -V "$S/libinterpose.so" | grep -q 'No version information' ||
	fail "the scenario is wrong: libinterpose.so has version information"
start_bg "$T/plain.out" "$S/prog"
PLAIN=$BG_PID
start_bg "$T/pre.out" env LD_PRELOAD="$S/libinterpose.so" "$S/prog"
PRE=$BG_PID
wait_for_line "$T/plain.out" '^iter=[0-9]+ case=-?[0-9]+$'
wait_for_line "$T/pre.out" '^iter=[0-9]+ case=-?[0-9]+$'

build_patch rank-coll "$S/fix.diff" prog
sut "inspect" inspect "$T/rank-coll.suture" --json
jq -c '.bindings' "$T/last.out" >&2
sut "apply to both" apply -p "$PLAIN" -p "$PRE" "$T/rank-coll.suture"
# fields (split on ' ' and '='): 2 iter, 4 case, 6 coll
# libc's strcoll in the C locale is the byte order: only v9 equals v9
settled_awk "$T/plain.out" '[ =]' 'NF == 6 && ($2 % 20 == 9 ? $6 == 0 : $6 < 0)' 5
settled_awk "$T/pre.out" '[ =]' 'NF == 6 && $6 == 333' 5

sut "revert from both" revert -p "$PLAIN" -p "$PRE" rank-coll
settled_awk "$T/pre.out" '[ =]' 'NF == 4' 3
assert_alive "$PLAIN"
assert_alive "$PRE"
