#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A revert on a process whose every thread sleeps for good (an idle server: main in read,
# workers in pause, a futex wait and epoll_wait) leaves them asleep
# (docs/architecture.md, "Releasing the patch memory when every thread sleeps"): the
# partial freeze stops nobody, and the unmap of the patch memory, which needs a thread to
# run it, borrows one thread after the thaw. So a revert moves the context-switch counts
# of one thread at most (the full freeze, run as the control, moves all four), the
# patch's mapping is gone afterwards, and the process runs its original code. The thread
# it borrows cannot have its seccomp filters evaluated before the revert writes a byte:
# with a filter in any thread (here one that allows everything), the revert takes the
# full freeze, as before, and all four counts move.
source "$(dirname "$0")/../lib.sh"
require_suture
unset SUTURE_FREEZE # the default is what is tested

build_scenario all_asleep
build_patch asleep-fix "$S/fix.diff" prog

# start [filtered]: the scenario, its requests through $T/fifo
start() {
	rm -f "$T/fifo"
	mkfifo "$T/fifo"
	start_bg "$T/out" "$S/prog" "$T/fifo" "$@"
	PID=$BG_PID
	asked=0
	wait_for_line "$T/out" '^thread main '
	for name in pause futex epoll; do wait_for_line "$T/out" "^thread $name "; done
}

# ask N: one request, answered with value(N)
ask() {
	asked=$((asked + 1))
	echo "$1" >"$T/fifo"
	wait_for_lines "$T/out" $((4 + asked))
	tail -n 1 "$T/out"
}

# all_asleep: every thread is in a system call (not "running", not a stop)
all_asleep() {
	local i d
	for ((i = 0; i < 100; i++)); do
		for d in /proc/"$PID"/task/*; do
			case $(cut -d' ' -f1 "$d/syscall") in running | -1) continue 2 ;; esac
		done
		return 0
	done
	fail "not every thread of $PID is asleep in a system call"
}

# counts: "TID VOLUNTARY NONVOLUNTARY" for every thread
counts() {
	local d
	for d in /proc/"$PID"/task/*; do
		echo "${d##*/} $(awk '/^voluntary_ctxt_switches/ {v = $2}
			/^nonvoluntary_ctxt_switches/ {n = $2} END {print v, n}' "$d/status")"
	done | sort
}

# moved BEFORE AFTER: how many threads' counts differ
moved() { join "$1" "$2" | awk '$2 != $4 || $3 != $5 {m++} END {print m + 0}'; }

mapped() { grep -c 'memfd:suture:asleep-fix' "/proc/$PID/maps" || true; }

round() { # round ENV...: apply, check, revert under ENV with the counts around the revert
	sut "apply" apply -p "$PID" "$T/asleep-fix.suture"
	[ "$(ask 8)" = value=2008 ] || fail "the patch does not run: $(tail -n 1 "$T/out")"
	[ "$(mapped)" -gt 0 ] || fail "the patch's memory is not mapped after the apply"
	all_asleep
	counts >"$T/before"
	env "$@" "$SUTURE" revert -p "$PID" asleep-fix --json >"$T/revert.json" 2>"$T/revert.err" ||
		fail "revert failed: $(cat "$T/revert.err")"
	counts >"$T/after"
	jq -e '.results[0].ok and (.results[0].warning == null)' "$T/revert.json" >/dev/null ||
		fail "revert: $(cat "$T/revert.json") $(cat "$T/revert.err")"
	[ "$(mapped)" -eq 0 ] || fail "the patch's memory is still mapped after the revert"
	[ "$(ask 9)" = value=1009 ] || fail "the original code does not run: $(tail -n 1 "$T/out")"
}

start
[ "$(ask 7)" = value=1007 ] || fail "before any patch: $(tail -n 1 "$T/out")"
round SUTURE_FREEZE=all
full=$(moved "$T/before" "$T/after")
note "full freeze (control): $full of 4 threads' switch counts moved"
[ "$full" -eq 4 ] || fail "the full freeze moved $full of 4 threads' counts: the counts do not see a freeze"

for r in 1 2 3 4 5; do
	round
	m=$(moved "$T/before" "$T/after")
	note "round $r: $m of 4 threads' switch counts moved; held_us $(jq .results[0].held_us "$T/revert.json")"
	[ "$m" -le 1 ] || fail "round $r: the revert moved $m threads' counts (one at most: the thread borrowed for the unmap)"
done
grep -q UNEXPECTED "$T/out" && fail "a call returned: $(grep UNEXPECTED "$T/out" | head -3)"
assert_alive "$PID"
stop_bg "$PID"

start filtered
grep -q '^Seccomp:[[:space:]]*2' "/proc/$PID/status" || fail "the filtered scenario has no seccomp filter"
round
m=$(moved "$T/before" "$T/after")
note "under a seccomp filter: $m of 4 threads' switch counts moved"
[ "$m" -eq 4 ] || fail "under a seccomp filter the revert moved $m of 4 threads' counts, not the full freeze's 4"
stop_bg "$PID"
echo "PASS: a revert with every thread asleep for good moved one thread's counts at most"
