#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Targets whose seccomp filter forbids the system calls suture injects (SECCOMP_RET_ERRNO,
# so the process survives them): one forbids mmap and memfd_create, one only mmap (so a
# memfd can be created but not mapped, and must not be left open in the target). Apply
# fails with a clear error, and each process is unchanged: same mappings, same file
# descriptors, same output, no patch in status.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario hostile_seccomp
build_patch seccomp-fix "$S/fix.diff" prog

for forbidden in mmap,memfd mmap; do
	start_bg "$T/out.$forbidden" "$S/prog" "$forbidden"
	PID=$BG_PID
	wait_for_line "$T/out.$forbidden" '^iter=3 value=1003$'
	grep -q "^filtered $forbidden\$" "$T/out.$forbidden" && ! grep -q allowed "$T/out.$forbidden" ||
		{ cat "$T/out.$forbidden" >&2; fail "the seccomp filter ($forbidden) is not in force"; }
	maps_before=$(cat "/proc/$PID/maps")
	fds_before=$(fd_targets "$PID")

	sut_bounded 30 apply -p "$PID" "$T/seccomp-fix.suture"
	[ "$SUT_RC" -ne 0 ] || fail "apply succeeded in a process that forbids $forbidden"
	note "forbidden $forbidden: $(head -n 1 "$T/last.err")"
	stderr_mentions "(^|[^0-9])$PID([^0-9]|\$)" "the process ($PID)"
	stderr_mentions 'mmap|memfd|seccomp|not permitted|EPERM' "the system call refused or why"

	assert_alive "$PID"
	assert_applied "$PID" ""
	[ "$(cat "/proc/$PID/maps")" = "$maps_before" ] ||
		fail "the failed apply changed the mappings: $(diff <(echo "$maps_before") "/proc/$PID/maps")"
	[ "$(fd_targets "$PID")" = "$fds_before" ] ||
		fail "the failed apply left file descriptors: $(diff <(echo "$fds_before") <(fd_targets "$PID"))"
	settled_output "$T/out.$forbidden" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
	stop_bg "$PID"
done
