#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every tests/long/*.sh (or those matching ONLY, e.g. ONLY=soak_tls), the tests that
# take minutes (soak runs), and ends with one line "N passed, N failed, N skipped". Exit
# status is non-zero if anything failed. LONG_TIMEOUT (seconds, default 2400) bounds each.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
pass=0 failn=0 skipn=0 failed=()
# Patches are signed and apply verifies them (invariant 4): each test makes its own
# throw-away key pair with lib.sh's setup_signing (through require_suture), the one place
# the tests' signing is set up; the runner makes none.
for t in tests/long/${ONLY:-*}.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	start=$(date +%s%N)
	# the test's own report (rates, samples) is shown for passes too: it is the measurement
	out=$(timeout "${LONG_TIMEOUT:-2400}" bash "$t" 2>&1); rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 )); dur="$((ms / 1000)).$(( (ms % 1000) / 100 ))"
	case $rc in
	0) pass=$((pass + 1)); echo "ok   $name (${dur}s)"; echo "$out" | tail -n 20 | sed 's/^/    /' ;;
	77) skipn=$((skipn + 1)); echo "skip $name: $(echo "$out" | grep '^SKIP:' | tail -n1)" ;;
	*) failn=$((failn + 1)); failed+=("$name"); echo "FAIL $name (rc $rc, ${dur}s)"; echo "$out" | tail -n 40 | sed 's/^/    /' ;;
	esac
done
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
echo "$pass passed, $failn failed, $skipn skipped"
[ "$failn" -eq 0 ]
