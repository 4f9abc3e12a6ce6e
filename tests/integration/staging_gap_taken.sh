#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The gap chosen at plan time is taken before staging maps the patch there (as the dynamic
# linker of a starting process maps a library into it): staging checks the gap again once
# its thread is stopped, picks another one, links the image for it and applies. The page
# that took the gap is left alone, and the patch works (SUTURE_FAULT=stage-gap:fail maps
# that page from inside staging, once).
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario daemon_worker
start_bg "$T/out" "$S/worker" loop
PID=$BG_PID
wait_for_line "$T/out" "^pid=$PID value=1$"
build_patch gap-fix "$S/fix.diff" libfix.so
SUTURE_FAULT=stage-gap:fail "$SUTURE" apply -p "$PID" "$T/gap-fix.suture" --json >"$T/apply.json" 2>"$T/apply.err" ||
	{ cat "$T/apply.err" >&2; fail "apply with the planned gap taken failed"; }
taker=$(awk '/memfd:suture-test-gap/ {print $1}' "/proc/$PID/maps")
patch=$(awk '/memfd:suture:gap-fix/ {print $1}' "/proc/$PID/maps" | head -n 1)
[ -n "$taker" ] || fail "the fault did not map a page into the gap"
[ -n "$patch" ] || fail "the patch is not mapped: $(grep memfd "/proc/$PID/maps")"
[ "${taker%-*}" != "${patch%-*}" ] || fail "the patch was mapped over the page that took the gap"
note "gap taken at ${taker%-*}; the patch went to ${patch%-*}"
n=$(nlines "$T/out")
wait_for_new_line "$T/out" "$n" "^pid=$PID value=2$" 10
assert_applied "$PID" gap-fix
assert_alive "$PID"
