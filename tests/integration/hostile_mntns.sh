#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A process in its own mount namespace maps its copy of the library from a tmpfs mounted
# only inside that namespace; at the same path outside it sits another library (a decoy
# with another build-id). `suture apply --all` must find the process by the build-id of
# what it really maps (not by the path, which lies here), patch it, and status must show
# it; revert restores it.
source "$(dirname "$0")/../lib.sh"
require_suture
command -v unshare >/dev/null || skip "unshare is not installed"
unshare -m --propagation private true 2>/dev/null || skip "unshare -m is not permitted here"

build_scenario hostile_mntns
build_patch mntns-fix "$S/fix.diff" libnsrate.so

# The decoy: the path the process's library has inside its namespace, seen from outside.
mkdir -p "$T/nslib"
echo 'int ns_rate(void) { return 99; }' | gcc -shared -fPIC -Wl,--build-id -x c - -o "$T/nslib/libnsrate.so" ||
	fail "cannot build the decoy library"
decoy_sum=$(sha256sum <"$T/nslib/libnsrate.so")

# unshare and sh exec into prog: the PID started is the target's.
start_bg "$T/out" unshare -m --propagation private sh -c \
	'mount -t tmpfs suture-test "$0" && cp "$1" "$0/" && LD_LIBRARY_PATH="$0" exec "$2"' \
	"$T/nslib" "$S/libnsrate.so" "$S/prog"
PID=$BG_PID
wait_for_line "$T/out" '^rate=41$'
grep -q " $T/nslib/libnsrate.so\$" "/proc/$PID/maps" || fail "the target does not map $T/nslib/libnsrate.so"
[ "$(readlink "/proc/$PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] ||
	fail "the target is not in a mount namespace of its own"
! cmp -s "$T/nslib/libnsrate.so" "$S/libnsrate.so" || fail "the decoy is the library itself"

sut_bounded 60 apply --all "$T/mntns-fix.suture"
[ "$SUT_RC" -eq 0 ] || { cat "$T/last.err" >&2; fail "apply --all failed"; }
settled_output "$T/out" '^rate=43$' '^rate=41$'
assert_applied "$PID" mntns-fix
jq -e --arg id mntns-fix '[.processes[].objects[] | select(.patches[]?.id == $id) |
	.path | test("libnsrate\\.so")] | any' "$T/status.json" >/dev/null ||
	fail "status does not show the patch on libnsrate.so: $(cat "$T/status.json")"
[ "$(sha256sum <"$T/nslib/libnsrate.so")" = "$decoy_sum" ] || fail "apply changed the decoy file outside the namespace"

sut_bounded 60 revert -p "$PID" mntns-fix
[ "$SUT_RC" -eq 0 ] || { cat "$T/last.err" >&2; fail "revert failed"; }
settled_output "$T/out" '^rate=41$' '^rate=43$'
assert_applied "$PID" ""
assert_alive "$PID"
