#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sutured killed with SIGKILL at random moments while processes start and the patch is
# added and removed: no process dies, none is left half-patched, nothing is applied twice
# (the state is in the processes' registries), and the restarted daemon converges to the
# store's state, including a removal made while it was down (its managed-ids file).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../daemon_lib.sh"
require_sutured

daemon_scenario
sut "store add" store add --root "$R" "$T/dw-fix.suture"
LOOPS=()
for i in 1 2 3; do
	start_bg "$T/loop$i.out" "$S/worker" loop
	LOOPS+=("$BG_PID")
done
start_sutured
# workers keep starting through all of it
"$S/supervisor" 60 100 "$S/worker" 2500 >"$T/workers.out" 2>&1 &
SUP=$!
STARTED_PIDS+=("$SUP")

for round in 1 2 3 4 5 6; do
	sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
	stop_sutured KILL
	case $round in
	2) sut "store remove while down" store remove --root "$R" dw-fix ;;
	3) sut "store add while down" store add --root "$R" "$T/dw-fix.suture" ;;
	5) sut "store remove while down" store remove --root "$R" dw-fix ;;
	esac
	start_sutured
	# some kills land while it works: sometimes right after it serves
	[ $((round % 2)) -eq 0 ] && { sleep 0.05; stop_sutured KILL; start_sutured; }
	if [ "$round" -eq 4 ]; then
		sut "store policy manual" store policy --root "$R" dw-fix manual
		sleep "0.0$((RANDOM % 10))"
		stop_sutured KILL
		sut "store policy auto" store policy --root "$R" dw-fix auto
		start_sutured
	fi
done
# the store ends without the patch (round 5): every loop worker is reverted
for i in 1 2 3; do
	p=${LOOPS[$((i - 1))]}
	wait_value "$T/loop$i.out" "$p" 1 3 >/dev/null
	assert_applied "$p" ""
	assert_alive "$p"
done
# and back in: every process gets it, once
sut "store add" store add --root "$R" "$T/dw-fix.suture"
for i in 1 2 3; do
	p=${LOOPS[$((i - 1))]}
	wait_value "$T/loop$i.out" "$p" 2 3 >/dev/null
	assert_applied "$p" dw-fix
done
wait "$SUP" || fail "the supervisor failed"
grep -q '^started 60$' "$T/workers.out" || fail "the supervisor did not start its 60 workers"
# Every worker printed both lines and exited 0. A SIGKILL of sutured while a worker's
# thread is borrowed for remote system calls leaves that thread its way home
# (docs/architecture.md, "A killed suture inside a remote system call"): no worker may
# die, whatever the moment of the kill.
if grep -q '^died ' "$T/workers.out"; then
	grep '^died ' "$T/workers.out" >&2
	fail "a worker died while sutured was killed at random"
fi
[ "$(count_lines "$T/workers.out" '^pid=[0-9]+ later=[12]$')" -eq 60 ] ||
	fail "some workers did not finish: $(grep -c later "$T/workers.out") of 60"
if grep -q 'already applied' "$SUTURE_AUDIT_LOG"; then
	grep 'already applied' "$SUTURE_AUDIT_LOG" | head -n 3 >&2
	fail "a restarted sutured tried to apply a patch twice"
fi
for p in "${LOOPS[@]}"; do
	a=$(audit_count apply "$p")
	r=$(audit_count revert "$p")
	[ $((a - r)) -eq 1 ] || fail "process $p: $a applies and $r reverts recorded, not one more apply"
done
dstatus
jq -e '.unpatched == [] and .managed == ["dw-fix"]' "$T/dstatus.json" >/dev/null ||
	fail "the daemon did not converge: $(cat "$T/dstatus.json")"
