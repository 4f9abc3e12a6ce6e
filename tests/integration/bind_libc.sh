#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The fix adds a call to strverscmp, a libc function the running program never imported
# (no PLT entry, no GOT slot, no dynamic symbol): suture must resolve it at apply time in
# the process's own libc, in the dynamic linker's order. The output proves it is the real
# function: strverscmp orders v10..v19 after v9, where the byte order (strcasecmp, which
# the program already calls) puts them before.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario bind_libc
readelf --dyn-syms -W "$S/prog" | grep -qw strverscmp &&
	fail "the scenario is wrong: prog already imports strverscmp"
start_bg "$T/out" "$S/prog"
PID=$BG_PID
wait_for_line "$T/out" '^iter=[0-9]+ case=-?[0-9]+$'
# byte order: only v9 equals V9, every other vN (v10..v19 too) sorts before it
settled_awk "$T/out" '[ =]' 'NF == 4 && ($2 % 20 == 9 ? $4 == 0 : $4 < 0)'

build_patch rank-ver "$S/fix.diff" prog
sut "inspect" inspect "$T/rank-ver.suture" --json
jq -e '[.functions[].name] == ["rank"]' "$T/last.out" >/dev/null ||
	fail "the patch should replace rank() only: $(jq -c '.functions' "$T/last.out")"

sut "apply" apply -p "$PID" "$T/rank-ver.suture"
# version order: v0..v8 before v9, v10..v19 after it; the byte order is unchanged
settled_awk "$T/out" '[ =]' 'NF == 6 && $5 == "ver" &&
	($2 % 20 == 9 ? $4 == 0 && $6 == 0 : $4 < 0 && ($2 % 20 < 9 ? $6 < 0 : $6 > 0))' 22
assert_applied "$PID" rank-ver
assert_alive "$PID"

sut "revert" revert -p "$PID" rank-ver
settled_awk "$T/out" '[ =]' 'NF == 4 && ($2 % 20 == 9 ? $4 == 0 : $4 < 0)' 5
assert_applied "$PID" ""
assert_alive "$PID"
