# SPDX-License-Identifier: Apache-2.0
# Helpers for integration tests (sourced). A test is a bash script that exits 0 on pass,
# 77 on skip (printing the reason), anything else on failure. Every process a test starts
# is recorded and ended by PID at exit, and only those.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUTURE=${SUTURE:-$TOP/build/suture}
T=$(mktemp -d /tmp/suture-it-XXXXXX)
STARTED_PIDS=()
cleanup() {
	local p
	for p in "${STARTED_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${STARTED_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
note() { echo "  $*" >&2; }

# start_bg OUTFILE CMD...: start a background process, record its PID in $BG_PID.
start_bg() {
	local out=$1; shift
	"$@" >"$out" 2>&1 &
	BG_PID=$!
	STARTED_PIDS+=("$BG_PID")
}

# wait_for_line FILE REGEX [SECONDS]: wait until FILE has a line matching REGEX.
wait_for_line() {
	local f=$1 re=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		grep -Eq -- "$re" "$f" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "--- $f ---" >&2; tail -n 20 "$f" >&2 || true
	fail "timed out waiting for /$re/ in $(basename "$f")"
}

# count_lines FILE REGEX: number of lines matching.
count_lines() { grep -Ec -- "$2" "$1" 2>/dev/null || true; }

# expect_fail DESCRIPTION CMD...: CMD must exit non-zero; its stderr goes to $T/last.err.
expect_fail() {
	local what=$1; shift
	if "$@" >"$T/last.out" 2>"$T/last.err"; then
		cat "$T/last.err" >&2
		fail "$what: expected failure, got success"
	fi
}
