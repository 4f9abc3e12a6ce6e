#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Symbol versions: libv.so.1 defines vfunc@V1 (100 + x) and the default vfunc@@V2
# (200 + x). The target libt.so was linked against an older libv that only had V1, so its
# own call is bound to V1, while prog's call gets the default V2. The fix adds a call of
# vfunc in libt (t_extra): it must bind to V1, the version libt itself uses, never to V2.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario bind_version
readelf --dyn-syms -W "$S/libt.so" | grep -q 'UND vfunc@V1' ||
	fail "the scenario is wrong: libt.so does not reference vfunc@V1"
start_bg "$T/out" "$S/prog"
PID=$BG_PID
wait_for_line "$T/out" '^i=[0-9]+ base=[0-9]+ extra=-?[0-9]+ exe=[0-9]+$'
# fields (split on ' ' and '='): 2 i, 4 base, 6 extra, 8 exe
settled_awk "$T/out" '[ =]' '$4 == 100 + $2 && $6 == -$2 && $8 == 200 + $2'

build_patch extra-vfunc "$S/fix.diff" libt.so
sut "inspect" inspect "$T/extra-vfunc.suture" --json
jq -e '[.functions[].name] == ["t_extra"]' "$T/last.out" >/dev/null ||
	fail "the patch should replace t_extra() only: $(jq -c '.functions' "$T/last.out")"

sut "apply" apply -p "$PID" "$T/extra-vfunc.suture"
settled_awk "$T/out" '[ =]' '$4 == 100 + $2 && $6 == 100 + $2 && $8 == 200 + $2' 5
assert_applied "$PID" extra-vfunc
assert_alive "$PID"

sut "revert" revert -p "$PID" extra-vfunc
settled_awk "$T/out" '[ =]' '$4 == 100 + $2 && $6 == -$2 && $8 == 200 + $2' 5
assert_applied "$PID" ""
assert_alive "$PID"
