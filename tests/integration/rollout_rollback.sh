#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A rollout whose patched build fails its health check after the first wave: four
# processes of a TCP service on loopback; the patch makes the service answer
# "status=broken", so the health command fails once the canary is patched. Every wave is
# reverted automatically, the later waves never start, every process keeps serving the
# original answer, and the state file and the audit trail say exactly that.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib_rollout.sh"
rollout_prologue 4 svc-bad bad.diff
canary=${PIDS[2]}
if "$SUTURE" rollout "$T/svc-bad.suture" --select "$SEL" --canary "$canary" 2>/dev/null; then
	fail "--select and --canary together should be refused"
fi
sel3=$(IFS=,; echo "${PIDS[*]:0:2},${PIDS[3]}")
rc=0
"$SUTURE" rollout "$T/svc-bad.suture" --waves 1,50%,100% --soak 200ms --health "$HEALTH" \
	--canary "$canary" --state-dir "$T/ro" --json >"$T/ro.json" 2>"$T/ro.err" || rc=$?
[ "$rc" = 1 ] || { cat "$T/ro.err" >&2; fail "rollout of a failing patch exited $rc, not 1"; }
id=$(jq -r .id "$T/ro.json")
[ -f "$T/ro/$id.json" ] || fail "no state file $T/ro/$id.json"
cmp -s <(jq -S . "$T/ro.json") <(jq -S . "$T/ro/$id.json") ||
	fail "--json output differs from the state file"
jq -e '.state == "rolled-back"' "$T/ro.json" >/dev/null ||
	fail "state $(jq -r .state "$T/ro.json"), expected rolled-back"
jq -e --argjson c "$canary" '.waves[0].pids == [$c]' "$T/ro.json" >/dev/null ||
	fail "the canary $canary is not the first wave: $(jq -c '.waves[0].pids' "$T/ro.json")"
jq -e '[.waves[].pids | length] == [1,1,2]' "$T/ro.json" >/dev/null ||
	fail "waves 1,50%,100% of 4 should be 1,1,2 processes: $(jq -c '[.waves[].pids|length]' "$T/ro.json")"
jq -e '[.waves[].state] == ["reverted","pending","pending"]' "$T/ro.json" >/dev/null ||
	fail "wave states $(jq -c '[.waves[].state]' "$T/ro.json")"
jq -e '.waves[0].health | map(select(.check == "command" and .ok == false)) | length == 1' \
	"$T/ro.json" >/dev/null || fail "the failed health command is not recorded"
jq -e '.waves[0].health | map(select(.check != "command")) | all(.ok)' "$T/ro.json" >/dev/null ||
	fail "process checks should pass (the process is alive and verified): $(jq -c '.waves[0].health' "$T/ro.json")"
jq -e '.failure | test("health.*exited with status 1")' "$T/ro.json" >/dev/null ||
	fail "failure does not name the health command: $(jq -r .failure "$T/ro.json")"
jq -e --argjson c "$canary" '.undone == [{"wave":1,"pid":$c,"patch":"svc-bad","ok":true,"error":null}]' \
	"$T/ro.json" >/dev/null || fail "undone: $(jq -c .undone "$T/ro.json")"
grep -q "rolled back" "$T/ro.err" || fail "no rollback message on stderr"

# the service keeps serving the original code, every process unpatched
for p in "${PIDS[@]}"; do
	assert_alive "$p"
	[ "$(live_count "$p")" = 0 ] || fail "process $p still has a live patch"
done
bad=$(answers | grep -v '^status=ok n=' || true)
[ -z "$bad" ] || fail "the service does not answer as the original: $bad"

# the audit trail: wave applied, health failed, rollback, and the transactions
A=$T/audit.jsonl
jq -e -s --arg id "$id" '[.[] | select(.rollout == $id) | .action] ==
	["rollout-wave","rollout-health","rollout-abort"]' "$A" >/dev/null ||
	fail "rollout audit lines: $(jq -c -s "[.[] | select(.rollout == \"$id\") | [.action,.ok]]" "$A")"
jq -e -s --arg id "$id" 'map(select(.rollout == $id)) | .[1].ok == false and .[2].ok == true
	and .[1].wave == 1 and (.[1].error | test("status 1"))' "$A" >/dev/null ||
	fail "rollout-health/abort lines wrong"
jq -e -s --argjson c "$canary" '[.[] | select(.pid == $c) | .action] == ["apply","revert"]' "$A" \
	>/dev/null || fail "the canary's transactions: $(jq -c -s "[.[] | select(.pid == $canary) | .action]" "$A")"
sut "audit verify" audit verify --log "$A"

# --list shows it
sut "rollout --list" rollout --list --state-dir "$T/ro" --json
jq -e --arg id "$id" '.[0].id == $id and .[0].state == "rolled-back"' "$T/last.out" >/dev/null ||
	fail "--list: $(cat "$T/last.out")"
