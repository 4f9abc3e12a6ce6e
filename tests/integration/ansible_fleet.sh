#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Ansible collection (contrib/ansible) against a fleet of four namespace hosts made by
# contrib/ansible/nshosts.sh. Each host
# is its own PID, mount and network namespace (its own /proc, so suture there sees only that
# host's processes; private /run, /var/log and /var/lib/suture, so its locks, audit trail,
# rollout state and patch folder are its own), runs sshd on an address of a bridge inside
# a controller network namespace, and runs two processes of the rollout service. Ansible
# (Debian's ansible-core) runs in the controller namespace and reaches the hosts over ssh
# with a key made here, exactly as docs/fleet.md tells a new user to:
#   (c) --check: every host runs the plan with `rollout --dry-run`; nothing is patched;
#   (a) a healthy rollout in phases 1, 10%, 100%: every process on every host patched,
#       answering from the new code, verify proving it; then the module's revert;
#   (b) host3's health check fails in the last phase (with host4): host3 rolls itself back,
#       host1, host2 (earlier phases) and host4 (same phase) are rolled back by the
#       playbook, no patch remains anywhere and ansible-playbook exits non-zero;
#   (d) host2 fails in the second phase: host1 is rolled back and no later phase starts
#       (host3 and host4 are not touched).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib_rollout.sh"
require_suture
for c in ansible-playbook ansible unshare nsenter ip ssh-keygen; do
	command -v "$c" >/dev/null || skip "$c is needed (scripts/deps.sh installs it)"
done
[ -x /usr/sbin/sshd ] || skip "/usr/sbin/sshd is needed (openssh-server; scripts/deps.sh installs it)"
[ "$(id -u)" = 0 ] || skip "namespace hosts need root"
id sshd >/dev/null 2>&1 || skip "sshd's privilege separation user is missing"

NHOSTS=4
F=$T/fleet
NSH=$TOP/contrib/ansible/nshosts.sh
mkdir -p "$F"
fleet_cleanup() {
	"$NSH" stop "$F" || true
	cleanup
}
trap fleet_cleanup EXIT

build_service
build_patch svc-good "$S/good.diff" svc

# Each host runs two processes of the service (their PIDs, as the host sees them, and
# ports in its own /run/svc); the health command checks what they answer.
EX=$TOP/contrib/ansible/examples
t0=$(date +%s.%N)
"$NSH" start "$F" "$NHOSTS" "$EX/svc-start.sh $S/svc 2" >"$F/start.log" 2>&1 || { cat "$F/start.log" >&2; fail "nshosts.sh start failed"; }
note "$NHOSTS hosts up: $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")s"
in_host() { local h=$1; shift; "$NSH" host "$F" "$h" "$@"; }
in_ctl() { "$NSH" exec "$F" "$@"; }
for ((h = 1; h <= NHOSTS; h++)); do
	in_host $h cat /run/svc/pids >"$F/host$h/pids" && in_host $h cat /run/svc/ports >"$F/host$h/ports" ||
		fail "host$h: cannot read its service's pids and ports"
	[ "$(wc -l <"$F/host$h/ports")" = 2 ] || fail "host$h: its service did not start: $(cat "$F/host$h/host.log")"
done

# host_answers H: the first line each process of host H answers
host_answers() {
	local port
	while read -r port; do
		in_host "$1" bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1 && head -n 1 <&3' _ "$port"
	done <"$F/host$1/ports"
}
# host_live H: the number of live patches in each process of host H, space-separated
host_live() {
	local p out=
	while read -r p; do
		out+="$(in_host "$1" "$SUTURE" status -p "$p" --json |
			jq '[.processes[].objects[].patches[] | select(.live)] | length') "
	done <"$F/host$1/pids"
	echo "${out% }"
}
# host_rollouts H: "state dry_run" of each rollout in host H's own state folder
host_rollouts() { in_host "$1" "$SUTURE" rollout --list --json | jq -r '.[] | "\(.state) \(.dry_run)"'; }
# each host's suture sees its own two service processes, not the others'
in_host 1 "$SUTURE" scan --json --no-dpkg -P "$T/svc-good.suture" >"$F/scan1.json" || true
[ "$(jq '[.processes[] | select(.comm == "svc")] | length' "$F/scan1.json")" = 2 ] ||
	fail "host1's suture sees $(jq '[.processes[] | select(.comm == "svc")] | length' "$F/scan1.json") svc processes, not its own 2"

# --- the inventory's variables and Ansible's configuration, as docs/fleet.md has them ------
INV=$F/inventory
mkdir -p "$INV/group_vars" "$INV/host_vars"
cat >"$INV/group_vars/fleet.yml" <<EOF
suture_executable: $SUTURE
suture_trusted_keys: [$T/keys/test.pub.pem]
suture_health_command: $EX/svc-health.sh '^status=ok'
suture_soak: 200ms
suture_waves: 1,100%
EOF
# Ansible's own files stay in the test's folder; its ssh masters too (nshosts.sh stop ends them).
mkdir -p "$F/cp"
cat >"$F/ansible.cfg" <<EOF
[defaults]
home = $F/ansible-home
local_tmp = $F/ansible-home/tmp
remote_tmp = $F/ansible-remote
nocolor = true
[ssh_connection]
ssh_args = -o ControlMaster=auto -o ControlPersist=120s
control_path_dir = $F/cp
control_path = %(directory)s/%%h
pipelining = true
EOF
export ANSIBLE_CONFIG=$F/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH=$TOP/contrib/ansible/collections
PB=$TOP/contrib/ansible/playbooks/rollout.yml
# play LOG ARGS...: ansible-playbook in the controller's namespace; sets $RC
play() {
	local log=$1; shift
	RC=0
	(cd "$TOP" && in_ctl ansible-playbook "$@") >"$log" 2>&1 || RC=$?
}

ansible-doc suture.livepatch.suture >"$F/doc.txt" 2>&1 || { cat "$F/doc.txt" >&2; fail "ansible-doc cannot render the module"; }
grep -q 'check_mode' "$F/doc.txt" && grep -q 'RETURN VALUES' "$F/doc.txt" ||
	fail "ansible-doc's page lacks the check-mode attribute or the return values"

# --- (c) check mode: the plan with --dry-run, nothing written -----------------------------
t0=$(date +%s.%N)
play "$F/check.log" -i "$INV" "$PB" -e suture_patch="$T/svc-good.suture" --check
[ "$RC" = 0 ] || { cat "$F/check.log" >&2; fail "--check run exited $RC"; }
for ((h = 1; h <= NHOSTS; h++)); do
	[ "$(host_live $h)" = "0 0" ] || fail "check mode patched host$h: $(host_live $h)"
	[ "$(host_rollouts $h)" = "done true" ] ||
		fail "host$h did not run the plan as a dry run: $(host_rollouts $h)"
	in_host $h test ! -e /var/lib/suture/fleet || fail "check mode left a patch folder on host$h"
	in_host $h jq -e -s 'map(select(.action | startswith("rollout"))) | length > 0 and
		all(.detail | startswith("dry run;"))' /var/log/suture/audit.jsonl >/dev/null ||
		fail "host$h: the dry run's rollout lines in the trail do not say it was a dry run"
	in_host $h test ! -s /var/log/suture/audit.jsonl ||
		in_host $h jq -e -s 'map(select(.action == "apply")) | length == 0' /var/log/suture/audit.jsonl \
			>/dev/null || fail "check mode recorded an apply on host$h"
done
[ "$(host_answers 1 | grep -c '^status=ok n=')" = 2 ] || fail "host1 does not answer as the original"
note "check mode: $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")s"

# --- (a) a healthy rollout in phases -----------------------------------------------------
t0=$(date +%s.%N)
play "$F/healthy.log" -i "$INV" "$PB" -e suture_patch="$T/svc-good.suture"
[ "$RC" = 0 ] || { cat "$F/healthy.log" >&2; fail "healthy rollout exited $RC"; }
note "healthy rollout: $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")s"
# three phases: 1 host, 10% (one host), the remaining two
[ "$(grep -c '^PLAY \[Roll a suture patch' "$F/healthy.log")" = 3 ] ||
	fail "expected 3 phases: $(grep '^PLAY ' "$F/healthy.log")"
[ "$(grep -Ec '^host[0-9]+ +: ok=[0-9]+ +changed=[0-9]+ +unreachable=0 +failed=0 ' "$F/healthy.log")" = "$NHOSTS" ] ||
	fail "the recap does not show every host without failure: $(grep -A$NHOSTS 'PLAY RECAP' "$F/healthy.log")"
for ((h = 1; h <= NHOSTS; h++)); do
	[ "$(host_live $h)" = "1 1" ] || fail "host$h: live patches per process $(host_live $h), expected 1 1"
	bad=$(host_answers $h | grep -v '^status=ok v=2 n=' || true)
	[ -z "$bad" ] || fail "host$h does not answer from the patched code: $bad"
	mapfile -t pids <"$F/host$h/pids"
	in_host $h "$SUTURE" verify -p "${pids[0]}" -p "${pids[1]}" --json \
		--patch /var/lib/suture/fleet/svc-good.suture >"$F/verify$h.json" ||
		fail "host$h: verify: $(cat "$F/verify$h.json")"
	[ "$(jq .patches_verified "$F/verify$h.json")" = 2 ] || fail "host$h: verify proved $(jq .patches_verified "$F/verify$h.json") patches"
	[ "$(host_rollouts $h | grep -c '^done false$')" = 1 ] || fail "host$h rollouts: $(host_rollouts $h)"
done
# the phases ran in order: host1's rollout ended before host2's began, host2's before 3 and 4
ro_time() { in_host "$1" jq -r -s "map(select(.action == \"$2\")) | .[-1].time" /var/log/suture/audit.jsonl; }
for h in 2 3; do
	[[ "$(ro_time $((h - 1)) rollout-done)" < "$(ro_time $h rollout-wave)" ]] ||
		[[ "$(ro_time $((h - 1)) rollout-done)" == "$(ro_time $h rollout-wave)" ]] ||
		fail "host$h started before host$((h - 1)) finished"
done

# the module on its own: revert everywhere (changed), then again (unchanged), read status
in_ctl ansible fleet -i "$INV" -m suture.livepatch.suture \
	-a "command=revert patch_ids=svc-good all=true executable=$SUTURE" >"$F/revert.log" 2>&1 ||
	{ cat "$F/revert.log" >&2; fail "ansible revert failed"; }
[ "$(grep -c '| CHANGED' "$F/revert.log")" = "$NHOSTS" ] || { cat "$F/revert.log" >&2; fail "revert did not report changed on every host"; }
in_ctl ansible fleet -i "$INV" -m suture.livepatch.suture \
	-a "command=revert patch_ids=svc-good all=true executable=$SUTURE" >"$F/revert2.log" 2>&1 ||
	{ cat "$F/revert2.log" >&2; fail "a second revert failed (should be unchanged)"; }
[ "$(grep -c '| SUCCESS' "$F/revert2.log")" = "$NHOSTS" ] || { cat "$F/revert2.log" >&2; fail "a second revert was not unchanged on every host"; }
for ((h = 1; h <= NHOSTS; h++)); do
	[ "$(host_live $h)" = "0 0" ] || fail "host$h still patched after revert: $(host_live $h)"
done
# a failure names the process and the reason
rc=0
in_ctl ansible host2 -i "$INV" -m suture.livepatch.suture \
	-a "command=apply pids=999999 patches=/var/lib/suture/fleet/svc-good.suture executable=$SUTURE trusted_keys=$T/keys/test.pub.pem" \
	>"$F/badpid.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q 'FAILED' "$F/badpid.log" && grep -q 'pid 999999.*no such process' "$F/badpid.log" ||
	{ cat "$F/badpid.log" >&2; fail "apply to a missing process did not fail with suture's message"; }

# --- (b) host3's health check fails in the last phase ------------------------------------
# host3 checks for the original answer: once patched it answers "v=2" and fails
echo "suture_health_command: $EX/svc-health.sh '^status=ok n='" >"$INV/host_vars/host3.yml"
t0=$(date +%s.%N)
play "$F/bad.log" -i "$INV" "$PB" -e suture_patch="$T/svc-good.suture"
note "failing rollout: $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")s"
[ "$RC" != 0 ] || { cat "$F/bad.log" >&2; fail "the playbook succeeded although host3 failed its health check"; }
grep -q 'health command exited with status 1' "$F/bad.log" ||
	{ cat "$F/bad.log" >&2; fail "the output does not say host3's health command failed"; }
grep -q 'every host patched so far was rolled back' "$F/bad.log" || fail "no rollback message"
for ((h = 1; h <= NHOSTS; h++)); do
	[ "$(host_live $h)" = "0 0" ] || fail "host$h still has a patch after the failed phase: $(host_live $h)"
	bad=$(host_answers $h | grep -v '^status=ok n=' || true)
	[ -z "$bad" ] || fail "host$h does not answer as the original: $bad"
done
# host3 rolled itself back; the others were aborted by the playbook (newest of each host)
last_state() { in_host "$1" "$SUTURE" rollout --list --json | jq -r 'map(select(.dry_run == false)) | sort_by(.id) | .[-1].state'; }
[ "$(last_state 3)" = rolled-back ] || fail "host3's rollout: $(last_state 3)"
for h in 1 2 4; do
	[ "$(last_state $h)" = aborted ] || fail "host$h's rollout is $(last_state $h), not aborted"
	in_host $h jq -e -s 'map(select(.action == "rollout-abort")) | length == 1 and .[0].ok' \
		/var/log/suture/audit.jsonl >/dev/null || fail "host$h: no successful rollout-abort in its audit trail"
done
# the auditor's document of host1 names the aborted rollout
ab=$(in_host 1 "$SUTURE" rollout --list --json | jq -r 'map(select(.state == "aborted")) | .[0].id')
in_host 1 "$SUTURE" report --audit-log /var/log/suture/audit.jsonl >"$F/report1.md" || fail "suture report on host1 failed"
grep -Eq "\| rollout-abort \| ok \|.*\| rollout $ab, wave [0-9]+: .*aborted by the operator" "$F/report1.md" ||
	{ grep rollout "$F/report1.md" >&2; fail "host1's report does not show the abort of rollout $ab"; }
in_host 3 jq -e -s 'map(select(.action == "rollout-health")) | .[-1].ok == false' /var/log/suture/audit.jsonl \
	>/dev/null || fail "host3's trail lacks the failed health check"

# --- (d) host2 fails in the second phase: host1 is rolled back, no later phase starts ------
rm "$INV/host_vars/host3.yml"
echo "suture_health_command: $EX/svc-health.sh '^status=ok n='" >"$INV/host_vars/host2.yml"
nro() { in_host "$1" "$SUTURE" rollout --list --json | jq 'length'; }
before3=$(nro 3) before4=$(nro 4)
t0=$(date +%s.%N)
play "$F/bad2.log" -i "$INV" "$PB" -e suture_patch="$T/svc-good.suture"
note "rollout failing in phase 2: $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")s"
[ "$RC" != 0 ] || { cat "$F/bad2.log" >&2; fail "the playbook succeeded although host2 failed"; }
[ "$(last_state 1)" = aborted ] && [ "$(last_state 2)" = rolled-back ] ||
	fail "host1's rollout is $(last_state 1), host2's $(last_state 2)"
[ "$(nro 3)" = "$before3" ] && [ "$(nro 4)" = "$before4" ] ||
	{ cat "$F/bad2.log" >&2; fail "a phase after the failed one started (host3/host4 have new rollouts)"; }
grep -q 'host3' "$F/bad2.log" && fail "host3 appears in the run that stopped at phase 2"
for ((h = 1; h <= NHOSTS; h++)); do
	[ "$(host_live $h)" = "0 0" ] || fail "host$h has a patch after phase 2 failed: $(host_live $h)"
done

for ((h = 1; h <= NHOSTS; h++)); do
	in_host $h "$SUTURE" audit verify --log /var/log/suture/audit.jsonl >/dev/null 2>&1 ||
		fail "host$h's audit chain does not verify"
done
exit 0
