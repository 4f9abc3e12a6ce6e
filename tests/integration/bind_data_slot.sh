#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A new call to a function the target references only through a pointer in writable data
# (not a GOT slot) binds as an external symbol in the dynamic linker's order, never
# through that pointer, which the program may have changed (it has: to its own function).
# With an unversioned interposer preloaded, the preloaded definition wins, as for the
# dynamic linker.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario bind_data_slot
readelf -rW "$S/prog" | grep -q 'R_X86_64_64 .* strcoll@GLIBC_2.2.5' ||
	fail "the scenario is wrong: prog has no absolute relocation against strcoll@GLIBC_2.2.5"
readelf -rW "$S/prog" | grep -Eq '(GLOB_DAT|JUMP_SLO).* strcoll' &&
	fail "the scenario is wrong: prog has a real GOT slot for strcoll"
start_bg "$T/plain.out" "$S/prog"
PLAIN=$BG_PID
start_bg "$T/pre.out" env LD_PRELOAD="$S/libinterpose.so" "$S/prog"
PRE=$BG_PID
wait_for_line "$T/plain.out" '^iter=[0-9]+ cfg=444$'
wait_for_line "$T/pre.out" '^iter=[0-9]+ cfg=444$'

build_patch rank-coll "$S/fix.diff" prog
sut "apply to both" apply -p "$PLAIN" -p "$PRE" "$T/rank-coll.suture"
# fields (split on ' ' and '='): 2 iter, 4 cfg, 6 coll
# libc's strcoll in the C locale is the byte order: only v9 equals v9
settled_awk "$T/plain.out" '[ =]' 'NF == 6 && $4 == 444 && ($2 % 20 == 9 ? $6 == 0 : $6 < 0)' 5
settled_awk "$T/pre.out" '[ =]' 'NF == 6 && $4 == 444 && $6 == 333' 5

sut "revert from both" revert -p "$PLAIN" -p "$PRE" rank-coll
settled_awk "$T/plain.out" '[ =]' 'NF == 4 && $4 == 444' 3
assert_alive "$PLAIN"
assert_alive "$PRE"
