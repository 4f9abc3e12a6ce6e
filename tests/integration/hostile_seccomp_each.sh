#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Targets, run as an unprivileged user, whose seccomp filter kills (SECCOMP_RET_KILL_PROCESS),
# traps (SECCOMP_RET_TRAP: a SIGSYS) or fails (SECCOMP_RET_ERRNO) one of the system calls
# suture makes inside a process: mmap, memfd_create, ftruncate, close, munmap (the fix has
# data of its own, so its mapping has a read-write part, made by a second mmap of the
# memfd; munmap is only on staging's failure path, which is checked too). suture
# reads the filters, finds the refusal before its first remote call, and fails naming the
# call and the action: the process lives on, gets no SIGSYS, and is unchanged (same
# mappings, same descriptors, same output, nothing in status). Then systemd's
# MemoryDenyWriteExecute=, modelled twice: refusing any PROT_EXEC mapping (suture refuses
# to apply: its code must be executable), and exactly as systemd does (write+exec
# mappings, mprotect to exec): suture maps nothing writable and executable, so the apply
# succeeds under it and the fix runs. A filter that kills every mprotect does not stop the
# apply either: staging makes none (it did once, for the read-write part). Finally a filter installed after the apply that
# kills munmap: revert refuses before writing a byte, and the patch stays applied.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario hostile_seccomp_each
build_patch seccomp-fix "$S/fix.diff" prog
# the program runs as nobody: it must reach its binary and nothing else of the test
chmod 755 "$T" "$S"
AS_USER=(setpriv --reuid=65534 --regid=65534 --clear-groups --)

refused() { # ACTION CALL ACTION_NAME [NAMED]: apply must fail naming the call (NAMED,
	# default CALL) and ACTION_NAME
	local action=$1 call=$2 name=$3 named=${4:-$2} out=$T/out.$1.$2
	start_bg "$out" "${AS_USER[@]}" "$S/prog" "$action" "$call"
	local pid=$BG_PID
	wait_for_line "$out" '^iter=3 value=1003$'
	grep -q "^filtered $action $call\$" "$out" || { cat "$out" >&2; fail "filter $action $call not in force"; }
	[ "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" = 65534 ] || fail "prog does not run as nobody"
	local maps fds
	maps=$(cat "/proc/$pid/maps")
	fds=$(fd_targets "$pid")
	sut_bounded 30 apply -p "$pid" "$T/seccomp-fix.suture"
	[ "$SUT_RC" -ne 0 ] || fail "apply succeeded although seccomp answers $name to $call"
	note "$action $call: $(head -n 1 "$T/last.err")"
	stderr_mentions "(^|[^0-9])$pid([^0-9]|\$)" "the process ($pid)"
	stderr_mentions "to $named," "the call ($named)"
	stderr_mentions "$name" "the action ($name)"
	assert_alive "$pid"
	! grep -q SIGSYS "$out" || fail "$action $call: the target received a SIGSYS"
	assert_applied "$pid" ""
	[ "$(cat "/proc/$pid/maps")" = "$maps" ] ||
		fail "$action $call: the failed apply changed the mappings: $(diff <(echo "$maps") "/proc/$pid/maps")"
	[ "$(fd_targets "$pid")" = "$fds" ] || fail "$action $call: the failed apply left file descriptors"
	settled_output "$out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}|SIGSYS' 2
	stop_bg "$pid"
}

for call in mmap memfd_create ftruncate close munmap; do
	refused kill "$call" SECCOMP_RET_KILL_PROCESS
	refused trap "$call" SECCOMP_RET_TRAP
	refused errno "$call" SECCOMP_RET_ERRNO
done
refused errno mdwe-x SECCOMP_RET_ERRNO mmap
refused kill mdwe-x SECCOMP_RET_KILL_PROCESS mmap

# every mprotect killed: staging makes none, so the apply succeeds and the fix runs
start_bg "$T/out.mprotect" "${AS_USER[@]}" "$S/prog" kill mprotect
PID=$BG_PID
wait_for_line "$T/out.mprotect" '^iter=3 value=1003$'
grep -q "^filtered kill mprotect\$" "$T/out.mprotect" || fail "filter kill mprotect not in force"
sut_bounded 30 apply -p "$PID" "$T/seccomp-fix.suture"
[ "$SUT_RC" -eq 0 ] || { cat "$T/last.err" >&2; fail "apply under a filter killing mprotect failed"; }
assert_alive "$PID"
assert_applied "$PID" "seccomp-fix"
settled_output "$T/out.mprotect" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}|SIGSYS'
stop_bg "$PID"

# systemd's own rule (write+exec, or exec by mprotect) with the harshest action: allowed
start_bg "$T/out.mdwe" "${AS_USER[@]}" "$S/prog" kill mdwe
PID=$BG_PID
wait_for_line "$T/out.mdwe" '^iter=3 value=1003$'
sut_bounded 30 apply -p "$PID" "$T/seccomp-fix.suture"
[ "$SUT_RC" -eq 0 ] || { cat "$T/last.err" >&2; fail "apply under a systemd-style MemoryDenyWriteExecute filter failed"; }
assert_alive "$PID"
assert_applied "$PID" "seccomp-fix"
settled_output "$T/out.mdwe" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}|SIGSYS'
sut_bounded 30 revert -p "$PID" seccomp-fix
[ "$SUT_RC" -eq 0 ] || { cat "$T/last.err" >&2; fail "revert under a systemd-style filter failed"; }
settled_output "$T/out.mdwe" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}|SIGSYS'
stop_bg "$PID"

# A filter that kills munmap, installed after the apply: revert must release the patch
# memory with munmap, finds that out under the freeze before writing a byte, and refuses;
# the patch stays applied and working, the process lives.
start_bg "$T/out.late" "${AS_USER[@]}" "$S/prog" kill munmap late
PID=$BG_PID
wait_for_line "$T/out.late" '^iter=3 value=1003$'
sut "apply before the filter" apply -p "$PID" "$T/seccomp-fix.suture"
settled_output "$T/out.late" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}'
kill -USR1 "$PID"
wait_for_line "$T/out.late" '^filtered kill munmap$'
sut_bounded 30 revert -p "$PID" seccomp-fix
[ "$SUT_RC" -ne 0 ] || fail "revert succeeded although seccomp kills munmap"
note "late kill munmap: $(head -n 1 "$T/last.err")"
stderr_mentions "SECCOMP_RET_KILL_PROCESS to munmap" "the call and the action"
assert_alive "$PID"
assert_applied "$PID" "seccomp-fix"
settled_output "$T/out.late" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}|SIGSYS'
stop_bg "$PID"
