#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# suture exposure: two processes map the library build a patch is for; both are exposed
# until the patch is applied to each, and the exit status says whether any still is.
source "$(dirname "$0")/../lib.sh"
require_suture

build_scenario lib_func
start_bg "$T/a.out" "$S/prog"
A=$BG_PID
start_bg "$T/b.out" "$S/prog"
B=$BG_PID
wait_for_line "$T/a.out" '^n=[1-9] price=[0-9]+$'
wait_for_line "$T/b.out" '^n=[1-9] price=[0-9]+$'
build_patch libfoo-fix "$S/fix.diff" libfoo.so --cve CVE-2026-00001

# state_of PID: what exposure --json says of PID ("" when it is not listed)
exposure_json() {
	set +e
	"$SUTURE" exposure "$T/libfoo-fix.suture" --json >"$T/exp.json" 2>"$T/exp.err"
	EXPOSURE_RC=$?
	set -e
	jq -e . "$T/exp.json" >/dev/null || { cat "$T/exp.err" >&2; fail "exposure printed invalid JSON"; }
}
state_of() { jq -r --argjson p "$1" '.patches[0].processes[] | select(.pid == $p) | .state' "$T/exp.json"; }

exposure_json
[ "$(state_of "$A")" = exposed ] && [ "$(state_of "$B")" = exposed ] ||
	fail "both processes should be exposed: $(jq -c . "$T/exp.json")"
[ "$EXPOSURE_RC" = 1 ] || fail "exposure exited $EXPOSURE_RC with exposed processes"
jq -e '.patches[0].cves == ["CVE-2026-00001"]' "$T/exp.json" >/dev/null || fail "CVEs missing"

sut "apply to A" apply -p "$A" "$T/libfoo-fix.suture"
exposure_json
[ "$(state_of "$A")" = patched ] && [ "$(state_of "$B")" = exposed ] ||
	fail "A patched, B exposed expected: $(jq -c . "$T/exp.json")"
[ "$EXPOSURE_RC" = 1 ] || fail "exposure exited $EXPOSURE_RC while B is exposed"

sut "apply to B" apply -p "$B" "$T/libfoo-fix.suture"
exposure_json
[ "$(state_of "$A")" = patched ] && [ "$(state_of "$B")" = patched ] ||
	fail "both patched expected: $(jq -c . "$T/exp.json")"
[ "$(jq '.patches[0].exposed' "$T/exp.json")" = 0 ] || fail "exposed count should be 0"
[ "$EXPOSURE_RC" = 0 ] || fail "exposure exited $EXPOSURE_RC with nothing exposed"

# the human form names the state of each process
sut "exposure" exposure "$T/libfoo-fix.suture"
grep -Eq "patched +pid $A " "$T/last.out" || { cat "$T/last.out" >&2; fail "human output lacks A"; }

# apply --all asks for a state: processes that already have the patch are in it
sut "apply --all when every process is patched" apply --all "$T/libfoo-fix.suture"
grep -q 'already applied' "$T/last.err" || { cat "$T/last.err" >&2; fail "apply --all did not say the patch was already applied"; }
assert_applied "$A" libfoo-fix
assert_applied "$B" libfoo-fix
