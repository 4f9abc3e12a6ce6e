#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Invariant 8: a record counts as applied only if it is true now. An unprivileged process
# dlopens the patched library, gets the patch, then dlcloses and dlopens it again: it runs
# the old code. status and exposure must say it is exposed (and why), and apply --all must
# drop the stale record and apply the patch again; revert then works and leaves no patch
# memory behind.
source "$(dirname "$0")/../lib.sh"
require_suture
command -v setpriv >/dev/null || skip "setpriv is needed to run the process unprivileged"
id nobody >/dev/null 2>&1 || skip "no user nobody to run the process as"

build_scenario hostile_registry
chmod a+rx "$T"
chmod -R a+rX "$S"
start_bg "$T/out" setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$S/prog" plain "$S/libhv.so"
PID=$BG_PID
wait_for_line "$T/out" '^value=1 '
build_patch hv-fix "$S/fix.diff" libhv.so --cve CVE-2026-12345

patch_state() {
	"$SUTURE" status -p "$PID" --json >"$T/st.json" || fail "status -p $PID --json failed"
	jq -r '[.processes[0].objects[].patches[] | .id + ":" + .state] | join(" ")' "$T/st.json"
}
# exposure_state: what exposure --json says of PID; its exit status in $T/exp.rc.
exposure_state() {
	local rc=0
	"$SUTURE" exposure "$T/hv-fix.suture" --json >"$T/exp.json" 2>"$T/exp.err" || rc=$?
	echo "$rc" >"$T/exp.rc"
	jq -r --argjson p "$PID" '.patches[0].processes[] | select(.pid == $p) | .state' "$T/exp.json"
}

# --all: the target build is this test's own library (no other process maps it)
sut "apply --all" apply --all "$T/hv-fix.suture"
settled_output "$T/out" '^value=2 ' '^value=1 ' 3
[ "$(patch_state)" = "hv-fix:live" ] || fail "after apply: $(cat "$T/st.json")"
[ "$(exposure_state)" = patched ] || fail "exposure after apply: $(cat "$T/exp.json")"

# unload and load the library again: the old code runs
kill -USR1 "$PID"
wait_for_line "$T/out" '^reloaded$'
settled_output "$T/out" '^value=1 ' '^value=2 ' 3
[ "$(patch_state)" = "hv-fix:stale" ] || fail "status calls a reloaded library patched: $(cat "$T/st.json")"
jq -e '.processes[0].exposed == true and
	(.processes[0].objects[0].patches[0].stale_reason | test("hv_value|reloaded|no longer mapped"))' \
	"$T/st.json" >/dev/null || fail "status does not say why the record is stale: $(cat "$T/st.json")"
"$SUTURE" status -p "$PID" >"$T/st.txt"
grep -q 'STALE: ' "$T/st.txt" && grep -Eq "^pid $PID .*EXPOSED" "$T/st.txt" ||
	fail "human status does not show the stale record: $(cat "$T/st.txt")"
[ "$(exposure_state)" = exposed ] || fail "exposure calls a reloaded library patched: $(cat "$T/exp.json")"
[ "$(cat "$T/exp.rc")" = 1 ] || fail "exposure exited $(cat "$T/exp.rc") with the process exposed"
jq -e --argjson p "$PID" '.patches[0].processes[] | select(.pid == $p) | .reason | test("stale")' \
	"$T/exp.json" >/dev/null || fail "exposure does not say why: $(cat "$T/exp.json")"

# apply --all applies again (the stale record is not "already applied")
sut "apply --all again" apply --all "$T/hv-fix.suture"
grep -q 'dropped 1 stale record (hv-fix' "$T/last.err" || fail "apply does not report dropping the stale record: $(cat "$T/last.err")"
settled_output "$T/out" '^value=2 ' '^value=1 ' 3
[ "$(patch_state)" = "hv-fix:live" ] || fail "after the second apply: $(cat "$T/st.json")"
[ "$(exposure_state)" = patched ] || fail "exposure after the second apply: $(cat "$T/exp.json")"

sut "revert" revert -p "$PID" hv-fix
settled_output "$T/out" '^value=1 ' '^value=2 ' 3
[ "$(patch_state)" = "" ] || fail "after revert: $(cat "$T/st.json")"
left=$(grep -c '/memfd:suture:' "/proc/$PID/maps" || true)
[ "$left" = 0 ] || fail "patch memory left after revert: $(grep suture "/proc/$PID/maps")"
assert_alive "$PID"
