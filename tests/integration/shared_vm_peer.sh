#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Invariant 7 when the target is itself the one sharing: a vfork (CLONE_VM|CLONE_VFORK)
# child whose parent waits in the kernel, and one of two CLONE_VM children of a parent
# that has since exec'd (the sharer is neither its parent nor its child). Run as an
# unprivileged user. apply -p TARGET is refused, naming the sharer and how it is related,
# and changes nothing; once the sibling is gone, the apply goes through.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario shared_vm_peer
build_patch peer-fix "$S/fix.diff" prog
chmod 755 "$T" "$S"

for mode in vfork sibling; do
	out=$T/out.$mode
	start_bg "$out" setpriv --reuid=65534 --regid=65534 --clear-groups -- "$S/prog" "$mode"
	wait_for_line "$out" '^iter=2 value=1[0-9]{3}$'
	TARGET=$(sed -n 's/^target=\([0-9]*\) .*/\1/p' "$out")
	SHARER=$(sed -n 's/^target=[0-9]* sharer=\([0-9]*\)$/\1/p' "$out")
	[ -n "$TARGET" ] && [ -n "$SHARER" ] || fail "$mode: the target did not report itself and its sharer"
	expect_fail "$mode: apply while pid $SHARER shares the memory" \
		"$SUTURE" apply -p "$TARGET" --timeout 500 "$T/peer-fix.suture"
	note "$mode: $(head -n 1 "$T/last.err")"
	stderr_mentions "pid $SHARER shares its memory" "the sharer ($SHARER)"
	case $mode in
	vfork) stderr_mentions "its parent" "that the sharer is its parent" ;;
	sibling) stderr_mentions "CLONE_VM" "how the sharer shares" ;;
	esac
	assert_applied "$TARGET" ""
	settled_output "$out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
	if [ "$mode" = sibling ]; then
		kill -USR1 "$TARGET"
		wait_for_line "$out" '^sharer gone$'
		sut "apply once the sibling is gone" apply -p "$TARGET" "$T/peer-fix.suture"
		settled_output "$out" '^iter=[0-9]+ value=2[0-9]{3}$' 'value=1[0-9]{3}'
		sut "revert" revert -p "$TARGET" peer-fix
		settled_output "$out" '^iter=[0-9]+ value=1[0-9]{3}$' 'value=2[0-9]{3}'
	fi
	assert_alive "$TARGET"
	stop_bg "$BG_PID"
done
