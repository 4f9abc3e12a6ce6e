#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two static functions named check() live in one library (a.c and b.c); the fix changes
# only b.c's. After apply only b's result changes and a's stays: the patch found the right
# `check` by its file scope. Revert brings b back.
source "$(dirname "$0")/../lib.sh"
require_suture

start_scenario dup_static '^x=[0-9]+ a=[0-9]+ b=[0-9]+$'
settled_awk "$T/out" '[ =]' '$4 == $2 + 100 && $6 == $2 + 200'

build_patch b-check "$S/fix.diff" libdup.so
sut "inspect" inspect "$T/b-check.suture" --json
jq -e '[.functions[] | .name + "@" + (.file // "" | split("/") | last)] == ["check@b.c"]' \
	"$T/last.out" >/dev/null ||
	fail "the patch should replace b.c's check() only: $(jq -c '.functions' "$T/last.out")"

sut "apply" apply -p "$PID" "$T/b-check.suture"
settled_awk "$T/out" '[ =]' '$4 == $2 + 100 && $6 == $2 + 300' 5
assert_applied "$PID" b-check
assert_alive "$PID"

sut "revert" revert -p "$PID" b-check
settled_awk "$T/out" '[ =]' '$4 == $2 + 100 && $6 == $2 + 200' 5
assert_applied "$PID" ""
assert_alive "$PID"
