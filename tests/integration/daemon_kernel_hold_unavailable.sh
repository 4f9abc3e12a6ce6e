#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Without the kernel hold (its BPF program does not load, as on a kernel without BPF or
# uprobes: SUTURE_FAULT=khold-load:fail), sutured says so in its log at priority warning
# and in `suture daemon status` (human and --json, with the reason), falls back to exec
# events from the process-events connector, and still patches new processes right after
# they start.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../daemon_lib.sh"
require_sutured

khold_scenario
export SUTURE_FAULT=khold-load:fail
start_sutured
unset SUTURE_FAULT
grep -Eq '^<4>sutured: kernel hold unavailable: cannot load the BPF program: injected failure.*patched after they start' \
	"$T/sutured.log" || fail "the log does not say the kernel hold is unavailable: $(cat "$T/sutured.log")"
dstatus
jq -e '.kernel_hold.state == "unavailable" and (.kernel_hold.detail | test("injected failure")) and
	.new_processes == "proc-connector" and (.kernel_hold.probes | length == 0)' "$T/dstatus.json" >/dev/null ||
	fail "status does not report the fallback: $(jq -c '{kernel_hold, new_processes}' "$T/dstatus.json")"
"$SUTURE" daemon status --root "$R" >"$T/human.out" || fail "daemon status (human) failed"
grep -q '^kernel hold: unavailable (cannot load the BPF program' "$T/human.out" ||
	{ cat "$T/human.out" >&2; fail "the human status does not show the kernel hold unavailable"; }
grep -q 'new processes by proc-connector' "$T/human.out" || fail "the human status does not show the fallback"

# the fallback patches a new process right after it starts
start_bg "$T/w.out" setsid "$S/worker" loop
wait_for_line "$T/w.out" '^pid=[0-9]+ value=' 10
W=$(sed -n 's/^pid=\([0-9]*\) value=.*/\1/p' "$T/w.out" | head -n 1)
ms=$(wait_value "$T/w.out" "$W" 2 5)
note "kernel hold unavailable: a new worker patched by the connector path within $ms ms of its first line"
dstatus
jq -e '.counters.kheld == 0 and .counters.exec_events >= 1' "$T/dstatus.json" >/dev/null ||
	fail "the fallback did not use exec events: $(jq -c .counters "$T/dstatus.json")"
stop_sutured
