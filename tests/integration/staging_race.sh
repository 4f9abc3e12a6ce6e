#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Between staging and the freeze the target runs, and a hostile one (run as an unprivileged
# user) can undo what suture staged: unmap the patch memory and the registry, map memory
# of its own in their place, or exec itself (the same binary, at the same addresses
# without randomisation, with nothing staged). suture is stopped right after staging
# (SUTURE_FAULT=staged:stop), the target does one of these, suture resumes: under the
# freeze it finds that the staged memory is not as it left it and aborts cleanly. The
# process lives on with its own code (old output, nothing in status), and the memory it
# mapped in place of the staged one is left alone. Last, a jump that cannot be encoded
# fails the transaction before anything is staged.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario staging_race
build_patch race-fix "$S/fix.diff" prog
chmod 755 "$T" "$S"

for mode in munmap replace exec; do
	out=$T/out.$mode
	start_bg "$out" setpriv --reuid=65534 --regid=65534 --clear-groups -- "$S/prog" "$mode"
	PID=$BG_PID
	wait_for_line "$out" '^iter=3 value=1003$'
	SUTURE_FAULT=staged:stop "$SUTURE" apply -p "$PID" "$T/race-fix.suture" \
		>"$T/apply.$mode.out" 2>"$T/apply.$mode.err" &
	SPID=$!
	STARTED_PIDS+=("$SPID")
	for ((i = 0; i < 200; i++)); do
		[ "$(proc_state "$SPID")" = T ] && break
		sleep 0.05
	done
	[ "$(proc_state "$SPID")" = T ] || { cat "$T/apply.$mode.err" >&2; fail "$mode: suture did not stop after staging"; }
	grep -q '/memfd:suture:race-fix' "/proc/$PID/maps" || fail "$mode: nothing was staged"
	n=$(nlines "$out")
	kill -USR1 "$PID"
	wait_for_new_line "$out" "$n" "^undone $mode"
	if [ "$mode" = exec ]; then wait_for_new_line "$out" "$n" '^started'; fi
	wait_for_new_line "$out" "$(nlines "$out")" '^iter='
	kept=$(sed -n "s/^undone replace \([0-9a-f]*\)\$/\1/p" "$out")
	kill -CONT "$SPID"
	rc=0
	wait "$SPID" || rc=$?
	[ "$rc" -eq 1 ] || { cat "$T/apply.$mode.err" >&2; fail "$mode: apply ended with status $rc, expected a clean failure (1)"; }
	note "$mode: $(head -n 1 "$T/apply.$mode.err")"
	grep -Eq "no longer mapped|no longer holds" "$T/apply.$mode.err" ||
		{ cat "$T/apply.$mode.err" >&2; fail "$mode: the error does not say the staged memory is gone"; }
	assert_alive "$PID"
	assert_applied "$PID" ""
	! grep -q '/memfd:suture:race-fix' "/proc/$PID/maps" || fail "$mode: patch memory left in the process"
	if [ -n "$kept" ]; then
		grep -q "^0*$kept-" "/proc/$PID/maps" ||
			fail "replace: the process's own mapping at $kept was unmapped by suture"
	fi
	settled_output "$out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
	stop_bg "$PID"
done

# A jump that cannot be encoded (the replacement taken to be 4 GiB away) fails the
# transaction before anything is staged; no entry ever gets an unencoded jump.
start_bg "$T/out.far" "$S/prog" munmap
PID=$BG_PID
wait_for_line "$T/out.far" '^iter=3 value=1003$'
maps=$(cat "/proc/$PID/maps")
SUTURE_FAULT=far-jump:fail sut_bounded 30 apply -p "$PID" "$T/race-fix.suture"
[ "$SUT_RC" -eq 1 ] || fail "apply with an unencodable jump did not fail"
stderr_mentions 'cannot be encoded' "the jump that cannot be encoded"
stderr_mentions 'value' "the function"
[ "$(cat "/proc/$PID/maps")" = "$maps" ] || fail "the failed apply changed the mappings"
assert_applied "$PID" ""
settled_output "$T/out.far" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
stop_bg "$PID"
