#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Invariant 6 at the step where a target thread's registers are borrowed: suture SIGKILLed
# inside staging (SUTURE_FAULT=stage-mapped:kill: the image mapped by remote system calls,
# the thread that ran them still held) many times over. Each time the target keeps running
# the old code (it must not die of a trap flag or borrowed registers left behind), and the
# next suture releases the staged memory and applies and reverts normally. The moments
# inside the remote calls themselves: kill_remote_call.sh.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue exe_func '^iter=[0-9]+ value=1[0-9]{3}$' exe-fix prog
OLD='^iter=[0-9]+ value=1[0-9]{3}$' NEW='^iter=[0-9]+ value=2[0-9]{3}$'

patch_mappings() { grep -c '/memfd:suture:' "/proc/$PID/maps" || true; }
ROUNDS=${ROUNDS:-25}

for i in $(seq 1 "$ROUNDS"); do
	set +e
	SUTURE_FAULT=stage-mapped:kill timeout 60 "$SUTURE" apply -p "$PID" "$T/exe-fix.suture" \
		>"$T/last.out" 2>"$T/last.err"
	rc=$?
	set -e
	[ "$rc" = 137 ] || fail "round $i: apply with SUTURE_FAULT=stage-mapped:kill exited $rc"
	# the thread that ran the remote calls must go on running its own code: a trap flag
	# left set would kill it (SIGTRAP) within its next instruction
	n0=$(nlines "$T/out")
	sleep 0.1
	kill -0 "$PID" 2>/dev/null ||
		fail "round $i: the target died after suture was killed in staging: $(wait "$PID"; echo "status $?")"
	assert_alive "$PID"
	wait_for_new_line "$T/out" "$n0" "$OLD" ||
		fail "round $i: the target makes no progress after suture was killed in staging"
	assert_alive "$PID"
	[ "$(proc_state "$PID")" != t ] || fail "round $i: the target was left traced-stopped"
	assert_applied "$PID" ""
done

# the staged memory of the killed runs is still there; the next transaction releases it
sut "apply after the kills" apply -p "$PID" "$T/exe-fix.suture"
settled_output "$T/out" "$NEW" "$OLD"
sut "revert after the kills" revert -p "$PID" exe-fix
settled_output "$T/out" "$OLD" "$NEW"
[ "$(patch_mappings)" = 0 ] || fail "patch memory left after the kills: $(grep suture "/proc/$PID/maps")"
"$SUTURE" status -p "$PID" --json | jq -e '.processes[0].transaction == "none"' >/dev/null ||
	fail "status reports an interrupted transaction after the kills"
assert_alive "$PID"
echo "PASS: $ROUNDS kills in staging, target alive, next suture repaired"
