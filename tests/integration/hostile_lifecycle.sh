#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Targets whose life changes mid-transaction. Every suture call must succeed or fail
# cleanly (saying why) within its bound, never crash or hang, and status afterwards must be
# consistent.
# 1. Targets that exit on their own 5 to 60 ms after they start while apply and revert
#    loop on them (some calls land before, during and after the exit).
# 2. A target that execs itself 8 times, 5 to 30 ms apart, while apply and revert loop;
#    the final image starts with no patch (exec replaces the memory and the registry with
#    it), and can then be patched and reverted normally.
# 3. A vfork parent whose child sleeps up to 20 ms sharing its memory before _exit or
#    exec: applying to the parent works or fails cleanly, and neither process crashes.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario hostile_lifecycle
build_patch life-fix "$S/fix.diff" prog

# churn_calls PID MAX: apply then revert on PID until it is gone or a zombie, at most MAX
# calls; counts successes in $ok.
churn_calls() {
	local pid=$1 max=$2 n st
	for ((n = 0; n < max; n++)); do
		st=$(proc_state "$pid")
		[ -n "$st" ] && [ "$st" != Z ] || return 0
		if ((n % 2 == 0)); then
			sut_bounded 30 apply -p "$pid" --timeout 500 "$T/life-fix.suture"
		else
			sut_bounded 30 revert -p "$pid" --timeout 500 life-fix
		fi
		if [ "$SUT_RC" -eq 0 ]; then ok=$((ok + 1)); fi
	done
}

# 1. Exit mid-transaction.
ok=0
for ((k = 1; k <= 20; k++)); do
	start_bg "$T/exit.$k" "$S/prog" exit $((5 + RANDOM % 56))
	pid=$BG_PID
	churn_calls "$pid" 40
	# The process has exited (a zombie until reaped, then gone): status must say so
	# cleanly, and a status of every process must still work.
	sut_bounded 30 status -p "$pid" --json
	sut_bounded 30 status --json
	[ "$SUT_RC" -eq 0 ] || { cat "$T/last.err" >&2; fail "status of all processes failed after target $pid exited"; }
	jq -e . "$T/last.out" >/dev/null || fail "status --json printed invalid JSON after target $pid exited"
	stop_bg "$pid"
	sut_bounded 30 status -p "$pid"
	[ "$SUT_RC" -ne 0 ] || fail "status -p $pid succeeded for a process that no longer exists"
done
note "exit: $ok suture calls succeeded before their target exited"

# 2. Exec mid-transaction.
ok=0
start_bg "$T/exec.out" "$S/prog" exec 8
PID=$BG_PID
for ((n = 0; n < 400; n++)); do
	grep -q '^final$' "$T/exec.out" && break
	churn_calls "$PID" 2
done
wait_for_line "$T/exec.out" '^final$' 10
note "exec: $ok suture calls succeeded while the target execed itself"
# Whatever the calls did to the images before, the final one began without patches; only
# an apply that landed after its exec can have left one.
ids=$(applied_ids "$PID")
if [ -n "$ids" ]; then
	[ "$ids" = life-fix ] || fail "after exec, status shows '$ids'"
	sut "revert in the final image" revert -p "$PID" life-fix
fi
assert_applied "$PID" ""
sut "apply to the final image" apply -p "$PID" "$T/life-fix.suture"
settled_output "$T/exec.out" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}'
sut "revert from the final image" revert -p "$PID" life-fix
settled_output "$T/exec.out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
assert_alive "$PID"
stop_bg "$PID"

# 3. vfork parent.
ok=0
start_bg "$T/vfork.out" "$S/prog" vfork
PID=$BG_PID
wait_for_line "$T/vfork.out" '^iter=3 value=1003$'
for ((r = 1; r <= 10; r++)); do
	sut_bounded 30 apply -p "$PID" --timeout 2000 "$T/life-fix.suture"
	if [ "$SUT_RC" -ne 0 ]; then
		assert_applied "$PID" ""
		continue
	fi
	ok=$((ok + 1))
	settled_output "$T/vfork.out" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}'
	until sut_bounded 30 revert -p "$PID" --timeout 2000 life-fix; [ "$SUT_RC" -eq 0 ]; do
		assert_applied "$PID" life-fix
	done
done
note "vfork: $ok of 10 applies succeeded"
assert_alive "$PID"
assert_applied "$PID" ""
settled_output "$T/vfork.out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
! grep -q '^BAD' "$T/vfork.out" || { grep '^BAD' "$T/vfork.out" | head >&2; fail "vfork children did not end well"; }
