#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Honest figures and cheap staging (issue 12, items 1 and 2). The remote system calls that
# map the patch run in a thread already asleep in a system call, not in the main thread:
# threads_blocked's eight workers block forever (read, accept, ...), so their context-switch
# counts move only when suture stops them, and the one that ran the calls (a ptrace stop per
# step) shows many more than the one stop of the freeze. --json reports held_us, the longest
# time one thread was held (staging included), never less than the all-thread freeze_us.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue threads_blocked '^ready$' fix prog

# vcsw: "TID COUNT" for every thread but the leader
vcsw() {
	local d
	for d in /proc/"$PID"/task/*; do
		[ "${d##*/}" = "$PID" ] && continue
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
	# map: mmap, memfd_create, ftruncate, mmap, (mprotect), close, plus the registry's
	# own map: at least 8 steps, each a stop of the staging thread
	[ "$most" -ge 8 ] ||
		fail "round $round: no worker thread ran the staging calls (largest count change $most): the main thread was used"
	sut "revert $round" revert -p "$PID" fix
done
grep -q UNEXPECTED "$T/out" && fail "a blocked call returned early: $(grep UNEXPECTED "$T/out" | head -3)"
assert_alive "$PID"
echo "PASS: staging ran in a sleeping worker; held_us >= freeze_us"
