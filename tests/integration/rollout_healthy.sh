#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A healthy rollout: five processes of a TCP service, found by their build (no
# --select), patched in waves 1,50%,100% (1, 2 and 2 processes, the least busy first).
# A --dry-run first walks the same plan and writes nothing into any process; the real
# rollout ends with every wave healthy, every process answering from the patched code and
# `suture verify` proving the patch in each.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib_rollout.sh"
rollout_prologue 5 svc-good good.diff
# the busiest process: make it use CPU time so it comes last
busy=${PIDS[0]}
bport=$(head -n 1 "$T/ports")
cpu() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
for ((i = 0; i < 20000 && $(cpu "$busy") < 5; i++)); do
	exec 3<>"/dev/tcp/127.0.0.1/$bport"; head -n 1 <&3 >/dev/null; exec 3<&-
done
for p in "${PIDS[@]:1}"; do
	[ "$(cpu "$p")" -lt "$(cpu "$busy")" ] || skip "could not make process $busy the busiest"
done

sut "rollout --dry-run" rollout "$T/svc-good.suture" --dry-run --waves 1,50%,100% --soak 100ms \
	--health "$HEALTH" --state-dir "$T/ro" --json
jq -e '.state == "done" and .dry_run == true' "$T/last.out" >/dev/null ||
	fail "dry run: $(jq -c '{state,dry_run,failure}' "$T/last.out")"
jq -e '[.waves[].pids | length] == [1,2,2]' "$T/last.out" >/dev/null ||
	fail "waves of 5: $(jq -c '[.waves[].pids|length]' "$T/last.out")"
for p in "${PIDS[@]}"; do
	[ "$(live_count "$p")" = 0 ] || fail "dry run left a patch in process $p"
done
[ "$(jq -s '[.[] | select(.action == "apply")] | length' "$T/audit.jsonl")" = 0 ] ||
	fail "a dry run recorded applies"

sut "rollout" rollout "$T/svc-good.suture" --waves 1,50%,100% --soak 100ms \
	--health "$HEALTH" --state-dir "$T/ro" --json
R=$T/rollout.json; cp "$T/last.out" "$R"
jq -e '.state == "done" and .failure == null and (.undone | length == 0)' "$R" >/dev/null ||
	fail "rollout: $(jq -c '{state,failure,undone}' "$R")"
jq -e '[.waves[].state] == ["healthy","healthy","healthy"]' "$R" >/dev/null ||
	fail "wave states $(jq -c '[.waves[].state]' "$R")"
jq -e --argjson b "$busy" '.waves[2].pids | index($b) != null' "$R" >/dev/null ||
	fail "the busiest process $busy is not in the last wave: $(jq -c '[.waves[].pids]' "$R")"
# the last wave's health covers all five, every check passed, verify included
jq -e '.waves[2].health | (map(select(.check == "verify")) | length == 5) and all(.ok)' "$R" \
	>/dev/null || fail "last health: $(jq -c '.waves[2].health' "$R")"
for p in "${PIDS[@]}"; do
	assert_alive "$p"
	[ "$(live_count "$p")" = 1 ] || fail "process $p is not patched"
done
bad=$(answers | grep -v '^status=ok v=2 n=' || true)
[ -z "$bad" ] || fail "not every process answers from the patched code: $bad"
args=()
for p in "${PIDS[@]}"; do args+=(-p "$p"); done
sut "verify" verify "${args[@]}" --patch "$T/svc-good.suture"
id=$(jq -r .id "$R")
jq -e -s --arg id "$id" '[.[] | select(.rollout == $id) | .action] ==
	["rollout-wave","rollout-health","rollout-wave","rollout-health","rollout-wave",
	 "rollout-health","rollout-done"] and ([.[] | select(.rollout == $id)] | all(.ok))' \
	"$T/audit.jsonl" >/dev/null || fail "audit: $(jq -c -s "[.[] | select(.rollout == \"$id\") | [.action,.ok]]" "$T/audit.jsonl")"
[ "$(jq -s '[.[] | select(.action == "apply" and .ok)] | length' "$T/audit.jsonl")" = 5 ] ||
	fail "expected 5 apply lines"
