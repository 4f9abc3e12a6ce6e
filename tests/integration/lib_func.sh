#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A function of a shared library (libfoo.so, loaded by prog through its rpath) is replaced
# in a running process, then restored; the process keeps running.
source "$(dirname "$0")/../lib.sh"
require_suture

start_scenario lib_func '^n=[1-9] price=[0-9]+$'
settled_awk "$T/out" '[ =]' '$4 == $2 * 7'

build_patch libfoo-fix "$S/fix.diff" libfoo.so
sut "apply" apply -p "$PID" "$T/libfoo-fix.suture"
settled_awk "$T/out" '[ =]' '$4 == $2 * 9' 12
assert_applied "$PID" libfoo-fix
assert_alive "$PID"

# status names the library (by its path), not the executable, as the patched object.
jq -e --arg id libfoo-fix '[.processes[].objects[] | select(.patches[]?.id == $id) |
	.path | test("libfoo\\.so$")] | any' "$T/status.json" >/dev/null ||
	fail "status does not show the patch on libfoo.so: $(cat "$T/status.json")"

sut "revert" revert -p "$PID" libfoo-fix
settled_awk "$T/out" '[ =]' '$4 == $2 * 7' 12
assert_applied "$PID" ""
assert_alive "$PID"
