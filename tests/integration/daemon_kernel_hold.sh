#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The kernel hold (docs/daemon.md): sutured puts a uprobe on the first initialiser of
# libfix.so, the target of dw-fix; every process whose dynamic linker is about to run that
# library's initialisers is stopped there, patched and continued. A supervisor starts a
# worker every few milliseconds; each worker's first call in main, the call in libfix.so's
# own constructor and the one in the constructor of a library that needs it (libuser.so)
# already return the fixed value, for every worker. The same with workers that load
# libfix.so with dlopen (patched before dlopen returns). Each is patched once, none is
# released unpatched. Processes held by a sutured that is SIGKILLed are continued by its
# guard; stops that nobody continued (sutured and guard killed) are taken over by the
# next sutured, which patches them, from the pinned held map; a stuck sutured is
# overtaken by its guard after 12 s. A process traced by a debugger is not stopped (and
# listed with the reason). A patch removed takes its probe with it.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../daemon_lib.sh"
require_sutured

N=${DAEMON_STARTS:-200}
khold_scenario
start_khold_sutured
jq -e --arg s "$S/libfix.so" '[.kernel_hold.probes[] | select(.path == $s)] | length == 1' \
	"$T/dstatus.json" >/dev/null || fail "no probe on libfix.so: $(jq -c .kernel_hold "$T/dstatus.json")"
note "probe: $(jq -c '.kernel_hold.probes[0]' "$T/dstatus.json")"

# no controlling terminal (a terminal's processes are not held by default)
setsid -w "$S/supervisor" "$N" 5 "$S/kworker" >"$T/workers.out" 2>&1 || fail "the supervisor failed"
grep -q "^started $N$" "$T/workers.out" || fail "the supervisor did not start $N workers: $(tail -n 3 "$T/workers.out")"
! grep -q '^died' "$T/workers.out" || fail "workers died: $(grep '^died' "$T/workers.out" | head -n 3)"
ok=$(count_lines "$T/workers.out" '^pid=[0-9]+ first=2 libctor=2 userctor=2$')
note "$N workers 5 ms apart: fixed in main, libfix.so's and libuser.so's constructors in $ok"
[ "$ok" -eq "$N" ] || fail "$((N - ok)) of $N workers ran the old code: $(grep -v 'first=2 libctor=2 userctor=2' "$T/workers.out" | head -n 3)"
for pid in $(sed -n 's/^pid=\([0-9]*\) first=.*/\1/p' "$T/workers.out"); do
	c=$(audit_count apply "$pid")
	[ "$c" -eq 1 ] || fail "worker $pid was patched $c times"
done

# dlopen: patched before dlopen returns (the library's constructor already sees the fix)
setsid -w "$S/supervisor" "$N" 5 "$S/dlonce" >"$T/dl.out" 2>&1 || fail "the dlopen supervisor failed"
grep -q "^started $N$" "$T/dl.out" || fail "the dlopen supervisor did not start $N workers"
ok=$(count_lines "$T/dl.out" '^pid=[0-9]+ dl=2 libctor=2$')
note "$N dlopen workers 5 ms apart: fixed in the constructor and right after dlopen in $ok"
if [ "$ok" -ne "$N" ]; then
	for p in $(grep -v 'dl=2 libctor=2' "$T/dl.out" | sed -n 's/^pid=\([0-9]*\) .*/\1/p' | head -n 3); do
		echo "--- sutured on $p:" >&2; grep -w "$p" "$T/sutured.log" >&2 || true
	done
	dstatus; jq -c .counters "$T/dstatus.json" >&2
	fail "$((N - ok)) of $N dlopen workers ran the old code: $(grep -v 'dl=2 libctor=2' "$T/dl.out" | head -n 3)"
fi

dstatus
jq -e ".counters.kheld >= $((2 * N)) and .counters.held_unpatched == 0" "$T/dstatus.json" >/dev/null ||
	fail "the daemon did not hold every worker, or released some unpatched: $(jq -c .counters "$T/dstatus.json")"
jq -r '.counters | "kernel hold: \(.kheld) stops, avg \(.khold_avg_us) us, max \(.khold_max_us) us stopped"' "$T/dstatus.json" >&2

# a process with a controlling terminal is not stopped by default (a job-control shell
# would report it stopped); it is patched right after, as an exec event
if command -v script >/dev/null; then
	script -qec "$S/kworker" /dev/null >"$T/tty.out" 2>&1 || fail "the worker on a terminal failed"
	grep -Eq 'first=[12]' "$T/tty.out" || fail "the worker on a terminal printed nothing: $(cat "$T/tty.out")"
	dstatus
	jq -e '.counters.khold_not_held >= 1' "$T/dstatus.json" >/dev/null ||
		fail "the worker on a terminal was held: $(jq -c .counters "$T/dstatus.json")"
fi

# a process traced by a debugger is not stopped (the debugger would see the SIGSTOP): it
# runs on, and the daemon lists it with the reason it cannot patch it
SW=$S
build_scenario hostile_stopped "$T/hs"
TRACER_BIN=$S/tracer
S=$SW
dstatus
nh0=$(jq .counters.khold_not_held "$T/dstatus.json")
start_bg "$T/traced.out" setsid "$S/dlworker" 1000
DW=$BG_PID
start_bg "$T/tracer.out" "$TRACER_BIN" "$DW"
TR=$BG_PID
wait_for_line "$T/tracer.out" "^seized $DW\$"
wait_for_line "$T/traced.out" "^pid=$DW loaded\$" 10
n=$(nlines "$T/traced.out")
wait_for_new_line "$T/traced.out" "$n" "^pid=$DW value=" 5
[ "$(proc_state "$DW")" != T ] || fail "the traced process was stopped"
for ((i = 0; i < 100; i++)); do
	dstatus
	jq -e --argjson p "$DW" '.unpatched[] | select(.pid == $p) | .reason | test("trac|debugg")' \
		"$T/dstatus.json" >/dev/null && break
	sleep 0.05
done
jq -e --argjson p "$DW" '.unpatched[] | select(.pid == $p) | .reason | test("trac|debugg")' \
	"$T/dstatus.json" >/dev/null || fail "the traced process is not listed with its reason: $(jq -c .unpatched "$T/dstatus.json")"
[ "$(jq .counters.khold_not_held "$T/dstatus.json")" -gt "$nh0" ] || fail "the traced process was not told as not held"
note "traced by a debugger: not stopped, listed: $(jq -r --argjson p "$DW" '.unpatched[] | select(.pid == $p) | .reason' "$T/dstatus.json" | head -c 120)"
kill -9 "$TR" "$DW" 2>/dev/null || true
{ wait "$TR"; wait "$DW"; } 2>/dev/null || true

# a sutured that lives but does not answer (stopped): its guard continues a held process
# once its stop is 12 s old, so no stop lasts longer whatever sutured does
kill -STOP "$SD_PID"
t0=$(date +%s%N)
setsid "$S/kworker" >"$T/bound.out" 2>&1 &
W=$!
STARTED_PIDS+=("$W")
wait "$W" || fail "the worker held by a stopped sutured failed"
ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "$SD_PID"
grep -q 'first=1' "$T/bound.out" || fail "the worker held by a stopped sutured: $(cat "$T/bound.out")"
[ "$ms" -ge 11500 ] && [ "$ms" -lt 16000 ] || fail "the guard continued the worker after $ms ms (want 12-14 s)"
note "sutured stopped: its guard continued the held worker after $ms ms"

# sutured stopped (not reading its events) while workers start: they stay held; then it is
# SIGKILLed: its guard continues them (unpatched: nobody patched them) and none stays stopped
kill_holding_sutured 3 "$T/kill.out"
grep -q '^started 3$' "$T/kill.out" || fail "held workers did not finish after sutured was killed: $(cat "$T/kill.out")"
[ "$(count_lines "$T/kill.out" '^pid=[0-9]+ first=')" -eq 3 ] || fail "not every held worker ran on: $(cat "$T/kill.out")"
note "sutured SIGKILLed with 3 workers held: its guard continued them"

# sutured and its guard both SIGKILLed: the stops stay in the pinned map, and the next
# sutured takes them over: patched, then continued
start_sutured
kill -STOP "$SD_PID"
G=$(guard_of "$SD_PID")
[ -n "$G" ] || fail "sutured has no guard process"
setsid "$S/supervisor" 2 1 "$S/kworker" >"$T/adopt.out" 2>&1 &
SUP=$!
STARTED_PIDS+=("$SUP")
wait_held "$SUP" 2
kill -9 "$G" "$SD_PID"
wait "$SD_PID" 2>/dev/null || true
sleep 0.3
[ "$(held_pids "$SUP" | wc -l)" -eq 2 ] || fail "the held workers did not stay stopped without sutured and guard"
start_sutured
wait "$SUP" || fail "the supervisor failed after the take-over"
[ "$(count_lines "$T/adopt.out" '^pid=[0-9]+ first=2 libctor=2 userctor=2$')" -eq 2 ] ||
	fail "the workers a new sutured took over were not patched before they ran: $(cat "$T/adopt.out")"
grep -q 'taken over' "$T/sutured.log" || fail "the new sutured did not say it took over held processes"
note "sutured and guard SIGKILLed with 2 workers held: the next sutured patched and continued them"

# a patch removed from the store takes its probe with it: a worker then runs unheld
"$SUTURE" store remove --root "$R" dw-fix >/dev/null 2>&1 || fail "store remove failed"
for ((i = 0; i < 100; i++)); do
	dstatus
	jq -e '.kernel_hold.probes | length == 0' "$T/dstatus.json" >/dev/null && break
	sleep 0.05
done
jq -e '.kernel_hold.probes | length == 0' "$T/dstatus.json" >/dev/null ||
	fail "the probe stayed after the patch was removed: $(jq -c .kernel_hold "$T/dstatus.json")"
k0=$(jq .counters.kheld "$T/dstatus.json")
setsid -w "$S/kworker" >"$T/after.out" 2>&1 || fail "a worker failed after the removal"
grep -q 'first=1 libctor=1 userctor=1' "$T/after.out" || fail "a worker after the removal: $(cat "$T/after.out")"
dstatus
[ "$(jq .counters.kheld "$T/dstatus.json")" -eq "$k0" ] || fail "a worker was held after the patch was removed"
stop_sutured
