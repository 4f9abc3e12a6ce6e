#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A suture killed inside the partial freeze's three-pass write of an entry leaves an int3
# over its first byte (the other four old or new). Repair must take that entry back like a
# written jump. The state is made by hand: an apply killed just after its journal
# (SUTURE_FAULT=journal:kill), the process stopped (SIGSTOP) so that nothing calls the
# function meanwhile, an int3 written over the first byte of value(); then `suture repair`,
# SIGCONT: the process must go on with the original function, and apply must work again.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario sleepers
build_patch sleepers-fix "$S/fix.diff" prog

start_bg "$T/out" "$S/prog"
PID=$BG_PID
wait_for_line "$T/out" '^iter=3 value=1003 '
set +e
SUTURE_FAULT=journal:kill timeout 60 "$SUTURE" apply -p "$PID" "$T/sleepers-fix.suture" >"$T/k.out" 2>"$T/k.err"
rc=$?
set -e
[ "$rc" = 137 ] || { cat "$T/k.err" >&2; fail "apply with SUTURE_FAULT=journal:kill exited $rc"; }
[ "$("$SUTURE" status -p "$PID" --json | jq -r '.processes[0].transaction')" = interrupted-apply ] ||
	fail "no interrupted apply recorded"

# value()'s address: the program's load address (its mapping at offset 0) plus the symbol
exe=$(readlink "/proc/$PID/exe")
base=$(awk -v e="$exe" '$6 == e && $3 == "00000000" {split($1, r, "-"); print r[1]; exit}' "/proc/$PID/maps")
sym=$(nm "$S/prog" | awk '$3 == "value" {print $1}')
[ -n "$base" ] && [ -n "$sym" ] || fail "cannot find value() (base '$base', symbol '$sym')"
addr=$((0x$base + 0x$sym))
kill -STOP "$PID"
orig=$(dd if="/proc/$PID/mem" bs=1 skip="$addr" count=5 2>/dev/null | od -An -tx1 | tr -d ' \n')
printf '\xcc' | dd of="/proc/$PID/mem" bs=1 seek="$addr" conv=notrunc 2>/dev/null
now=$(dd if="/proc/$PID/mem" bs=1 skip="$addr" count=5 2>/dev/null | od -An -tx1 | tr -d ' \n')
[ "${now:0:2}" = cc ] || fail "could not write the int3 (entry now $now)"

sut "repair" repair -p "$PID"
grep -q 'rolled back the interrupted apply of sleepers-fix' "$T/last.out" "$T/last.err" ||
	fail "repair did not report the roll-back: $(cat "$T/last.out" "$T/last.err")"
fixed=$(dd if="/proc/$PID/mem" bs=1 skip="$addr" count=5 2>/dev/null | od -An -tx1 | tr -d ' \n')
[ "$fixed" = "$orig" ] || fail "repair left $fixed at value(), expected $orig"
kill -CONT "$PID"
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3} ' 'value=2[0-9]{3}'
assert_alive "$PID"
sut "apply after the repair" apply -p "$PID" "$T/sleepers-fix.suture"
settled_output "$T/out" '^iter=[0-9]+ value=2[0-9]{3} ' 'value=1[0-9]{3}'
assert_alive "$PID"
stop_bg "$PID"
