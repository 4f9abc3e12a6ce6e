#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sutured: time from exec to patched for new processes, the added latency of an exec loop
# of an unrelated program (/bin/true) with sutured running against without, a burst of
# DAEMON_BURST (default 1000) process starts (all patched? none missed?), and the daemon's
# memory and CPU when idle. The daemon runs in the foreground on a private store root, for
# a library whose build-id is unique to this run. Prints one JSON document.
source "$(dirname "$0")/lib.sh"
SUTURED=${SUTURED:-$BENCH_TOP/out/sutured}
[ -x "$SUTURED" ] || die "$SUTURED is not built (run make)"
[ "$(id -u)" -eq 0 ] || die "sutured needs root"
BURST=${DAEMON_BURST:-1000}
LOOP=${DAEMON_EXEC_LOOP:-2000}
IDLE_S=${DAEMON_IDLE_SECONDS:-10}
[ "$BENCH_QUICK" = 1 ] && { BURST=${DAEMON_BURST:-200}; LOOP=${DAEMON_EXEC_LOOP:-500}; IDLE_S=${DAEMON_IDLE_SECONDS:-5}; }

W=$(mktemp -d /tmp/suture-bench-daemon-XXXXXX)
OWN_DAEMON_WORK=$W
trap 'bench_cleanup; rm -rf "$OWN_DAEMON_WORK"' EXIT
if [ -z "${SUTURE_SIGNING_KEY:-}" ]; then
	"$SUTURE" keygen "$W/k.pem" "$W/pub.pem" 2>/dev/null
	export SUTURE_SIGNING_KEY=$W/k.pem SUTURE_TRUSTED_KEYS=$W/pub.pem
fi
export SUTURE_AUDIT_LOG=$W/audit.jsonl
S=$W/tree
cp -a "$BENCH_TOP/tests/scenarios/daemon_worker" "$S"
cp "$BENCH_TOP/tests/scenarios/scenario.mk" "$S/" # the Makefile includes it
echo "const char daemon_worker_token[] = \"bench-$$-$RANDOM\";" >"$S/token.c"
make -C "$S" >"$W/make.log" 2>&1 || { cat "$W/make.log" >&2; die "make of daemon_worker failed"; }
"$SUTURE" build --src "$S" --diff "$S/fix.diff" --target libfix.so -o "$W/fix.suture" \
	--id bench-dw-fix >"$W/build.log" 2>&1 || { cat "$W/build.log" >&2; die "suture build failed"; }
R=$W/root
"$SUTURE" store add --root "$R" "$W/fix.suture" 2>/dev/null || die "store add failed"
# the kernel hold probes the library from the start (it is in no library folder)
mkdir -p "$R/etc/suture"
printf '[daemon]\nhold-paths=%s\n' "$S" >"$R/etc/suture/suture.conf"

# start_daemon [ARGS...]
start_daemon() {
	"$SUTURED" --foreground --root "$R" "$@" >>"$W/sutured.log" 2>&1 &
	SD=$!
	STARTED_PIDS+=("$SD")
	for ((i = 0; i < 200; i++)); do
		[ -S "$R/run/suture/sutured.sock" ] && "$SUTURE" daemon status --root "$R" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	die "sutured did not start"
}
status() { "$SUTURE" daemon status --root "$R" --json; }

# exec loop of /bin/true: wall time per exec; runs with and without sutured alternate (5
# each) so that the machine's changing load weighs on both alike
HOLD=$BENCH_TOP/out/libsutured-hold.so
export SUTURED_HOLD_SOCKET=$R/run/suture/hold.sock
loop_once() {
	local t0
	t0=$(now_us)
	for ((i = 0; i < LOOP; i++)); do /bin/true; done
	echo $((($(now_us) - t0) * 1000 / LOOP))
}
# the same with every /bin/true preloading libsutured-hold.so (held and released)
loop_held() {
	local t0
	t0=$(now_us)
	for ((i = 0; i < LOOP; i++)); do LD_PRELOAD=$HOLD /bin/true; done
	echo $((($(now_us) - t0) * 1000 / LOOP))
}
log "daemon: exec loop of /bin/true, $LOOP execs, 5 runs without sutured, 5 with (kernel hold), 5 with --no-kernel-hold (exec events)"
wo=() wi=() wh=() wc=()
for r in 1 2 3 4 5; do
	wo+=("$(loop_once)")
	start_daemon
	wi+=("$(loop_once)")
	wh+=("$(loop_held)")
	kill "$SD"; wait "$SD" 2>/dev/null || true
	start_daemon --no-kernel-hold
	wc+=("$(loop_once)")
	kill "$SD"; wait "$SD" 2>/dev/null || true
done
without=$(printf '%s\n' "${wo[@]}" | stats)
with=$(printf '%s\n' "${wi[@]}" | stats)
held=$(printf '%s\n' "${wh[@]}" | stats)
withconn=$(printf '%s\n' "${wc[@]}" | stats)
start_daemon
[ "$(status | jq -r .kernel_hold.state)" = active ] ||
	log "daemon: the kernel hold is not active: $(status | jq -r .kernel_hold.detail)"

# exec to patched, one start at a time (a worker that stays up)
log "daemon: exec to patched, 20 single starts"
lat=()
for ((k = 0; k < 20; k++)); do
	setsid "$S/worker" loop >/dev/null &
	p=$!
	t0=$(now_us)
	STARTED_PIDS+=("$p")
	while ! grep -q 'memfd:suture:bench-dw-fix' "/proc/$p/maps" 2>/dev/null; do
		[ $(($(now_us) - t0)) -gt 5000000 ] && break
	done
	lat+=($(($(now_us) - t0)))
	kill -9 "$p"; wait "$p" 2>/dev/null || true
done
single=$(printf '%s\n' "${lat[@]}" | stats)
st1=$(status)

# burst: BURST starts as fast as the supervisor can (1 ms apart), each worker checks its
# value at its start and 3 s later (setsid: no controlling terminal, which the kernel
# hold leaves alone by default)
log "daemon: burst of $BURST starts"
setsid -w "$S/supervisor" "$BURST" 1 "$S/worker" 3000 >"$W/burst.out" 2>&1
first_fixed=$(grep -c ' first=2$' "$W/burst.out" || true)
later_fixed=$(grep -c ' later=2$' "$W/burst.out" || true)
later_old=$(grep -c ' later=1$' "$W/burst.out" || true)
died=$(grep -c '^died ' "$W/burst.out" || true)
st2=$(status)
log "daemon: burst of $BURST held starts (preloading libsutured-hold.so)"
SUTURED_HOLD_TIMEOUT_MS=10000 LD_PRELOAD=$HOLD setsid -w "$S/supervisor" "$BURST" 1 "$S/worker" 0 >"$W/held.out" 2>&1
held_first_fixed=$(grep -c ' first=2$' "$W/held.out" || true)
held_died=$(grep -c '^died ' "$W/held.out" || true)
st3=$(status)

# idle: no start of ours for IDLE_S seconds (the machine's other processes still exec)
log "daemon: idle for $IDLE_S s"
sleep 1
read -r ut0 stt0 < <(awk '{print $14, $15}' "/proc/$SD/stat")
ev0=$(status | jq .counters.exec_events)
sleep "$IDLE_S"
read -r ut1 stt1 < <(awk '{print $14, $15}' "/proc/$SD/stat")
ev1=$(status | jq .counters.exec_events)
hz=$(getconf CLK_TCK)
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SD/status")
cpu_pct=$(echo "scale=3; ($ut1 + $stt1 - $ut0 - $stt0) * 100 / $hz / $IDLE_S" | bc)

jq -n --argjson without "$without" --argjson with "$with" --argjson single "$single" \
	--argjson held "$held" --argjson withconn "$withconn" --argjson st3 "$st3" --argjson hff "$held_first_fixed" --argjson hd "$held_died" \
	--argjson st1 "$st1" --argjson st2 "$st2" --argjson burst "$BURST" \
	--argjson ff "$first_fixed" --argjson lf "$later_fixed" --argjson lo "$later_old" \
	--argjson died "$died" --argjson rss "$rss" --arg cpu "$cpu_pct" --argjson idle "$IDLE_S" \
	--argjson ev "$((ev1 - ev0))" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" '
	{benchmark: "daemon", mechanism: $st2.new_processes, rescan_ms: $st2.rescan_ms,
	 exec_loop_true_ns: {without_sutured: $without, with_sutured: $with,
			     added_pct: ((($with.median - $without.median) * 10000 / $without.median | round) / 100),
			     with_sutured_no_kernel_hold: $withconn,
			     no_kernel_hold_added_pct: ((($withconn.median - $without.median) * 10000 / $without.median | round) / 100),
			     with_sutured_preload_held: $held,
			     held_added_pct: ((($held.median - $without.median) * 10000 / $without.median | round) / 100),
			     issue_target_added_pct: 5},
	 kernel_hold: {state: $st2.kernel_hold.state,
		       stopped_us_single: {avg: $st1.counters.khold_avg_us, max: $st1.counters.khold_max_us},
		       stopped_us_after_burst: {avg: $st2.counters.khold_avg_us, max: $st2.counters.khold_max_us},
		       stops: $st2.counters.kheld, held_unpatched: $st2.counters.held_unpatched},
	 exec_to_patched_us: {single_starts_seen_from_outside: $single,
			      daemon_counted_single: {avg: $st1.counters.exec_to_patched_avg_us,
						      max: $st1.counters.exec_to_patched_max_us},
			      daemon_counted_after_burst: {avg: $st2.counters.exec_to_patched_avg_us,
							   max: $st2.counters.exec_to_patched_max_us}},
	 burst: {starts: $burst, first_call_already_fixed: $ff, patched_within_3s: $lf,
		 not_patched_within_3s: $lo, died: $died,
		 connector_overruns: $st2.counters.connector_overruns, failed_transactions: $st2.counters.failed},
	 held_burst: {starts: $burst, first_call_already_fixed: $hff, died: $hd,
		      hold_avg_us: $st3.counters.hold_avg_us, hold_max_us: $st3.counters.hold_max_us},
	 loadavg: $load,
	 idle: {seconds: $idle, rss_kb: $rss, cpu_percent: ($cpu | tonumber),
		exec_events_from_other_processes: $ev},
	 note: "kernel_hold.stopped_us: from the stop at the first initialiser of the target library to the SIGCONT after the patch (the process runs none of its code meanwhile). exec_to_patched seen from outside: from the spawn as seen by the shell to the patch mapped. Without the kernel hold (connector), a worker calling the function within that window runs the old code once (docs/daemon.md). The exec loop runs while other processes of the machine may run too."}'
