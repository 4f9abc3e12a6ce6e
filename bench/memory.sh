#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The memory a patch adds to a process, resident (/proc/PID/smaps_rollup) and mapped
# (/proc/PID/maps), and whether it grows across MEMORY_ROUNDS (default 100) apply/revert
# rounds. Snapshots: before any patch, applied, reverted, and after the rounds (reverted).
# Prints one JSON document.
source "$(dirname "$0")/lib.sh"
bench_setup

ROUNDS=${MEMORY_ROUNDS:-100}
d=$BENCH_WORK/memory
rm -rf "$d"
mkdir -p "$d"
start_idle "$d"

apply() { sut_json "$d/op" apply -p "$PID" "$BENCH_PATCH" || die "apply failed: $(cat "$d/op.err")"; }
revert() { sut_json "$d/op" revert -p "$PID" "$BENCH_PATCH_ID" || die "revert failed: $(cat "$d/op.err")"; }

log "memory: one apply/revert, then $ROUNDS rounds"
before=$(proc_memory "$PID")
apply
applied=$(proc_memory "$PID")
revert
reverted=$(proc_memory "$PID")
for ((r = 1; r <= ROUNDS; r++)); do
	apply
	# Applied-state snapshots after rounds 1 and N: both after the registry's first
	# whole read, so their difference is growth only.
	[ "$r" -eq 1 ] && first_applied=$(proc_memory "$PID")
	[ "$r" -eq "$ROUNDS" ] && last_applied=$(proc_memory "$PID")
	revert
done
after=$(proc_memory "$PID")

jq -n --argjson rounds "$ROUNDS" --argjson b "$before" --argjson a "$applied" \
	--argjson r "$reverted" --argjson fa "$first_applied" --argjson la "$last_applied" --argjson z "$after" '
	def minus($x; $y): $x | with_entries(.value -= $y[.key]);
	{benchmark: "memory", unit: "kB (maps: mappings)", rounds: $rounds,
	 before: $b, applied: $a, reverted: $r, applied_round_1: $fa, applied_after_rounds: $la, after_rounds: $z,
	 added_by_patch: minus($a; $b), kept_after_revert: minus($r; $b),
	 growth_over_rounds: minus($z; $r), growth_over_rounds_applied: minus($la; $fa),
	 issue_target_growth: 0,
	 note: "kept_after_revert: the registry mapping suture keeps in the process for its lifetime, resident once suture has read it whole; growth_over_rounds (reverted state) and growth_over_rounds_applied (applied state, round 1 to round N) should both be zero"}'
