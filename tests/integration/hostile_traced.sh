#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A target held by another debugger (a tracer of our own, from the hostile_stopped
# scenario, that PTRACE_SEIZEs it and passes its signals on) is refused with an error
# naming the tracer, and nothing changes: mappings, file descriptors, output, status. The
# tracer keeps its tracee. Once the tracer is gone the same apply works.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue hostile_stopped '^iter=3 value=1003$' trace-fix prog

# 1. Another debugger holds the process.
start_bg "$T/tracer.out" "$S/tracer" "$PID"
TRACER=$BG_PID
wait_for_line "$T/tracer.out" "^seized $PID\$"
maps_before=$(cat "/proc/$PID/maps")
fds_before=$(fd_targets "$PID")
sut_bounded 30 apply -p "$PID" "$T/trace-fix.suture"
[ "$SUT_RC" -ne 0 ] || fail "apply to a process traced by $TRACER succeeded"
stderr_mentions "(^|[^0-9])$TRACER([^0-9]|\$)" "the tracer's PID ($TRACER)"
stderr_mentions "trac|debugg" "that the process is being traced"
assert_alive "$PID"
assert_applied "$PID" ""
[ "$(cat "/proc/$PID/maps")" = "$maps_before" ] ||
	fail "the refused apply changed the mappings: $(diff <(echo "$maps_before") "/proc/$PID/maps")"
[ "$(fd_targets "$PID")" = "$fds_before" ] || fail "the refused apply changed the file descriptors"
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
tracer_now=$(awk '/^TracerPid:/ {print $2}' "/proc/$PID/status")
[ "$tracer_now" = "$TRACER" ] || fail "process $PID is traced by '$tracer_now' after the refused apply, not by $TRACER"

# 2. Tracer gone: the same apply works.
stop_bg "$TRACER"
sut "apply once the tracer is gone" apply -p "$PID" "$T/trace-fix.suture"
settled_output "$T/out" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}'
sut "revert" revert -p "$PID" trace-fix
settled_output "$T/out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
assert_alive "$PID"
