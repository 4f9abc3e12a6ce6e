# SPDX-License-Identifier: Apache-2.0
# Helpers for the benchmark scripts (sourced). A benchmark prints one JSON document on
# stdout and its progress on stderr. Every process a benchmark starts is recorded and
# ended by PID when the script exits, and only those.
#
# The first script to run builds the targets (bench/tree), a signing key and the patch in
# a work directory and exports where they are (BENCH_*), so bench/run.sh does that once
# for all benchmarks and each bench/*.sh can also be run on its own.
set -euo pipefail
BENCH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUTURE=${SUTURE:-$BENCH_TOP/out/suture}
BENCH_QUICK=${BENCH_QUICK:-0}
[ "$BENCH_QUICK" = 0 ] || BENCH_QUICK=1
# Benchmarks build with `make` in their own tree: a surrounding make's variables must not
# change that build, or `suture build`'s rebuilt copy could differ from the running one.
unset MAKEFLAGS MFLAGS MAKELEVEL

STARTED_PIDS=()
OWN_WORK=
bench_cleanup() {
	local p
	for p in "${STARTED_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${STARTED_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	STARTED_PIDS=()
	[ -z "$OWN_WORK" ] || rm -rf "$OWN_WORK"
}
trap bench_cleanup EXIT

log() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }

# end_started: end every process started so far (by PID) and forget them.
end_started() {
	local p
	for p in "${STARTED_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${STARTED_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	STARTED_PIDS=()
}

# start_idle DIR: one idle target (maps libbench.so), running once it has said so in
# DIR/ready; its pid in $PID.
start_idle() {
	local dir=$1 i
	"$BENCH_TREE/idle" "$dir/ready" >/dev/null 2>&1 &
	PID=$!
	STARTED_PIDS+=("$PID")
	for ((i = 0; i < 100; i++)); do [ -s "$dir/ready" ] && break; sleep 0.05; done
	[ -s "$dir/ready" ] || die "the idle target did not start"
	sleep 0.2
}

# now_us: monotonic-enough wall clock in microseconds (for timing suture runs).
# Without a fork (bash 5's EPOCHREALTIME): it is read inside the target's measured windows.
# Its separator follows the locale's decimal point, so every non-digit is dropped.
now_us() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((10#$t)); }

# stats: numbers on stdin, one a line -> {"n","median","min","max"} (null when empty);
# the median of an even count is the mean of the middle two, rounded to 4 decimals.
stats() {
	jq -s 'sort | if length == 0 then {n: 0, median: null, min: null, max: null} else
		{n: length,
		 median: (if length % 2 == 1 then .[(length - 1) / 2]
			  else (.[length / 2 - 1] + .[length / 2]) / 2 end
			  | . * 10000 | round / 10000),
		 min: .[0], max: .[-1]} end'
}

# bench_setup: build the targets and the patch once (unless a caller already did).
bench_setup() {
	if [ -n "${BENCH_TREE:-}" ] && [ -f "${BENCH_PATCH:-}" ]; then return 0; fi
	[ -x "$SUTURE" ] || die "$SUTURE is not built (run make)"
	command -v jq >/dev/null || die "jq is needed to read suture's --json output"
	OWN_WORK=$(mktemp -d /tmp/suture-bench-XXXXXX)
	export BENCH_WORK=$OWN_WORK
	export BENCH_TREE=$BENCH_WORK/tree
	cp -a "$BENCH_TOP/bench/tree" "$BENCH_TREE"
	make -C "$BENCH_TREE" >"$BENCH_WORK/make.log" 2>&1 ||
		{ cat "$BENCH_WORK/make.log" >&2; die "make of bench/tree failed"; }
	if [ -z "${SUTURE_SIGNING_KEY:-}" ]; then
		mkdir -p "$BENCH_WORK/keys"
		"$SUTURE" keygen "$BENCH_WORK/keys/bench.key" "$BENCH_WORK/keys/bench.pub" \
			2>"$BENCH_WORK/keygen.log" || { cat "$BENCH_WORK/keygen.log" >&2; die "keygen failed"; }
		export SUTURE_SIGNING_KEY=$BENCH_WORK/keys/bench.key
		export SUTURE_TRUSTED_KEYS=$BENCH_WORK/keys/bench.pub
	fi
	export BENCH_PATCH_ID=bench-fix
	export BENCH_PATCH=$BENCH_WORK/$BENCH_PATCH_ID.suture
	"$SUTURE" build --src "$BENCH_TREE" --diff "$BENCH_TREE/fix.diff" --target libbench.so \
		-o "$BENCH_PATCH" --id "$BENCH_PATCH_ID" >"$BENCH_WORK/build.log" 2>&1 ||
		{ cat "$BENCH_WORK/build.log" >&2; die "suture build of the benchmark patch failed"; }
	log "targets and patch built in $BENCH_WORK"
}

# sut_json OUT ARGS...: run suture ARGS --json; stdout to OUT, stderr to OUT.err. Sets
# SUT_WALL_US to the wall time of the run and returns suture's exit status.
sut_json() {
	local out=$1; shift
	local t0 rc=0
	t0=$(now_us)
	"$SUTURE" "$@" --json >"$out" 2>"$out.err" || rc=$?
	SUT_WALL_US=$(($(now_us) - t0))
	return $rc
}

# proc_memory PID: {"rss_kb","pss_kb","private_dirty_kb","maps","mapped_kb"} of PID, from
# /proc/PID/smaps_rollup (resident) and /proc/PID/maps (mappings and their total size).
proc_memory() {
	local pid=$1 rss pss pd maps mapped
	read -r rss pss pd < <(awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} /^Private_Dirty:/ {d=$2}
		END {print r, p, d}' "/proc/$pid/smaps_rollup")
	# mawk has no hex conversion: sum the ranges in the shell.
	local range rest lo hi bytes=0
	maps=0
	while read -r range rest; do
		lo=0x${range%-*} hi=0x${range#*-}
		bytes=$((bytes + hi - lo)) maps=$((maps + 1))
	done <"/proc/$pid/maps"
	mapped=$((bytes / 1024))
	jq -n --argjson rss "$rss" --argjson pss "$pss" --argjson pd "$pd" \
		--argjson maps "$maps" --argjson mapped "$mapped" \
		'{rss_kb: $rss, pss_kb: $pss, private_dirty_kb: $pd, maps: $maps, mapped_kb: $mapped}'
}
