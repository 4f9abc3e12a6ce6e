#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A library's text mapped again from its file over a patched function (what the dynamic
# linker does when it lays a library's text segment over the span it mapped first, and why
# sutured waits for the text mapping before it patches): the jump is gone while the
# registry still records the patch. `suture status` must report that record as stale,
# naming the function, and the process as exposed, not as patched; applying again repairs
# it.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../daemon_lib.sh"
require_suture

daemon_scenario
start_bg "$T/r.out" "$S/remapper"
P=$BG_PID
wait_for_line "$T/r.out" "^pid=$P value=1"
sut "apply" apply -p "$P" "$T/dw-fix.suture"
settled_output "$T/r.out" "^pid=$P value=2$" "value=1"
"$SUTURE" status -p "$P" --json >"$T/s1.json" || fail "suture status failed"
jq -e '[.processes[].objects[]?.patches[]? | select(.id == "dw-fix")] | .[0].live == true' \
	"$T/s1.json" >/dev/null || fail "the applied patch is not live: $(cat "$T/s1.json")"

kill -USR1 "$P"
wait_for_line "$T/r.out" "^pid=$P remapped"
settled_output "$T/r.out" "^pid=$P value=1$" "value=2"
"$SUTURE" status -p "$P" --json >"$T/s2.json" || fail "suture status failed"
jq -e '[.processes[].objects[]?.patches[]? | select(.id == "dw-fix")] | .[0] |
	.live == false and .state == "stale" and (.stale_reason | test("fix_value"))' \
	"$T/s2.json" >/dev/null || fail "the record whose jump was mapped over is not stale: $(cat "$T/s2.json")"
jq -e '.processes[0].exposed == true' "$T/s2.json" >/dev/null ||
	fail "the process is not reported exposed: $(cat "$T/s2.json")"
"$SUTURE" status -p "$P" >"$T/human.out" 2>&1 || true
grep -qi stale "$T/human.out" || { cat "$T/human.out" >&2; cat "$T/s2.json" >&2; fail "the human status does not say STALE"; }

# applying again drops the stale record and puts the jump back
sut "apply again" apply -p "$P" "$T/dw-fix.suture"
settled_output "$T/r.out" "^pid=$P value=2$" "value=1"
assert_applied "$P" dw-fix
assert_alive "$P"
