#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A patch built for one build of a program is refused by a process running another build
# whose code is byte for byte the same (only a string differs, so only the build-id tells
# them apart): apply fails naming the build-id, and that process is left as it was. The
# same patch applies to a process of the build it was made for.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario wrong_build
build_patch exe-fix "$S/fix.diff" prog

# The other build: same tree, another tag of the same length.
copy_scenario wrong_build "$T/other"
sed -i 's/"tree-1"/"tree-2"/' "$T/other/main.c"
make -C "$T/other" >"$T/other.make.log" 2>&1 || { cat "$T/other.make.log" >&2; fail "make of the other build failed"; }
id1=$(readelf -n "$S/prog" | awk '/Build ID/ {print $3}')
id2=$(readelf -n "$T/other/prog" | awk '/Build ID/ {print $3}')
[ -n "$id1" ] && [ "$id1" != "$id2" ] || fail "the two builds should have different build-ids ($id1, $id2)"

start_bg "$T/other.out" "$T/other/prog"
OTHER=$BG_PID
wait_for_line "$T/other.out" '^iter=2 value=1002$'
maps_before=$(cat "/proc/$OTHER/maps")

expect_fail "apply to a process of another build" "$SUTURE" apply -p "$OTHER" "$T/exe-fix.suture"
stderr_mentions 'build[- ]?id' "the build-id"
stderr_mentions "$OTHER" "the process"
assert_alive "$OTHER"
assert_applied "$OTHER" ""
[ "$(cat "/proc/$OTHER/maps")" = "$maps_before" ] || fail "the refused apply changed the mappings"
settled_output "$T/other.out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'

# Control: the patch itself is good, for the build it was made for.
start_bg "$T/out" "$S/prog"
PID=$BG_PID
wait_for_line "$T/out" '^iter=1 value=1001$'
sut "apply to the right build" apply -p "$PID" "$T/exe-fix.suture"
settled_output "$T/out" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}'
sut "revert" revert -p "$PID" exe-fix
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
assert_alive "$PID"
settled_output "$T/other.out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
