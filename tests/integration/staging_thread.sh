#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Honest figures and cheap staging (issue 12, items 1 and 2). The remote system calls that
# map the patch never run in a thread asleep for good while another thread exists
# (docs/architecture.md, "Which thread staging holds"): threads_blocked's eight workers
# block (read, accept, futex for good; nanosleep 500 ms at a time), so the counts of those
# asleep for good move only when suture stops them, and none shows more than the one stop
# of the (full) freeze; the calls ran in a thread that wakes soon anyway (the nanosleep
# workers, then the main thread, which sleeps 50 ms at a time), whose count shows a stop per
# step. (Before, staging took the first worker asleep in any call.) --json reports held_us, the longest time one thread was held
# (staging included), never less than the all-thread freeze_us.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue threads_blocked '^ready$' fix prog

# the threads that sleep in nanosleep (clock_nanosleep): they wake every 500 ms
sleep_500=" "
for d in /proc/"$PID"/task/*; do
	case $(cut -d' ' -f1 "$d/syscall") in 35 | 230) sleep_500+="${d##*/} " ;; esac
done
[ "$sleep_500" != " " ] || fail "no worker is in nanosleep"

# vcsw: "TID COUNT" for every thread but the leader and the nanosleep workers
vcsw() {
	local d
	for d in /proc/"$PID"/task/*; do
		[ "${d##*/}" = "$PID" ] && continue
		case $sleep_500 in *" ${d##*/} "*) continue ;; esac
		echo "${d##*/} $(awk '/^voluntary_ctxt_switches/ {print $2}' "$d/status")"
	done | sort
}

for round in 1 2 3; do
	vcsw >"$T/before"
	"$SUTURE" apply -p "$PID" --json "$T/fix.suture" >"$T/apply.json" ||
		fail "round $round: apply failed: $(cat "$T/apply.json")"
	vcsw >"$T/after"
	jq -e '.results[0] | .ok and .held_us > 0 and .held_us >= .freeze_us' "$T/apply.json" \
		>/dev/null || fail "round $round: held_us missing or below freeze_us: $(cat "$T/apply.json")"
	most=$(join "$T/before" "$T/after" | awk '{d = $3 - $2; if (d > m) m = d} END {print m + 0}')
	# the staging calls (memfd_create, ftruncate, mmap, close, plus the registry's own
	# map) would be a stop per step of the worker that ran them; the freeze is one stop
	[ "$most" -le 3 ] ||
		fail "round $round: a worker asleep for good ran the staging calls (largest count change $most)"
	sut "revert $round" revert -p "$PID" fix
done
grep -q UNEXPECTED "$T/out" && fail "a blocked call returned early: $(grep UNEXPECTED "$T/out" | head -3)"
assert_alive "$PID"
echo "PASS: staging left the workers asleep for good alone; held_us >= freeze_us"
