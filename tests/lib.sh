# SPDX-License-Identifier: Apache-2.0
# Helpers for integration tests (sourced). A test is a bash script that exits 0 on pass,
# 77 on skip (printing the reason), anything else on failure. Every process a test starts
# is recorded and ended by PID at exit, and only those.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUTURE=${SUTURE:-$TOP/out/suture}
T=$(mktemp -d /tmp/suture-it-XXXXXX)
STARTED_PIDS=()
# suture's audit trail goes to the test's own directory, not the machine's log
export SUTURE_AUDIT_LOG=$T/audit.jsonl
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

# ---- Scenario helpers (tests/scenarios/NAME + tests/integration/NAME.sh) ----

# Scenario builds run `make` in their own trees: variables of a surrounding `make check`
# (passed down in MAKEFLAGS) must not change how they build, or the tree the test runs and
# the tree `suture build` rebuilds could differ.
unset MAKEFLAGS MFLAGS MAKELEVEL

# require_suture: skip until the suture command line is built (it answers --help).
require_suture() {
	[ -x "$SUTURE" ] || skip "$SUTURE is not built"
	"$SUTURE" --help >/dev/null 2>&1 || skip "suture --help fails: the command line is not built yet"
	command -v jq >/dev/null || skip "jq is needed to read suture's --json output"
	setup_signing
}

# setup_signing: a fresh key pair for this test, in $T/keys; suture build signs with it
# and apply trusts it, through the environment, so the commands the tests run stay those
# of the command-line contract. Does nothing if this suture has no keygen.
setup_signing() {
	"$SUTURE" keygen --help >/dev/null 2>&1 || return 0
	mkdir -p "$T/keys"
	"$SUTURE" keygen "$T/keys/test.key.pem" "$T/keys/test.pub.pem" 2>"$T/keys/keygen.log" ||
		{ cat "$T/keys/keygen.log" >&2; fail "suture keygen failed"; }
	export SUTURE_SIGNING_KEY=$T/keys/test.key.pem SUTURE_TRUSTED_KEYS=$T/keys/test.pub.pem
}

# copy_scenario NAME DEST: copy tests/scenarios/NAME to DEST, with the makefile fragment its
# Makefile includes (tests/scenarios/scenario.mk), so that the copy builds on its own.
copy_scenario() {
	cp -a "$TOP/tests/scenarios/$1" "$2"
	cp "$TOP/tests/scenarios/scenario.mk" "$2/"
}

# build_scenario NAME [DEST]: copy tests/scenarios/NAME to DEST (default $T/NAME) and
# build it there; sets $S to the built tree.
build_scenario() {
	S=${2:-$T/$1}
	copy_scenario "$1" "$S"
	make -C "$S" >"$S.make.log" 2>&1 || { cat "$S.make.log" >&2; fail "make of scenario $1 failed"; }
}

# start_scenario NAME REGEX: build_scenario NAME, start its prog with the output in $T/out
# and the PID in $PID, and wait until the output has a line matching REGEX.
start_scenario() {
	build_scenario "$1"
	start_bg "$T/out" "$S/prog"
	PID=$BG_PID
	wait_for_line "$T/out" "$2"
}

# scenario_prologue NAME REGEX ID TARGET [EXTRA...]: the common start of a test:
# start_scenario NAME REGEX, then build_patch ID "$S/fix.diff" TARGET EXTRA... (the patch in
# $T/ID.suture).
scenario_prologue() {
	local name=$1 re=$2 id=$3 target=$4; shift 4
	start_scenario "$name" "$re"
	build_patch "$id" "$S/fix.diff" "$target" "$@"
}

# sut DESCRIPTION ARGS...: run suture ARGS, which must succeed; stdout in $T/last.out,
# stderr in $T/last.err.
sut() {
	local what=$1; shift
	if ! "$SUTURE" "$@" >"$T/last.out" 2>"$T/last.err"; then
		cat "$T/last.err" >&2
		fail "$what: 'suture $*' failed"
	fi
}

# build_patch ID DIFF TARGET [EXTRA...]: suture build of $S with DIFF into $T/ID.suture.
build_patch() {
	local id=$1 diff=$2 target=$3; shift 3
	sut "build of patch $id" build --src "$S" --diff "$diff" --target "$target" \
		-o "$T/$id.suture" --id "$id" "$@"
	[ -s "$T/$id.suture" ] || fail "suture build wrote no $T/$id.suture"
}

# nlines FILE: number of complete lines (a line being written is not counted).
nlines() { wc -l <"$1" | tr -d ' '; }

# lines_after FILE N: the complete lines after line N.
lines_after() { head -n "$(nlines "$1")" "$1" | tail -n +"$(($2 + 1))"; }

# wait_for_new_line FILE N REGEX [SECONDS]: wait until a line after line N matches REGEX.
wait_for_new_line() {
	local f=$1 n=$2 re=$3 secs=${4:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		lines_after "$f" "$n" | grep -Eq -- "$re" && return 0
		sleep 0.05
	done
	echo "--- $f (after line $n) ---" >&2; lines_after "$f" "$n" | tail -n 20 >&2 || true
	fail "timed out waiting for /$re/ after line $n of $(basename "$f")"
}

# wait_for_lines FILE COUNT [SECONDS]: wait until FILE has at least COUNT complete lines.
wait_for_lines() {
	local f=$1 want=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		[ "$(nlines "$f")" -ge "$want" ] && return 0
		sleep 0.05
	done
	fail "timed out waiting for $want lines in $(basename "$f") (has $(nlines "$f"))"
}

# settled_output FILE REGEX_OK REGEX_BAD [LINES]: the output after this call must show
# only the expected behaviour. Skips the line that may have been computed before the
# caller's suture command returned, then requires LINES (default 3) further lines, each
# matching REGEX_OK and none matching REGEX_BAD.
settled_output() {
	local f=$1 ok=$2 bad=$3 want=${4:-3} n
	n=$(($(nlines "$f") + 1))
	wait_for_lines "$f" $((n + want)) 10
	local newer; newer=$(lines_after "$f" "$n")
	if echo "$newer" | grep -Eq -- "$bad"; then
		echo "$newer" | tail -n 10 >&2
		fail "$(basename "$f"): old behaviour /$bad/ still appears"
	fi
	if echo "$newer" | grep -Evq -- "$ok"; then
		echo "$newer" | tail -n 10 >&2
		fail "$(basename "$f"): a line does not match /$ok/"
	fi
}

# assert_alive PID: the process still exists and is not a zombie.
assert_alive() {
	local st
	st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || true
	[ -n "$st" ] && [ "$st" != Z ] || fail "process $1 is no longer running"
}

# applied_ids PID: the ids of the patches applied in PID, one a line (from status --json).
applied_ids() {
	"$SUTURE" status -p "$1" --json >"$T/status.json" 2>"$T/status.err" ||
		{ cat "$T/status.err" >&2; fail "suture status -p $1 --json failed"; }
	jq -r '[.processes[] | select(.pid == '"$1"') | .objects[]?.patches[]?.id] | .[]' \
		"$T/status.json" || fail "suture status --json printed invalid JSON"
}

# assert_applied PID "ID..." : exactly these patch ids (any order) are applied in PID.
assert_applied() {
	local got want
	got=$(applied_ids "$1" | sort | tr '\n' ' ' | sed 's/ $//')
	want=$(echo "$2" | tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$want" ] || fail "process $1: applied patches are '$got', expected '$want'"
}

# stderr_mentions REGEX WHAT: $T/last.err (from expect_fail or sut) matches REGEX.
stderr_mentions() {
	grep -Eiq -- "$1" "$T/last.err" || { cat "$T/last.err" >&2; fail "the error does not mention $2"; }
}

# settled_awk FILE FS COND [LINES]: like settled_output, but each settled line must
# satisfy the awk condition COND (fields split on the regex FS), e.g. '$4 == $2 * 9'.
settled_awk() {
	local f=$1 fs=$2 cond=$3 want=${4:-3} n bad
	n=$(($(nlines "$f") + 1))
	wait_for_lines "$f" $((n + want)) 10
	bad=$(lines_after "$f" "$n" | awk -F"$fs" "!($cond)" | head -n 5)
	[ -z "$bad" ] || fail "$(basename "$f"): lines not satisfying ($cond): $bad"
}

# ---- Hostile-condition helpers (tests/integration/hostile_*.sh) ----

# sut_bounded SECS ARGS...: run suture ARGS under a SECS-second timeout; sets $SUT_RC to its
# exit status (stdout in $T/last.out, stderr in $T/last.err) and returns 0. suture may
# succeed (0) or fail cleanly (1), never hang (timeout's 124, or a kill at its deadline)
# nor die of a signal (128+N), nor exit 2 (a wrong command line) for a well-formed call.
# A clean failure says why: its stderr is not empty.
sut_bounded() {
	local secs=$1; shift
	SUT_RC=0
	timeout -k 5 "$secs" "$SUTURE" "$@" >"$T/last.out" 2>"$T/last.err" || SUT_RC=$?
	case $SUT_RC in
	0) ;;
	1) [ -s "$T/last.err" ] || fail "'suture $*' failed (exit 1) without saying why" ;;
	124 | 137) cat "$T/last.err" >&2; fail "'suture $*' hung: still running after ${secs}s" ;;
	*) cat "$T/last.err" >&2; fail "'suture $*' ended with status $SUT_RC (crash or usage error)" ;;
	esac
}

# proc_state PID: the one-letter state of PID from /proc/PID/stat (empty if gone).
proc_state() {
	# The command name in field 2 may contain spaces and parentheses: cut after the last ')'.
	sed -n 's/.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null || true
}

# fd_targets PID: what each of PID's file descriptors refers to, one "FD -> TARGET" a line.
fd_targets() {
	local f
	for f in /proc/"$1"/fd/*; do
		echo "${f##*/} -> $(readlink "$f" 2>/dev/null || echo '?')"
	done | sort -n
}

# stop_bg PID: end a process this test started (by its PID) and reap it.
stop_bg() { kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# ---- Resource sampling (soak and long tests) ----

# proc_sample PID: "MAPS RSS_KB FDS" of PID: lines of /proc/PID/maps, VmRSS in KiB, open
# file descriptors other than sockets. What a patch run may leak into a process shows in
# one of these. A server's connections come and go with its load, and it may open files
# while serving one (s_server opens the CA directory per connection): sockets are not
# counted, and FDS is the least of five readings 20 ms apart, so a descriptor the process
# holds only for a moment is not taken for a leak, while one that stays is.
proc_sample() {
	local maps rss fds=-1 n i
	maps=$(wc -l <"/proc/$1/maps") || fail "cannot read the mappings of process $1"
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status") || fail "cannot read VmRSS of process $1"
	for ((i = 0; i < 5; i++)); do
		# a descriptor closed while being listed reads as '?'
		n=$(fd_targets "$1" | grep -Ecv -- '-> (socket:.*|\?)$' || true)
		((fds < 0 || n < fds)) && fds=$n
		sleep 0.02
	done
	echo "$maps $rss $fds"
}

# assert_flat_samples FILE RSS_MARGIN_KB: FILE has lines "LABEL MAPS RSS_KB FDS" (first
# line the baseline); the last line may exceed the first by at most RSS_MARGIN_KB of RSS
# and by nothing in mappings and descriptors.
assert_flat_samples() {
	local f=$1 margin=$2 first last
	first=$(head -n1 "$f"); last=$(tail -n1 "$f")
	# shellcheck disable=SC2086 # the fields are words
	set -- $first; local m0=$2 r0=$3 f0=$4
	# shellcheck disable=SC2086
	set -- $last; local m1=$2 r1=$3 f1=$4
	note "growth from first to last sample: maps $((m1 - m0)), rss $((r1 - r0)) KiB, fds $((f1 - f0))"
	[ "$m1" -le "$m0" ] || fail "the mapping count grew from $m0 to $m1"
	[ "$f1" -le "$f0" ] || fail "the open descriptors grew from $f0 to $f1"
	[ "$r1" -le $((r0 + margin)) ] ||
		fail "resident memory grew from $r0 KiB to $r1 KiB (more than $margin KiB)"
}

# ---- Unprivileged hostile processes ----

# setup_nobody: the test's directory becomes readable by others, and $AS_NOBODY is the
# command prefix that runs a program as the user nobody (setpriv execs it, so the PID
# start_bg records is the program itself). Skips when that is not possible here.
setup_nobody() {
	command -v setpriv >/dev/null || skip "setpriv is needed to run a process unprivileged"
	id nobody >/dev/null 2>&1 || skip "no user nobody to run a process as"
	chmod a+rx "$T"
	[ -z "${S:-}" ] || chmod -R a+rX "$S"
	AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
}
