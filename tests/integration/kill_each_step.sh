#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Invariant 6: suture killed (SIGKILL) or failing at each step of apply and revert, through
# the SUTURE_FAULT switch. Whatever the step, the target keeps running with either the old
# or the new behaviour, never a mix; status reports what was left half-done and changes
# nothing (invariant 8: read-only commands never write), `suture repair` then repairs it
# and says so; no patch memory is left behind; a normal apply/revert then works.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue exe_func '^iter=[0-9]+ value=1[0-9]{3}$' exe-fix prog
OLD='^iter=[0-9]+ value=1[0-9]{3}$' NEW='^iter=[0-9]+ value=2[0-9]{3}$'

patch_mappings() { grep -c '/memfd:suture:' "/proc/$PID/maps" || true; }

# faulty ACTION STEP CMD...: run suture with the fault; it must not succeed... except
# when the step is past the point of no return, where a "fail" is ignored by design.
faulty() {
	local action=$1 step=$2; shift 2
	set +e
	SUTURE_FAULT="$step:$action" timeout 60 "$SUTURE" "$@" >"$T/last.out" 2>"$T/last.err"
	local rc=$?
	set -e
	echo "$rc"
}

# status_run: status (twice: the first must not have repaired anything) reports the
# interrupted transaction, if any, in $TXN; then `suture repair` repairs it and reports
# what it did in $T/status.err.
status_run() {
	local again
	"$SUTURE" status -p "$PID" >"$T/status.out" 2>"$T/status.err" ||
		{ cat "$T/status.err" >&2; fail "status after fault failed"; }
	TXN=$("$SUTURE" status -p "$PID" --json | jq -r '.processes[0].transaction')
	again=$("$SUTURE" status -p "$PID" --json | jq -r '.processes[0].transaction')
	[ "$TXN" = "$again" ] || fail "status changed the process: transaction '$TXN', then '$again'"
	if [ "$TXN" != none ]; then
		grep -q 'WARNING: interrupted' "$T/status.out" ||
			fail "status does not report the interrupted transaction: $(cat "$T/status.out")"
	fi
	"$SUTURE" repair -p "$PID" >"$T/repair.out" 2>"$T/status.err" ||
		{ cat "$T/status.err" >&2; fail "repair after fault failed"; }
	[ "$("$SUTURE" status -p "$PID" --json | jq -r '.processes[0].transaction')" = none ] ||
		fail "repair left an interrupted transaction"
}

for action in kill fail; do
	for step in staged frozen journal jump committed; do
		note "apply, $step:$action"
		rc=$(faulty "$action" "$step" apply -p "$PID" "$T/exe-fix.suture")
		assert_alive "$PID"
		if [ "$action" = kill ]; then
			[ "$rc" = 137 ] || fail "apply with SUTURE_FAULT=$step:kill exited $rc, expected 137"
		fi
		# a second suture run: status reports a journalled transaction, repair repairs it
		# and says so; leftover staged memory is released by the next apply/revert
		status_run
		case $step in
		journal | jump)
			if [ "$action" = kill ]; then
				[ "$TXN" = interrupted-apply ] || fail "status reports '$TXN' after a kill at $step"
				grep -q 'rolled back the interrupted apply of exe-fix' "$T/status.err" ||
					fail "status did not report the repair after a kill at $step: $(cat "$T/status.err")"
			fi ;;
		esac
		if [ "$step" = committed ]; then
			assert_applied "$PID" exe-fix
			settled_output "$T/out" "$NEW" "$OLD"
			sut "revert after $step" revert -p "$PID" exe-fix
		else
			assert_applied "$PID" ""
			settled_output "$T/out" "$OLD" "$NEW"
			# the next transaction releases any staged memory, then works
			sut "apply after $step:$action" apply -p "$PID" "$T/exe-fix.suture"
			settled_output "$T/out" "$NEW" "$OLD"
			sut "revert after $step:$action" revert -p "$PID" exe-fix
		fi
		settled_output "$T/out" "$OLD" "$NEW"
		[ "$(patch_mappings)" = 0 ] || fail "patch memory left after $step:$action: $(grep suture "/proc/$PID/maps")"
	done

	for step in revert-frozen revert-journal revert-restore revert-committed; do
		sut "apply before $step" apply -p "$PID" "$T/exe-fix.suture"
		settled_output "$T/out" "$NEW" "$OLD"
		note "revert, $step:$action"
		rc=$(faulty "$action" "$step" revert -p "$PID" exe-fix)
		assert_alive "$PID"
		[ "$action" = fail ] || [ "$rc" = 137 ] || fail "revert with SUTURE_FAULT=$step:kill exited $rc"
		status_run
		if [ "$action" = kill ] && { [ "$step" = revert-journal ] || [ "$step" = revert-restore ]; }; then
			[ "$TXN" = interrupted-revert ] || fail "status reports '$TXN' after a kill at $step"
			grep -q 'finished the interrupted revert of exe-fix' "$T/status.err" ||
				fail "status did not report finishing the revert after $step: $(cat "$T/status.err")"
		fi
		if [ "$step" = revert-frozen ] || { [ "$action" = fail ] && [ "$step" != revert-committed ]; }; then
			# nothing was changed: still applied
			assert_applied "$PID" exe-fix
			settled_output "$T/out" "$NEW" "$OLD"
			sut "revert after $step:$action" revert -p "$PID" exe-fix
		else
			assert_applied "$PID" ""
		fi
		settled_output "$T/out" "$OLD" "$NEW"
		# one more transaction releases leftover memory (revert-committed skips the unmap)
		sut "apply after $step:$action" apply -p "$PID" "$T/exe-fix.suture"
		sut "revert after $step:$action" revert -p "$PID" exe-fix
		[ "$(patch_mappings)" = 0 ] || fail "patch memory left after $step:$action: $(grep suture "/proc/$PID/maps")"
	done
done
assert_alive "$PID"
