#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The sanitizer step of `make check` (Makefile: check-sanitize): runs the unit tests and
# every fuzzer of the sanitizer build in DIR under AddressSanitizer and
# UndefinedBehaviorSanitizer. Each fuzzer runs FUZZ_TIME seconds (default 30, the fuzzers
# side by side) from its
# seeds in tests/fuzz/corpus/NAME/ (copied: the repository's seeds are not changed); a
# finding (crash, leak, undefined behaviour, broken property) leaves its input in
# DIR/fuzz/findings/ and fails the step. Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: run-sanitize.sh BUILD-DIR}
secs=${FUZZ_TIME:-30}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
pass=0 failn=0 failed=()
for bin in "$dir"/tests/test_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	if out=$("$bin" 2>&1); then
		pass=$((pass + 1)); echo "ok   asan/unit/$name"
	else
		failn=$((failn + 1)); failed+=("asan/unit/$name"); echo "FAIL asan/unit/$name"
		echo "$out" | grep -v '^\[' | tail -n 40 | sed 's/^/    /'
	fi
done
# The fuzzers run side by side (each is one process), then are judged one by one.
mkdir -p "$dir/fuzz/findings"
fuzzers=()
for bin in "$dir"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin"); short=${name#fuzz_}
	work="$dir/fuzz/corpus-$short"
	rm -rf "$work" "$dir/fuzz/findings/$name-"*; mkdir -p "$work"
	[ -d "tests/fuzz/corpus/$short" ] && cp -a "tests/fuzz/corpus/$short/." "$work/"
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$dir/fuzz/findings/$name-" "$work" >"$dir/fuzz/$name.log" 2>&1 &
	fuzzers+=("$name:$!")
done
for f in "${fuzzers[@]}"; do
	name=${f%%:*}; pid=${f##*:}
	wait "$pid"; rc=$?
	log="$dir/fuzz/$name.log"
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	if [ "$rc" -eq 0 ] && ! ls "$dir/fuzz/findings/$name-"* >/dev/null 2>&1; then
		pass=$((pass + 1)); echo "ok   asan/$name (${secs}s, ${runs:-?} inputs, 0 findings)"
	else
		failn=$((failn + 1)); failed+=("asan/$name")
		echo "FAIL asan/$name (rc $rc): findings in $dir/fuzz/findings/, log $log"
		grep -E 'ERROR|SUMMARY|runtime error|property broken|#[0-9]+ 0x' "$log" | head -n 30 | sed 's/^/    /'
	fi
done
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
echo "sanitizers: $pass passed, $failn failed"
[ "$failn" -eq 0 ]
