#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sutured keeps running processes as the store says: a patch added to the store is applied
# within a second, set to manual or removed it is reverted within a second, an excluded
# process is left alone and listed with the reason, an unsigned or untrusted patch dropped
# into a store folder is refused and reported, and the audit trail records the daemon's
# transactions as it does the command line's.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../daemon_lib.sh"
require_sutured

daemon_scenario
cp "$S/worker" "$S/excluded-worker"
mkdir -p "$R/etc/suture"
printf '# test policy\n[exclude]\nexecutables=%s\n' "$S/excluded-*" >"$R/etc/suture/suture.conf"
start_bg "$T/w.out" "$S/worker" loop
W=$BG_PID
start_bg "$T/x.out" "$S/excluded-worker" loop
X=$BG_PID
wait_for_line "$T/w.out" "^pid=$W value=1"
wait_for_line "$T/x.out" "^pid=$X value=1"
start_sutured

# add: applied within a second
sut "store add" store add --root "$R" "$T/dw-fix.suture"
ms=$(wait_value "$T/w.out" "$W" 2 1)
note "store add -> patched in $ms ms (printing every 50 ms)"
assert_applied "$W" dw-fix
[ "$(audit_count apply "$W")" -eq 1 ] || fail "the audit trail does not show one apply for $W"
jq -e --argjson p "$W" --argjson d "$SD_PID" 'select(.pid == $p) | .suture_pid == $d' \
	"$SUTURE_AUDIT_LOG" >/dev/null || fail "the audit line does not name sutured's pid"

# the excluded process is left alone, and listed with the reason
sleep 0.3
[ "$(last_value "$T/x.out" "$X")" = 1 ] || fail "the excluded process was patched"
assert_applied "$X" ""
dstatus
jq -e --argjson p "$X" '.unpatched[] | select(.pid == $p) | .excluded and (.reason | test("excluded-"))' \
	"$T/dstatus.json" >/dev/null || fail "status does not list the excluded process: $(cat "$T/dstatus.json")"
"$SUTURE" daemon status --root "$R" >"$T/human.out" || fail "daemon status (human) failed"
grep -q "pid $X (excluded-worker): excluded: executable" "$T/human.out" ||
	{ cat "$T/human.out" >&2; fail "the human status does not show the exclusion"; }

# an unsigned patch and one signed by an untrusted key, dropped into the store folders
SUTURE_SIGNING_KEY= build_patch dw-unsigned "$S/fix.diff" libfix.so
"$SUTURE" keygen "$T/other.key" "$T/other.pub" 2>/dev/null
SUTURE_SIGNING_KEY=$T/other.key build_patch dw-stranger "$S/fix.diff" libfix.so
cp "$T/dw-unsigned.suture" "$R/var/lib/suture/patches/"
cp "$T/dw-stranger.suture" "$R/usr/lib/suture/patches/"
sleep 0.5
dstatus
jq -e '[.refused[].path | test("dw-(unsigned|stranger)\\.suture$")] | length == 2 and all' \
	"$T/dstatus.json" >/dev/null || fail "status does not list both refused files: $(cat "$T/dstatus.json")"
grep -q 'refused .*dw-unsigned.suture: .*unsigned' "$T/sutured.log" || fail "the log does not report the unsigned patch"
grep -q 'refused .*dw-stranger.suture: .*signature refused' "$T/sutured.log" || fail "the log does not report the untrusted patch"
grep -Eq '^<3>sutured: refused' "$T/sutured.log" || fail "a refusal is not logged at priority err (<3>)"
assert_applied "$W" dw-fix
rm "$R/var/lib/suture/patches/dw-unsigned.suture" "$R/usr/lib/suture/patches/dw-stranger.suture"

# manual: reverted within a second; auto again: applied again
sut "store policy manual" store policy --root "$R" dw-fix manual
ms=$(wait_value "$T/w.out" "$W" 1 1)
note "policy manual -> reverted in $ms ms"
assert_applied "$W" ""
sut "store policy auto" store policy --root "$R" dw-fix auto
wait_value "$T/w.out" "$W" 2 1 >/dev/null

# remove: reverted within a second, and the daemon no longer manages it
sut "store remove" store remove --root "$R" dw-fix
ms=$(wait_value "$T/w.out" "$W" 1 1)
note "store remove -> reverted in $ms ms"
assert_applied "$W" ""
sleep 0.2
dstatus
jq -e '.managed == [] and .patches == []' "$T/dstatus.json" >/dev/null ||
	fail "the removed patch is still managed: $(cat "$T/dstatus.json")"
[ "$(audit_count revert "$W")" -eq 2 ] || fail "the audit trail does not show two reverts for $W"
assert_alive "$W"
assert_alive "$X"

# reload on request answers with the status; only root may ask (peer credentials)
sut "daemon reload" daemon reload --root "$R" --json
jq -e '.pid == '"$SD_PID" "$T/last.out" >/dev/null || fail "reload did not answer with the status"
if command -v setpriv >/dev/null; then
	chmod 0666 "$R/run/suture/sutured.sock"
	chmod 0755 "$R" "$R/run" "$R/run/suture" "$T"
	if setpriv --reuid=65534 --regid=65534 --clear-groups "$SUTURE" daemon status --root "$R" \
		>"$T/nobody.out" 2>"$T/nobody.err"; then
		fail "a non-root client was served"
	fi
	grep -q 'only root' "$T/nobody.err" || { cat "$T/nobody.err" >&2; fail "the refusal does not say why"; }
fi
stop_sutured
grep -q 'stopping' "$T/sutured.log" || fail "sutured did not stop cleanly on SIGTERM"
[ ! -e "$R/run/suture/sutured.sock" ] || fail "the control socket was left behind"
