#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Invariant 6 inside a remote system call: suture SIGKILLed while a target thread's
# registers are borrowed (SUTURE_FAULT=remote-loaded, -entry, -called, -returned: the
# call's registers loaded, the thread at its syscall entry, at its exit, back in the
# interrupt stop with the registers still borrowed). Two targets each time: one asleep in
# nanosleep (exe_func: its sleep must be made again, not fail), one spinning in user code
# with known values in general, SSE and AVX registers and MXCSR (borrowed_state: it
# checks them all the time and exits 3 at the first change). Each must go on as if
# nothing had happened: alive, not stopped, running its own (old) code, its signal mask
# as it was; and the next suture releases what the killed ones left and applies and
# reverts normally.
source "$(dirname "$0")/../lib.sh"
require_suture

OLD='^iter=[0-9]+ value=1[0-9]{3}$' NEW='^iter=[0-9]+ value=2[0-9]{3}$'
start_scenario exe_func "$OLD"
build_patch exe-fix "$S/fix.diff" prog
P1=$PID OUT1=$T/out S1=$S
build_scenario borrowed_state
start_bg "$T/out2" "$S/prog"
P2=$BG_PID OUT2=$T/out2 S2=$S
wait_for_line "$OUT2" "$OLD"
S=$S2 build_patch state-fix "$S2/fix.diff" prog

sigblk() { awk '/^SigBlk:/ {print $2}' "/proc/$1/status"; }
B1=$(sigblk "$P1") B2=$(sigblk "$P2")
ROUNDS=${ROUNDS:-4}
kills=0
for step in remote-loaded remote-entry remote-called remote-returned; do
	for i in $(seq 1 "$ROUNDS"); do
		for who in 1 2; do
			if [ "$who" = 1 ]; then p=$P1 out=$OUT1 patch=$T/exe-fix.suture
			else p=$P2 out=$OUT2 patch=$T/state-fix.suture; fi
			set +e
			SUTURE_FAULT=$step:kill timeout 60 "$SUTURE" apply -p "$p" "$patch" \
				>"$T/last.out" 2>"$T/last.err"
			rc=$?
			set -e
			[ "$rc" = 137 ] || fail "$step, round $i, pid $p: apply exited $rc, not killed at the step: $(cat "$T/last.err")"
			kills=$((kills + 1))
			n0=$(nlines "$out")
			sleep 0.05
			grep -q '^corrupt' "$out" && fail "$step, round $i: the spinning target's registers changed: $(grep '^corrupt' "$out")"
			kill -0 "$p" 2>/dev/null ||
				fail "$step, round $i: pid $p died after suture was killed in a remote call: $(wait "$p"; echo "status $?")"
			wait_for_new_line "$out" "$n0" "$OLD" ||
				fail "$step, round $i: pid $p makes no progress"
			[ "$(proc_state "$p")" != t ] || fail "$step, round $i: pid $p was left traced-stopped"
			b=$([ "$who" = 1 ] && echo "$B1" || echo "$B2")
			[ "$(sigblk "$p")" = "$b" ] || fail "$step, round $i: pid $p's signal mask is $(sigblk "$p"), was $b"
		done
	done
done
grep -q '^corrupt' "$OUT2" && fail "the spinning target's registers changed"
# iterations go on one by one: none lost, none repeated, in either target
for out in "$OUT1" "$OUT2"; do
	awk -F'[= ]' '/^iter=/ { if (NR > 1 && $2 != last + 1) { print "iteration " $2 " after " last; exit 1 } last = $2 }' "$out" ||
		fail "$(basename "$out"): iterations out of order after the kills"
done

# what the killed runs left is released by the next suture, which applies and reverts
sut "apply after the kills" apply -p "$P1" "$T/exe-fix.suture"
settled_output "$OUT1" "$NEW" "$OLD"
sut "revert after the kills" revert -p "$P1" exe-fix
settled_output "$OUT1" "$OLD" "$NEW"
sut "apply after the kills" apply -p "$P2" "$T/state-fix.suture"
settled_output "$OUT2" "$NEW" "$OLD"
sut "revert after the kills" revert -p "$P2" state-fix
settled_output "$OUT2" "$OLD" "$NEW"
for p in "$P1" "$P2"; do
	[ "$(grep -c '/memfd:suture-patch' "/proc/$p/maps" || true)" = 0 ] ||
		fail "patch memory left in $p after the kills: $(grep suture "/proc/$p/maps")"
	"$SUTURE" status -p "$p" --json | jq -e '.processes[0].transaction == "none"' >/dev/null ||
		fail "status of $p reports an interrupted transaction after the kills"
	assert_alive "$p"
done
grep -q '^corrupt' "$OUT2" && fail "the spinning target's registers changed"
echo "PASS: $kills kills inside remote system calls, both targets whole, the next suture repaired"
