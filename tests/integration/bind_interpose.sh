#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Interposition: one patch, applied to the same program started twice, once plainly and
# once with LD_PRELOAD=libinterpose.so (which defines strcasecmp, strcoll and strverscmp
# with marker results 555, 333, 777). The patched code must call what the dynamic linker
# chose for each process:
#   - strcasecmp, which prog already calls through its PLT/GOT: the same binding as prog;
#   - strcoll, which prog only references by address (a versioned data relocation, no GOT
#     slot), now called directly: the new binding must equal prog's own (tab == coll),
#     i.e. the preloaded unversioned definition satisfies the versioned reference;
#   - strverscmp, which prog never referenced: the preloaded one when preloaded.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario bind_interpose
start_bg "$T/plain.out" "$S/prog"
PLAIN=$BG_PID
start_bg "$T/pre.out" env LD_PRELOAD="$S/libinterpose.so" "$S/prog"
PRE=$BG_PID
wait_for_line "$T/plain.out" '^iter=[0-9]+ case=-?[0-9]+ tab=-?[0-9]+$'
wait_for_line "$T/pre.out" '^iter=[0-9]+ case=-?[0-9]+ tab=-?[0-9]+$'
grep -q libinterpose "/proc/$PRE/maps" || fail "the preloaded process does not map libinterpose.so"
# fields (split on ' ' and '='): 2 iter, 4 case, 6 tab, 8 ver, 10 coll
# libc: byte order, only v9 equals; preloaded: the markers, in prog's own calls too
PLAIN_OLD='NF == 6 && ($2 % 20 == 9 ? $4 == 0 : $4 < 0) && $6 == $4'
PRE_OLD='NF == 6 && $4 == 555 && $6 == 333'
settled_awk "$T/plain.out" '[ =]' "$PLAIN_OLD"
settled_awk "$T/pre.out" '[ =]' "$PRE_OLD"

build_patch rank-more "$S/fix.diff" prog
sut "apply to both" apply -p "$PLAIN" -p "$PRE" "$T/rank-more.suture"
# libc: strverscmp puts v10..v19 after v9; strcoll (C locale) is the byte order
settled_awk "$T/plain.out" '[ =]' 'NF == 10 && $6 == $4 && $10 == $6 &&
	($2 % 20 == 9 ? $4 == 0 && $8 == 0 : $4 < 0 && ($2 % 20 < 9 ? $8 < 0 : $8 > 0))' 22
settled_awk "$T/pre.out" '[ =]' 'NF == 10 && $4 == 555 && $6 == 333 && $8 == 777 && $10 == $6' 5
assert_applied "$PLAIN" rank-more
assert_applied "$PRE" rank-more

sut "revert from both" revert -p "$PLAIN" -p "$PRE" rank-more
settled_awk "$T/plain.out" '[ =]' "$PLAIN_OLD" 5
settled_awk "$T/pre.out" '[ =]' "$PRE_OLD" 5
assert_applied "$PLAIN" ""
assert_applied "$PRE" ""
assert_alive "$PLAIN"
assert_alive "$PRE"
