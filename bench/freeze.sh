#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Freeze time of apply and revert against a target with 1, 10, 100 and 1000 threads,
# measured by suture (--json: freeze_us, total_us; and the wall time of the command) and by
# the target itself (the longest gap each kind of thread saw between two iterations of its
# loop, minus its own period: the stall). Prints one JSON document.
#
# Per the issue: the main thread calls the patched function every millisecond; at 10
# threads half the workers spin and half sleep 1 ms; at 100 and 1000 one worker spins and
# the others sleep (1 ms at 100, 100 ms at 1000). 20 runs (5 at 1000 threads). Then
# (issue 12) 1000 threads of which 998 sleep for good (in turn in nanosleep, FUTEX_WAIT and
# epoll_wait: SLEEP_US 0), and 10 threads with 5 spinning, 20 runs each.
# Each run measures both freezes, interleaved on the same target (the order alternates
# from run to run): the partial freeze (the default, sleepers left asleep; run with
# SUTURE_FREEZE=sleepers: "apply", "revert") and the full freeze of every thread
# (SUTURE_FREEZE=all, the opt-out: "full_freeze_apply", "full_freeze_revert").
# FREEZE_MODES="all" or "sleepers" measures one only.
# FREEZE_BASELINE=PATH (another suture binary, e.g. built from an earlier commit) adds a
# third mode, "baseline": that binary's full freeze, interleaved in the same runs
# ("baseline_full_freeze_apply", "baseline_full_freeze_revert"), so that a change is
# measured before and after on one target in one run; FREEZE_BASELINE_MODE=sleepers makes
# it that binary's partial freeze instead (the keys keep their names). tool_phases_median_us: where the
# committing freeze spent its time (suture's --json phases_us, the median of each).
# BENCH_QUICK=1: 1, 10 and 100 threads, 5 runs. FREEZE_CONFIGS overrides the list with
# "THREADS:SPINNERS:SLEEP_US:RUNS ..." entries.
source "$(dirname "$0")/lib.sh"
bench_setup

if [ -n "${FREEZE_CONFIGS:-}" ]; then
	configs=$FREEZE_CONFIGS
elif [ "$BENCH_QUICK" = 1 ]; then
	configs="1:0:1000:5 10:4:1000:5 100:1:1000:5"
else
	configs="1:0:1000:20 10:4:1000:20 100:1:1000:20 1000:1:100000:5 1000:1:0:10 10:5:1000:20"
fi
modes=${FREEZE_MODES:-all sleepers}
if [ -n "${FREEZE_BASELINE:-}" ]; then
	[ -x "$FREEZE_BASELINE" ] || die "FREEZE_BASELINE=$FREEZE_BASELINE is not an executable"
	modes="$modes baseline"
fi
# Rounds with no suture at all: what the target sees on this machine anyway.
IDLE_ROUNDS=${IDLE_ROUNDS:-10}
MAIN_PERIOD_US=1000

fifo=$BENCH_WORK/freeze.fifo
rm -f "$fifo"
mkfifo "$fifo"

# ask_gaps: SIGUSR1 to the target, read its "gaps main=NS spin=NS sleep=NS" line; the
# target starts a new window at that moment. Sets GAPS to "MAIN SPIN SLEEP" (ns).
ask_gaps() {
	local line
	kill -USR1 "$PID"
	IFS= read -r -t 10 line <&"$GAPS_FD" || die "no answer from the target (pid $PID) in 10 s"
	[[ $line =~ ^gaps\ main=(-?[0-9]+)\ spin=(-?[0-9]+)\ sleep=(-?[0-9]+)$ ]] ||
		die "unexpected line from the target: $line"
	GAPS="${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]}"
}

# record_window FILE: after a window, append "MAIN_US SPIN_US SLEEP_US STALL_US" to FILE,
# the stall being the worst gap beyond the thread's own period over all kinds.
record_window() {
	ask_gaps
	echo "$GAPS" | awk -v mp="$MAIN_PERIOD_US" -v sp="$SLEEP_US" '{
		m = $1 / 1000; s = $2 / 1000; z = $3 / 1000
		st = m - mp
		if ($2 >= 0 && s > st) st = s
		if ($3 >= 0 && z - sp > st) st = z - sp
		if (st < 0) st = 0
		printf "%.1f %.1f %.1f %.1f\n", m, ($2 < 0 ? -1 : s), ($3 < 0 ? -1 : z), st
	}' >>"$1"
}

# settle: long enough after suture returns that every thread has finished the iteration
# the freeze fell into (a sleeper's iteration is SLEEP_US long), plus a margin.
settle() { sleep "$(echo "scale=3; ($SLEEP_US + 30000) / 1000000" | bc)"; }

# voluntary_switches: the sum over the target's workers (the main thread, whose 1 ms loop
# switches a thousand times a second whatever happens, left out) of voluntary context
# switches: a sleeper left asleep adds none.
voluntary_switches() {
	awk -v main="/proc/$PID/task/$PID/status" 'FILENAME != main && /^voluntary_ctxt_switches/ {
		s += $2 } END { print s + 0 }' /proc/"$PID"/task/*/status 2>/dev/null
}

# one_op OP DIR [MODE]: run suture OP (apply or revert) once inside a fresh window, with
# SUTURE_FREEZE=MODE, and record the tool's and the target's figures under DIR. The
# window holds suture and the settling sleep only: reading the switch counts (a thousand
# status files) and suture's JSON (jq) happen outside it, as in the idle windows, since
# on two cores they delay the target's wake-ups too (at one thread they made the stall
# median 1.7 ms where suture alone causes 0.1 ms).
one_op() {
	local op=$1 dir=$2 mode=${3:-all} out=$BENCH_WORK/freeze.out vs bin=$SUTURE rc=0
	if [ "$mode" = baseline ]; then bin=$FREEZE_BASELINE mode=${FREEZE_BASELINE_MODE:-all}; fi
	vs=$(voluntary_switches)
	ask_gaps
	if [ "$op" = apply ]; then
		SUTURE=$bin SUTURE_FREEZE=$mode sut_json "$out" apply -p "$PID" "$BENCH_PATCH" || rc=$?
	else
		SUTURE=$bin SUTURE_FREEZE=$mode sut_json "$out" revert -p "$PID" "$BENCH_PATCH_ID" || rc=$?
	fi
	if [ "$rc" = 0 ]; then
		settle
		record_window "$dir/target"
	fi
	echo $(($(voluntary_switches) - vs)) >>"$dir/switches"
	if jq -e '.results[0].ok == true' "$out" >/dev/null 2>&1; then
		jq -r '.results[0] | "\(.freeze_us) \(.total_us) \(.attempts) \(.held_us // .freeze_us)"' "$out" >>"$dir/tool"
		jq -c '.results[0].phases_us // empty' "$out" >>"$dir/phases"
		echo "$SUT_WALL_US" >>"$dir/wall"
	else
		echo "$(cat "$out.err" | tr '\n' ' ')" >>"$dir/failures"
		log "  $op failed: $(tail -n 1 "$out.err")"
		# Keep the target in the state the next operation expects.
		if [ "$op" = apply ]; then return 1; fi
	fi
}

# summarise DIR: the JSON of one operation's runs.
summarise() {
	local d=$1
	touch "$d/tool" "$d/wall" "$d/target" "$d/failures" "$d/switches" "$d/phases"
	jq -n \
		--argjson freeze "$(awk '{print $1}' "$d/tool" | stats)" \
		--argjson total "$(awk '{print $2}' "$d/tool" | stats)" \
		--argjson attempts "$(awk '{print $3}' "$d/tool" | stats)" \
		--argjson held "$(awk '{print $4}' "$d/tool" | stats)" \
		--argjson wall "$(stats <"$d/wall")" \
		--argjson stall "$(awk '{print $4}' "$d/target" | stats)" \
		--argjson gmain "$(awk '{print $1}' "$d/target" | stats)" \
		--argjson gspin "$(awk '$2 >= 0 {print $2}' "$d/target" | stats)" \
		--argjson gsleep "$(awk '$3 >= 0 {print $3}' "$d/target" | stats)" \
		--argjson failed "$(wc -l <"$d/failures")" \
		--argjson switches "$(stats <"$d/switches")" \
		--arg firstfail "$(head -n 1 "$d/failures")" \
		--argjson phases "$(jq -s 'if length == 0 then {} else
			(.[0] | keys_unsorted) as $k | . as $all |
			[$k[] as $key | {($key): ([$all[][$key]] | sort |
				.[(length - 1) / 2 | floor])}] | add end' "$d/phases")" \
		'{tool_freeze_us: $freeze, tool_held_us: $held, tool_total_us: $total,
		  tool_attempts: $attempts,
		  command_wall_us: $wall, target_stall_us: $stall,
		  target_max_gap_us: {main: $gmain, spin: $gspin, sleep: $gsleep},
		  target_voluntary_switches: $switches,
		  tool_phases_median_us: $phases,
		  failed: $failed} + (if $failed > 0 then {first_failure: $firstfail} else {} end)'
}

# The issue's targets for the freeze median (as seen by the application), in µs.
target_for() {
	case $1 in 1) echo 1000 ;; 100) echo 5000 ;; 1000) echo 50000 ;; *) echo null ;; esac
}
# Issue 12's goals for the stall beyond idle noise (µs): the median at 1, 100 and 1000
# threads; at 10 threads with 5 spinning, the maximum held time beyond the idle maximum.
goal_for() {
	case $1:$2 in 1:*) echo 500 ;; 100:*) echo 2000 ;; 1000:*) echo 5000 ;; 10:5) echo 5000 ;;
	*) echo null ;; esac
}

docs=()
for cfg in $configs; do
	IFS=: read -r THREADS SPINNERS SLEEP_US RUNS <<<"$cfg"
	log "freeze: $THREADS threads ($SPINNERS spinning, $((THREADS - 1 - SPINNERS)) sleeping ${SLEEP_US} us), $RUNS runs"
	d=$BENCH_WORK/freeze-$THREADS-$SPINNERS-$SLEEP_US
	rm -rf "$d"
	mkdir -p "$d/idle"
	for m in all sleepers baseline; do mkdir -p "$d/$m/apply" "$d/$m/revert"; done

	"$BENCH_TREE/threads" "$THREADS" "$SPINNERS" "$SLEEP_US" >"$fifo" 2>"$d/target.err" &
	PID=$!
	STARTED_PIDS+=("$PID")
	exec {GAPS_FD}<"$fifo"
	IFS= read -r -t 30 line <&"$GAPS_FD" || die "the $THREADS-thread target did not start"
	[ "$line" = "ready threads=$THREADS" ] || die "the target said '$line'"
	sleep 0.3
	n=$(ls "/proc/$PID/task" | wc -l)
	[ "$n" -eq "$THREADS" ] || die "the target has $n threads, not $THREADS"

	for ((i = 0; i < IDLE_ROUNDS; i++)); do
		ask_gaps
		settle
		record_window "$d/idle/target"
	done
	# A first apply creates suture's registry in the process, once for its lifetime:
	# measured on its own, not among the runs.
	mkdir -p "$d/first"
	one_op apply "$d/first" || die "the first apply failed: $(cat "$BENCH_WORK/freeze.out.err")"
	one_op revert "$d/first"

	for ((r = 1; r <= RUNS; r++)); do
		order=$modes
		[ $((r % 2)) = 1 ] || order=$(echo "$modes" | tr ' ' '\n' | tac | tr '\n' ' ')
		for m in $order; do
			if one_op apply "$d/$m/apply" "$m"; then
				one_op revert "$d/$m/revert" "$m"
			fi
		done
	done
	kill -9 "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	exec {GAPS_FD}<&-
	STARTED_PIDS=()

	doc=$(jq -n --argjson threads "$THREADS" --argjson spin "$SPINNERS" \
		--argjson sleep "$SLEEP_US" --argjson runs "$RUNS" \
		--argjson target "$(target_for "$THREADS")" \
		--argjson goal "$(goal_for "$THREADS" "$SPINNERS")" \
		--argjson apply "$(summarise "$d/sleepers/apply")" \
		--argjson revert "$(summarise "$d/sleepers/revert")" \
		--argjson fapply "$(summarise "$d/all/apply")" \
		--argjson frevert "$(summarise "$d/all/revert")" \
		--argjson bapply "$(summarise "$d/baseline/apply")" \
		--argjson brevert "$(summarise "$d/baseline/revert")" \
		--argjson first "$(summarise "$d/first")" \
		--argjson idle "$(awk '{print $4}' "$d/idle/target" | stats)" \
		'def beyond($x): if $x.median == null or $idle.median == null then null else
			{median: ($x.median - $idle.median), max: ($x.max - $idle.max)} end;
		 {threads: $threads, spinning_workers: $spin,
		  sleeping_workers: ($threads - 1 - $spin), worker_sleep_us: $sleep, runs: $runs,
		  issue_target_freeze_median_us: $target,
		  issue12_goal_stall_beyond_idle_us: $goal,
		  apply: $apply, revert: $revert,
		  full_freeze_apply: $fapply, full_freeze_revert: $frevert,
		  baseline_full_freeze_apply: $bapply, baseline_full_freeze_revert: $brevert,
		  stall_beyond_idle_us: {apply: beyond($apply.target_stall_us),
			revert: beyond($revert.target_stall_us),
			full_freeze_apply: beyond($fapply.target_stall_us),
			full_freeze_revert: beyond($frevert.target_stall_us),
			baseline_full_freeze_apply: beyond($bapply.target_stall_us),
			baseline_full_freeze_revert: beyond($brevert.target_stall_us)},
		  first_apply: ($first | del(.tool_attempts)),
		  idle_target_stall_us: $idle}')
	docs+=("$doc")
	log "  apply: tool freeze median $(jq -r '.apply.tool_freeze_us.median' <<<"$doc") us (full freeze $(jq -r '.full_freeze_apply.tool_freeze_us.median' <<<"$doc")), target stall median $(jq -r '.apply.target_stall_us.median' <<<"$doc") us (full freeze $(jq -r '.full_freeze_apply.target_stall_us.median' <<<"$doc"), baseline $(jq -r '.baseline_full_freeze_apply.target_stall_us.median' <<<"$doc"); idle $(jq -r '.idle_target_stall_us.median' <<<"$doc") us)"
done

printf '%s\n' "${docs[@]}" | jq -s '{benchmark: "freeze", unit: "us",
	note: "apply/revert: the partial freeze (the default, run with SUTURE_FREEZE=sleepers: threads asleep in a system call are left asleep); full_freeze_apply/full_freeze_revert: SUTURE_FREEZE=all (every thread stopped, the opt-out), measured in the same runs, interleaved; target_voluntary_switches: voluntary context switches of the target workers (the main thread left out) in the window of one command; tool_freeze_us: from the first thread stopped to the last resumed, by suture (the committing freeze); tool_held_us: the longest time one thread was held by suture in the transaction, staging and retried freezes included (the figure to compare with target_stall_us); target_stall_us: longest gap a thread of the target saw between two iterations of its loop beyond its own period (main 1 ms, sleepers worker_sleep_us), max over all threads, per run; idle_target_stall_us: the same with no suture running",
	configs: .}'
