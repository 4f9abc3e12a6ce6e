#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The audit trail: every apply and revert (successful or refused) appends one JSON line
# saying who did what to which process with which patch, and how it ended.
source "$(dirname "$0")/../lib.sh"
require_suture

scenario_prologue exe_func '^iter=[0-9]+ value=1[0-9]{3}$' exe-fix prog
sut "apply" apply -p "$PID" "$T/exe-fix.suture"
expect_fail "a second apply of the same patch" "$SUTURE" apply -p "$PID" "$T/exe-fix.suture"
sut "revert" revert -p "$PID" exe-fix

[ -s "$SUTURE_AUDIT_LOG" ] || fail "no audit trail written to $SUTURE_AUDIT_LOG"
[ "$(wc -l <"$SUTURE_AUDIT_LOG")" = 3 ] || { cat "$SUTURE_AUDIT_LOG" >&2; fail "expected 3 audit lines"; }
jq -e -s --argjson pid "$PID" '
	.[0].action == "apply" and .[0].ok and .[0].pid == $pid and .[0].patch == "exe-fix" and
	.[0].comm == "prog" and .[0].functions == 1 and (.[0].time | test("Z$")) and
	.[1].action == "apply" and (.[1].ok | not) and (.[1].error | test("already applied")) and
	.[2].action == "revert" and .[2].ok and .[2].uid == 0' "$SUTURE_AUDIT_LOG" >/dev/null ||
	{ cat "$SUTURE_AUDIT_LOG" >&2; fail "the audit trail does not say what happened"; }
SUTURE_AUDIT_LOG=off sut "apply without a trail" apply -p "$PID" "$T/exe-fix.suture"
[ "$(wc -l <"$SUTURE_AUDIT_LOG")" = 3 ] || fail "SUTURE_AUDIT_LOG=off still wrote the trail"
