#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `suture apply --all` (then `revert --all`) over 100 and 1000 processes that map the same
# library: the wall time of the whole command and suture's per-process figures (--json).
# Prints one JSON document. BENCH_QUICK=1: 100 processes only. FLEET_SIZES overrides.
source "$(dirname "$0")/lib.sh"
bench_setup

if [ -n "${FLEET_SIZES:-}" ]; then
	sizes=$FLEET_SIZES
elif [ "$BENCH_QUICK" = 1 ]; then
	sizes="100"
else
	sizes="100 1000"
fi

# start_fleet N: N idle processes, each mapping libbench.so; returns once all are running.
start_fleet() {
	local n=$1 ready=$BENCH_WORK/fleet.ready i
	rm -f "$ready"
	for ((i = 0; i < n; i++)); do
		"$BENCH_TREE/idle" "$ready" >/dev/null 2>&1 &
		STARTED_PIDS+=("$!")
	done
	for ((i = 0; i < 600; i++)); do
		[ "$(wc -l <"$ready" 2>/dev/null || echo 0)" -ge "$n" ] && return 0
		sleep 0.1
	done
	die "only $(wc -l <"$ready") of $n processes started in 60 s"
}

# summarise_op OUT WALL_US N: the JSON of one --all command.
summarise_op() {
	local out=$1 wall=$2 n=$3
	jq --argjson wall "$wall" --argjson n "$n" \
		--argjson total "$(jq '.results[] | select(.ok) | .total_us' "$out" | stats)" \
		--argjson freeze "$(jq '.results[] | select(.ok) | .freeze_us' "$out" | stats)" \
		'{command_wall_us: $wall,
		  wall_us_per_process: ($wall / $n | floor),
		  processes_ok: ([.results[] | select(.ok)] | length),
		  processes_failed: ([.results[] | select(.ok | not)] | length),
		  tool_total_us_per_process: $total, tool_freeze_us_per_process: $freeze,
		  sum_tool_total_us: ([.results[] | select(.ok) | .total_us] | add)}' "$out"
}

docs=()
for n in $sizes; do
	log "apply --all: starting $n processes"
	t0=$(now_us)
	start_fleet "$n"
	log "  started in $((($(now_us) - t0) / 1000)) ms"
	sleep 0.5
	out=$BENCH_WORK/fleet-$n
	sut_json "$out.apply" apply --all "$BENCH_PATCH" ||
		log "  apply --all failed: $(tail -n 1 "$out.apply.err")"
	apply_wall=$SUT_WALL_US
	log "  apply --all: $((apply_wall / 1000)) ms"
	sut_json "$out.revert" revert --all "$BENCH_PATCH_ID" ||
		log "  revert --all failed: $(tail -n 1 "$out.revert.err")"
	revert_wall=$SUT_WALL_US
	log "  revert --all: $((revert_wall / 1000)) ms"
	docs+=("$(jq -n --argjson n "$n" \
		--argjson apply "$(summarise_op "$out.apply" "$apply_wall" "$n")" \
		--argjson revert "$(summarise_op "$out.revert" "$revert_wall" "$n")" \
		'{processes: $n,
		  issue_target_wall_us: (if $n == 1000 then 2000000 else null end),
		  apply_all: $apply, revert_all: $revert}')")
	end_started
done

printf '%s\n' "${docs[@]}" | jq -s '{benchmark: "apply_all", unit: "us",
	note: "processes started by the benchmark, each mapping libbench.so; command_wall_us: the whole suture command, as the operator waits for it; tool_*_per_process: suture --json figures of each process",
	sizes: .}'
