#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An interrupted rollout is continued or taken back from its state file:
#   1. SIGTERM during the first wave's soak: suture stops between steps, the state says
#      "interrupted", and `rollout --resume ID` finishes every wave;
#   2. SIGKILL during the first wave's soak (nothing can be saved then): the state file
#      still says what was done, and `rollout --abort ID` reverts the applied wave (which
#      a second suture may not do while the first still runs it).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib_rollout.sh"
rollout_prologue 3 svc-good good.diff

# state_file [ID]: the state file in $T/ro (not ID's); wait_applied [ID]: it shows wave 1 applied
state_file() { ls "$T"/ro/*.json 2>/dev/null | grep -v "${1:-^$}" | head -n 1 || true; }
wait_applied() {
	local i f
	for ((i = 0; i < 400; i++)); do
		f=$(state_file "${1:-}")
		[ -n "$f" ] && jq -e '.waves[0].state == "applied"' "$f" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "the rollout did not reach 'wave 1 applied'"
}

# 1. SIGTERM, resume
start_bg "$T/ro1.out" "$SUTURE" rollout "$T/svc-good.suture" --select "$SEL" --waves 1,100% \
	--soak 3s --health "$HEALTH" --state-dir "$T/ro" --json
ro1=$BG_PID
wait_applied
kill -TERM "$ro1"
rc=0
wait "$ro1" || rc=$?
[ "$rc" = 1 ] || { cat "$T/ro1.out" >&2; fail "interrupted rollout exited $rc, not 1"; }
f1=$(state_file)
id1=$(basename "$f1" .json)
jq -e '.state == "interrupted" and .waves[0].state == "applied" and .waves[1].state == "pending"' \
	"$f1" >/dev/null || fail "after SIGTERM: $(jq -c '{state, w: [.waves[].state]}' "$f1")"
grep -q -- "--resume $id1" "$T/ro1.out" || fail "no hint to resume in the output"
n=0
for p in "${PIDS[@]}"; do n=$((n + $(live_count "$p"))); done
[ "$n" = 1 ] || fail "after the interrupted first wave $n processes are patched, not 1"
sut "rollout --resume" rollout --resume "$id1" --state-dir "$T/ro" --json
jq -e '.state == "done" and ([.waves[].state] == ["healthy","healthy"])' "$T/last.out" >/dev/null ||
	fail "resume: $(jq -c '{state, w: [.waves[].state], failure}' "$T/last.out")"
for p in "${PIDS[@]}"; do
	[ "$(live_count "$p")" = 1 ] || fail "after resume, process $p is not patched"
done
[ "$(jq -s '[.[] | select(.action == "apply" and .ok)] | length' "$T/audit.jsonl")" = 3 ] ||
	fail "resume applied the first wave again"
if "$SUTURE" rollout --resume "$id1" --state-dir "$T/ro" 2>"$T/err"; then
	fail "a finished rollout resumed"
fi
grep -q "is done" "$T/err" || fail "refusal does not say why: $(cat "$T/err")"
sut "revert all" revert "${PIDS[@]/#/-p}" svc-good 2>/dev/null ||
	for p in "${PIDS[@]}"; do sut "revert $p" revert -p "$p" svc-good; done

# 2. SIGKILL, abort
start_bg "$T/ro2.out" "$SUTURE" rollout "$T/svc-good.suture" --select "$SEL" --waves 1,100% \
	--soak 30s --state-dir "$T/ro"
ro2=$BG_PID
wait_applied "$id1"
f2=$(state_file "$id1")
id2=$(basename "$f2" .json)
# while it runs, nobody else may resume or abort it
if "$SUTURE" rollout --abort "$id2" --state-dir "$T/ro" 2>"$T/err"; then
	fail "a running rollout was aborted by a second suture"
fi
grep -q "being run by another suture" "$T/err" || fail "refusal: $(cat "$T/err")"
kill -KILL "$ro2"
wait "$ro2" 2>/dev/null || true
jq -e '.state == "running" and .waves[0].state == "applied"' "$f2" >/dev/null ||
	fail "after SIGKILL: $(jq -c '{state, w: [.waves[].state]}' "$f2")"
canary=$(jq '.waves[0].pids[0]' "$f2")
[ "$(live_count "$canary")" = 1 ] || fail "the first wave's process $canary is not patched"
sut "rollout --list" rollout --list --state-dir "$T/ro"
grep -q "$id2 *running" "$T/last.out" || fail "--list: $(cat "$T/last.out")"
sut "rollout --abort" rollout --abort "$id2" --state-dir "$T/ro" --json
jq -e --argjson c "$canary" '.state == "aborted" and .waves[0].state == "reverted" and
	.waves[1].state == "pending" and .undone == [{"wave":1,"pid":$c,"patch":"svc-good",
	"ok":true,"error":null}]' "$T/last.out" >/dev/null ||
	fail "abort: $(jq -c '{state, w: [.waves[].state], undone}' "$T/last.out")"
for p in "${PIDS[@]}"; do
	assert_alive "$p"
	[ "$(live_count "$p")" = 0 ] || fail "after abort, process $p is still patched"
done
bad=$(answers | grep -v '^status=ok n=' || true)
[ -z "$bad" ] || fail "after abort the service does not answer as the original: $bad"
jq -e -s --arg id "$id2" '[.[] | select(.rollout == $id)] | .[-1].action == "rollout-abort"
	and .[-1].ok and (.[-1].error | test("aborted by the operator"))' "$T/audit.jsonl" \
	>/dev/null || fail "no rollout-abort audit line for $id2"
