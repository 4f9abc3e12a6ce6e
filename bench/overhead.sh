#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Call overhead of the patched function against the unpatched one: the target times
# OVERHEAD_CALLS (default 10^8) calls of bench_value() itself, in rounds of (unpatched,
# apply, patched, revert), so that slow drifts of the machine hit both sides alike.
# Prints one JSON document. BENCH_QUICK=1: 3 rounds instead of 7.
source "$(dirname "$0")/lib.sh"
bench_setup

CALLS=${OVERHEAD_CALLS:-100000000}
ROUNDS=${OVERHEAD_ROUNDS:-$([ "$BENCH_QUICK" = 1 ] && echo 3 || echo 7)}

d=$BENCH_WORK/overhead
rm -rf "$d"
mkdir -p "$d"
mkfifo "$d/in" "$d/out"
"$BENCH_TREE/callloop" <"$d/in" >"$d/out" 2>"$d/err" &
PID=$!
STARTED_PIDS+=("$PID")
exec {TO}>"$d/in" {FROM}<"$d/out"
IFS= read -r -t 10 line <&"$FROM" || die "the call-loop target did not start"

# measure FILE: one timed loop in the target; its ns per call appended to FILE.
measure() {
	local line
	echo "$CALLS" >&"$TO"
	IFS= read -r -t 120 line <&"$FROM" || die "no answer from the call-loop target"
	[[ $line =~ per_call=([0-9.]+) ]] || die "unexpected line from the target: $line"
	echo "${BASH_REMATCH[1]}" >>"$1"
}

op() {
	if [ "$1" = apply ]; then
		sut_json "$d/op" apply -p "$PID" "$BENCH_PATCH" || die "apply failed: $(cat "$d/op.err")"
	else
		sut_json "$d/op" revert -p "$PID" "$BENCH_PATCH_ID" || die "revert failed: $(cat "$d/op.err")"
	fi
}

log "call overhead: $ROUNDS rounds of $CALLS calls unpatched and patched"
measure "$d/warmup"
for ((r = 1; r <= ROUNDS; r++)); do
	measure "$d/unpatched"
	op apply
	measure "$d/patched"
	op revert
done
paste "$d/unpatched" "$d/patched" | awk '{printf "%.4f\n", $2 - $1}' >"$d/diff"

jq -n --argjson calls "$CALLS" --argjson rounds "$ROUNDS" \
	--argjson un "$(stats <"$d/unpatched")" --argjson pa "$(stats <"$d/patched")" \
	--argjson df "$(stats <"$d/diff")" \
	'{benchmark: "call_overhead", unit: "ns per call", calls_per_measurement: $calls,
	  rounds: $rounds, unpatched_ns: $un, patched_ns: $pa, overhead_ns: $df,
	  issue_target_overhead_ns: 1,
	  note: "overhead_ns: patched minus unpatched, paired within each round; the call goes through the PLT into libbench.so, then (patched) through the 5-byte jmp at the function entry"}'
