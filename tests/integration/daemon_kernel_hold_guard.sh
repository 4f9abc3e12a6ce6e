#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The kernel hold's guard killed on its own (docs/daemon.md, "Nobody left stopped"): its
# pid is in sutured's log and in `daemon status`. SIGKILLed alone, it is forked again at
# once (logged with both pids): new workers are still held and patched before their first
# call, and the new guard does the old one's work: with workers held by a stopped sutured
# that is then SIGKILLed, it continues them, none is left stopped. When the guard cannot be
# restarted (SUTURE_FAULT=khold-guard:fail), sutured ends the kernel hold with the reason
# in its log and status, continues what it held, and falls back to exec events: a new
# worker is patched by the connector path, none is held, none is left stopped. So does a
# guard killed a fourth time within a minute (restarted the first three).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../daemon_lib.sh"
require_sutured

khold_scenario
start_khold_sutured

# the guard's pid: logged, in the status, a child of sutured named sutured-guard
G=$(guard_of "$SD_PID")
[ -n "$G" ] || fail "the log names no guard pid that is a child of sutured: $(grep 'kernel hold' "$T/sutured.log")"
[ "$(jq .kernel_hold.guard_pid "$T/dstatus.json")" = "$G" ] ||
	fail "status names guard $(jq .kernel_hold.guard_pid "$T/dstatus.json"), the log $G"
[ "$(cat "/proc/$G/comm")" = sutured-guard ] || fail "process $G is $(cat "/proc/$G/comm"), not the guard"
"$SUTURE" daemon status --root "$R" | grep -q "guard pid $G " || fail "the human status does not name guard $G"

# 1. the guard SIGKILLed alone: restarted, logged with both pids
n=$(nlines "$T/sutured.log")
kill -9 "$G"
wait_for_new_line "$T/sutured.log" "$n" "kernel hold: its guard process \\(pid $G\\) was killed by SIGKILL; restarted as guard pid [0-9]+" 5
G2=$(guard_of "$SD_PID")
[ -n "$G2" ] && [ "$G2" != "$G" ] || fail "no new guard after $G was killed: $(tail -n 3 "$T/sutured.log")"
[ "$(cat "/proc/$G2/comm")" = sutured-guard ] || fail "the new guard $G2 is $(cat "/proc/$G2/comm")"
[ "$(proc_state "$G")" != Z ] || fail "the killed guard $G was not reaped"
dstatus
jq -e --argjson g "$G2" '.kernel_hold.state == "active" and .kernel_hold.guard_pid == $g and
	.kernel_hold.guard_restarts == 1 and .new_processes == "kernel-hold"' "$T/dstatus.json" >/dev/null ||
	fail "status after the restart: $(jq -c '{kernel_hold: (.kernel_hold | del(.probes)), new_processes}' "$T/dstatus.json")"
note "guard $G SIGKILLed: restarted as $G2"

# the hold still works: each new worker held, patched before its first call, continued
k0=$(jq .counters.kheld "$T/dstatus.json")
setsid -w "$S/supervisor" 5 5 "$S/kworker" >"$T/after.out" 2>&1 || fail "the supervisor failed"
[ "$(count_lines "$T/after.out" '^pid=[0-9]+ first=2 libctor=2 userctor=2$')" -eq 5 ] ||
	fail "workers after the guard's restart ran the old code: $(cat "$T/after.out")"
dstatus
[ "$(jq .counters.kheld "$T/dstatus.json")" -ge $((k0 + 5)) ] ||
	fail "the workers after the restart were not held: $(jq -c .counters "$T/dstatus.json")"

# the new guard guards: sutured stopped while workers start (they stay held), then
# SIGKILLed: the new guard continues them, none is left stopped
kill_holding_sutured 3 "$T/kill.out"
[ "$(count_lines "$T/kill.out" '^pid=[0-9]+ first=')" -eq 3 ] ||
	fail "not every held worker ran on after sutured was killed: $(cat "$T/kill.out")"
# alive: running or asleep, not a zombie left to a parent that does not reap
alive() { case $(proc_state "$1") in "" | Z | X) return 1 ;; esac; }
for ((i = 0; i < 100; i++)); do alive "$G2" || break; sleep 0.05; done
! alive "$G2" || fail "the restarted guard $G2 did not leave after sutured died"
note "sutured SIGKILLed with 3 workers held: the restarted guard continued them"

# 2. the guard cannot be restarted: the kernel hold ends, with the reason, and sutured
# falls back to exec events; what it held is continued
SUTURE_FAULT=khold-guard:fail start_sutured
G=$(guard_of "$SD_PID")
[ -n "$G" ] || fail "the second sutured's log names no guard"
kill -STOP "$SD_PID"
setsid "$S/supervisor" 2 1 "$S/kworker" >"$T/fb.out" 2>&1 &
SUP=$!
STARTED_PIDS+=("$SUP")
wait_held "$SUP" 2
n=$(nlines "$T/sutured.log")
kill -9 "$G"
kill -CONT "$SD_PID"
wait_for_new_line "$T/sutured.log" "$n" "^<4>sutured: kernel hold ended: its guard process \\(pid $G\\) was killed by SIGKILL and cannot be restarted: injected failure.*patched after they start" 5
wait "$SUP" || fail "the supervisor failed after the fallback"
[ "$(count_lines "$T/fb.out" '^pid=[0-9]+ first=')" -eq 2 ] ||
	fail "not every worker held at the fallback ran on: $(cat "$T/fb.out")"
dstatus
jq -e '.kernel_hold.state == "unavailable" and (.kernel_hold.detail | test("guard process.*cannot be restarted")) and
	.new_processes == "proc-connector" and (.kernel_hold.probes | length == 0) and .held_now == 0' \
	"$T/dstatus.json" >/dev/null ||
	fail "status after the fallback: $(jq -c '{kernel_hold, new_processes, held_now}' "$T/dstatus.json")"
k0=$(jq .counters.kheld "$T/dstatus.json")
e0=$(jq .counters.exec_events "$T/dstatus.json")
start_bg "$T/w.out" setsid "$S/worker" loop
wait_for_line "$T/w.out" '^pid=[0-9]+ value=' 10
W=$(sed -n 's/^pid=\([0-9]*\) value=.*/\1/p' "$T/w.out" | head -n 1)
ms=$(wait_value "$T/w.out" "$W" 2 5)
dstatus
[ "$(jq .counters.kheld "$T/dstatus.json")" -eq "$k0" ] || fail "a worker was held after the fallback"
[ "$(jq .counters.exec_events "$T/dstatus.json")" -gt "$e0" ] ||
	fail "the fallback did not use exec events: $(jq -c .counters "$T/dstatus.json")"
[ "$(proc_state "$W")" != T ] || fail "the worker after the fallback is stopped"
note "guard killed and not restartable: fallback to exec events, a new worker patched within $ms ms of its first line"
kill -9 "$W" 2>/dev/null || true
stop_sutured

# 3. a guard that keeps dying: restarted 3 times, and the 4th death within a minute ends
# the kernel hold the same way (something keeps killing it; sutured does not fork in a loop)
start_sutured
for i in 1 2 3 4; do
	G=$(guard_of "$SD_PID")
	[ -n "$G" ] || fail "no guard before kill $i: $(grep 'kernel hold' "$T/sutured.log" | tail -n 3)"
	n=$(nlines "$T/sutured.log")
	kill -9 "$G"
	if [ "$i" -lt 4 ]; then
		wait_for_new_line "$T/sutured.log" "$n" "its guard process \\(pid $G\\) was killed by SIGKILL; restarted as guard pid [0-9]+ \\($i of 3" 5
	else
		wait_for_new_line "$T/sutured.log" "$n" "kernel hold ended: its guard process \\(pid $G\\) was killed by SIGKILL: 4 deaths within a minute" 5
	fi
done
dstatus
jq -e '.kernel_hold.state == "unavailable" and .new_processes == "proc-connector"' "$T/dstatus.json" >/dev/null ||
	fail "status after the 4th death: $(jq -c '{kernel_hold, new_processes}' "$T/dstatus.json")"
[ -z "$(cat /proc/"$SD_PID"/task/*/children 2>/dev/null)" ] || fail "sutured still has children after the fallback"
setsid -w "$S/kworker" >"$T/last4.out" 2>&1 || fail "a worker failed after the fallback"
grep -Eq '^pid=[0-9]+ first=[12] ' "$T/last4.out" || fail "a worker after the fallback: $(cat "$T/last4.out")"
note "guard killed 4 times within a minute: restarted 3 times, then the fallback"
stop_sutured
