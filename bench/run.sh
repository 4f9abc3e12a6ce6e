#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: builds the benchmark targets and patch once, runs every benchmark and
# prints one combined JSON document on stdout (progress on stderr), with the issue's
# targets next to the figures. Benchmarks report numbers; they assert nothing.
#
#   BENCH_QUICK=1   fewer runs, 1/10/100 threads, 100 processes (about 1-2 minutes)
#   BENCH_ONLY="freeze fleet overhead memory scan daemon"   a subset
#   BENCH_OUT=FILE  also write the document to FILE
source "$(dirname "$0")/lib.sh"
bench_setup
only=${BENCH_ONLY:-freeze fleet overhead memory scan daemon}
started=$(now_us)
# The machine may be shared: its load before and after is part of the figures' context.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

parts=()
for b in $only; do
	[ -x "$BENCH_TOP/bench/$b.sh" ] || die "no benchmark bench/$b.sh"
	out=$BENCH_WORK/result-$b.json
	if "$BENCH_TOP/bench/$b.sh" >"$out"; then
		parts+=("$out")
	else
		log "benchmark $b failed; its figures are missing from the report"
	fi
done

machine=$(jq -n --arg kernel "$(uname -r)" --argjson cpus "$(nproc)" \
	--arg cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
	--argjson mem "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" \
	--arg lb "$load_before" --arg la "$(cut -d' ' -f1-3 /proc/loadavg)" \
	'{kernel: $kernel, cpus: $cpus, cpu: $cpu, mem_kb: $mem,
	  loadavg_before: $lb, loadavg_after: $la}')
doc=$(jq -s --argjson quick "$BENCH_QUICK" --argjson machine "$machine" \
	--arg suture "$(git -C "$BENCH_TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
	--argjson secs "$((($(now_us) - started) / 1000000))" \
	'{suture_bench: 1, commit: $suture, quick: ($quick == 1), seconds: $secs,
	  machine: $machine,
	  issue_targets: {freeze_median_us: {"1": 1000, "100": 5000, "1000": 50000},
			  apply_all_1000_processes_us: 2000000, call_overhead_ns: 1,
			  memory_growth_kb: 0},
	  benchmarks: (map({(.benchmark): .}) | add)}' "${parts[@]}")
[ -z "${BENCH_OUT:-}" ] || echo "$doc" >"$BENCH_OUT"
echo "$doc"

# A short summary for the human at the terminal: each figure next to its target.
jq -r '
	def f: if . == null then "-" else tostring end;
	"summary (median / max; target in brackets):",
	(.benchmarks.freeze.configs[]? |
	  "  freeze \(.threads) threads: apply tool \(.apply.tool_freeze_us.median|f)/\(.apply.tool_freeze_us.max|f) us, target stall \(.apply.target_stall_us.median|f)/\(.apply.target_stall_us.max|f) us; revert tool \(.revert.tool_freeze_us.median|f)/\(.revert.tool_freeze_us.max|f) us, stall \(.revert.target_stall_us.median|f)/\(.revert.target_stall_us.max|f) us; idle stall \(.idle_target_stall_us.median|f) us [< \(.issue_target_freeze_median_us|f) us]"),
	(.benchmarks.apply_all.sizes[]? |
	  "  apply --all \(.processes) processes: \(.apply_all.command_wall_us|f) us wall (\(.apply_all.processes_ok) ok), \(.apply_all.tool_total_us_per_process.median|f) us per process; revert --all \(.revert_all.command_wall_us|f) us [< \(.issue_target_wall_us|f) us]"),
	(.benchmarks.call_overhead? // empty |
	  "  call: unpatched \(.unpatched_ns.median|f) ns, patched \(.patched_ns.median|f) ns, overhead \(.overhead_ns.median|f) ns [< 1 ns]"),
	(.benchmarks.scan? // empty |
	  "  scan: \(.processes_scanned) processes (\(.extra_processes) with \(.libraries_each) libraries each), \(.distinct_files) files read: \(.wall_us.median|f) us wall, \(.wall_us_no_dpkg.median|f) us without dpkg [< 2000000 us]"),
	(.benchmarks.memory? // empty |
	  "  memory: patch adds \(.added_by_patch.rss_kb) kB resident, \(.added_by_patch.mapped_kb) kB mapped; kept after revert \(.kept_after_revert.rss_kb)/\(.kept_after_revert.mapped_kb) kB; growth over \(.rounds) rounds \(.growth_over_rounds.rss_kb) kB resident, \(.growth_over_rounds.maps) mappings [0]"),
	(.benchmarks.daemon? // empty |
	  "  sutured: exec of /bin/true +\(.exec_loop_true_ns.added_pct|f)% [< 5%]; exec to patched \(.exec_to_patched_us.single_starts_seen_from_outside.median|f) us; burst \(.burst.patched_within_3s)/\(.burst.starts) patched; idle \(.idle.rss_kb) kB, \(.idle.cpu_percent|f)% CPU")
' <<<"$doc" >&2
