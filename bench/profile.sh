#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Where the time goes (not part of `make bench`): profiles suture on the two largest cases
# with perf, and prints for each the system calls suture made (perf trace -s), its context
# switches and CPU time (perf stat), and the functions its CPU time went to, callers
# included (perf record --call-graph dwarf). Needs perf. Usage:
#
#   bench/profile.sh threads [N]     apply + revert against one N-thread target (1000)
#   bench/profile.sh fleet [N]       apply --all + revert --all over N processes (1000)
#
# Reports and perf data are left in PROFILE_DIR (default: a new directory under /tmp).
source "$(dirname "$0")/lib.sh"
command -v perf >/dev/null || die "perf is needed (Debian package linux-perf)"
what=${1:-threads}
n=${2:-1000}
bench_setup
out=${PROFILE_DIR:-$(mktemp -d /tmp/suture-profile-XXXXXX)}
mkdir -p "$out"

case $what in
threads)
	"$BENCH_TREE/threads" "$n" 1 100000 >"$out/target.out" 2>&1 &
	STARTED_PIDS+=("$!")
	pids=$!
	sleep 1
	ops=("apply -p $pids $BENCH_PATCH" "revert -p $pids $BENCH_PATCH_ID")
	;;
fleet)
	rm -f "$out/ready"
	for ((i = 0; i < n; i++)); do
		"$BENCH_TREE/idle" "$out/ready" >/dev/null 2>&1 &
		STARTED_PIDS+=("$!")
	done
	for ((i = 0; i < 600; i++)); do
		[ "$(wc -l <"$out/ready" 2>/dev/null || echo 0)" -ge "$n" ] && break
		sleep 0.1
	done
	ops=("apply --all $BENCH_PATCH" "revert --all $BENCH_PATCH_ID")
	;;
*) die "usage: $0 threads|fleet [N]" ;;
esac

# A first apply/revert creates the registry, which stays: profile the steady state.
# shellcheck disable=SC2086
"$SUTURE" ${ops[0]} >/dev/null 2>&1 && "$SUTURE" ${ops[1]} >/dev/null 2>&1
for k in 0 1; do
	op=${ops[$k]} undo=${ops[$((1 - k))]}
	name=${op%% *}
	log "profiling suture $op"
	# Each measurement runs op from the same state: undo restores it in between.
	# shellcheck disable=SC2086
	perf stat -e context-switches,cpu-migrations,task-clock -o "$out/$name.stat" \
		"$SUTURE" $op --json >"$out/$name.json" 2>/dev/null || true
	# shellcheck disable=SC2086
	"$SUTURE" $undo >/dev/null 2>&1 || true
	# shellcheck disable=SC2086
	perf trace -s -o "$out/$name.trace" "$SUTURE" $op >/dev/null 2>&1 || true
	# shellcheck disable=SC2086
	"$SUTURE" $undo >/dev/null 2>&1 || true
	# shellcheck disable=SC2086
	perf record -q -F 4000 --call-graph dwarf,16384 -o "$out/$name.data" \
		"$SUTURE" $op >/dev/null 2>&1 || true
	perf report -i "$out/$name.data" --comm suture --children --sort symbol --stdio -g none \
		2>/dev/null | grep '%' | head -n 60 >"$out/$name.report" || true
	{
		echo "=== suture $op"
		jq -c '[.results[] | {freeze_us, total_us}] | {processes: length,
			freeze_us_max: (map(.freeze_us) | max), total_us_sum: (map(.total_us) | add)}' \
			"$out/$name.json" 2>/dev/null || true
		grep -E 'context-switches|task-clock|elapsed' "$out/$name.stat" || true
		echo "--- system calls (perf trace -s)"
		sed -n '/syscall/,/^$/p' "$out/$name.trace" | head -n 14
		echo "--- CPU time by function (callers included)"
		head -n 40 "$out/$name.report"
	} >&2
done
log "perf data and reports in $out"
