# SPDX-License-Identifier: Apache-2.0
# Helpers for the sutured tests (sourced after lib.sh). Each test runs its own sutured in
# the foreground on a store under $T/root (never the machine's /var/lib/suture), against
# a library whose build-id is unique to the test run, so that the daemon patches only the
# processes the test started.
SUTURED=${SUTURED:-$TOP/out/sutured}
R=$T/root

# require_sutured: skip unless sutured is built and we may trace and use the connector.
require_sutured() {
	require_suture
	[ -x "$SUTURED" ] || skip "$SUTURED is not built"
	[ "$(id -u)" -eq 0 ] || skip "sutured needs root (ptrace of any process, the process-events connector)"
}

# daemon_scenario: build tests/scenarios/daemon_worker with a unique token and the patch
# dw-fix (fix_value 1 -> 2) into $T/dw-fix.suture; $S is the tree.
daemon_scenario() {
	S=$T/daemon_worker
	copy_scenario daemon_worker "$S"
	echo "const char daemon_worker_token[] = \"$(basename "$T")-$$-$RANDOM\";" >"$S/token.c"
	make -C "$S" >"$S.make.log" 2>&1 || { cat "$S.make.log" >&2; fail "make of daemon_worker failed"; }
	build_patch dw-fix "$S/fix.diff" libfix.so
}

# khold_scenario: the kernel hold tests' store: daemon_scenario, dw-fix in the store under
# $R, and a policy naming the scenario's tree in hold-paths (libfix.so lives there, not in a
# library folder).
khold_scenario() {
	daemon_scenario
	sut "store add" store add --root "$R" "$T/dw-fix.suture"
	mkdir -p "$R/etc/suture"
	printf '[daemon]\nhold-paths=%s\n' "$S" >"$R/etc/suture/suture.conf"
}

# start_khold_sutured: start_sutured, then skip unless its kernel hold is active here
# (status in $T/dstatus.json).
start_khold_sutured() {
	local state
	start_sutured
	dstatus
	state=$(jq -r '.kernel_hold.state' "$T/dstatus.json")
	[ "$state" = active ] || skip "the kernel hold is $state here: $(jq -r '.kernel_hold.detail' "$T/dstatus.json")"
}

# kill_holding_sutured N OUT: sutured stopped (not reading its events) while a supervisor
# starts N workers (output to OUT), which stay held; then sutured is SIGKILLed and the
# supervisor waited for: its guard must continue them. $SUP is the supervisor.
kill_holding_sutured() {
	kill -STOP "$SD_PID"
	setsid "$S/supervisor" "$1" 1 "$S/kworker" >"$2" 2>&1 &
	SUP=$!
	STARTED_PIDS+=("$SUP")
	wait_held "$SUP" "$1"
	kill -9 "$SD_PID"
	wait "$SD_PID" 2>/dev/null || true
	wait "$SUP" || fail "the supervisor failed after sutured was killed"
}

# start_sutured [ARGS...]: sutured --foreground --root $R, waits until it serves; $SD_PID.
start_sutured() {
	local n=0
	[ -f "$T/sutured.log" ] && n=$(nlines "$T/sutured.log")
	"$SUTURED" --foreground --root "$R" "$@" >>"$T/sutured.log" 2>&1 &
	SD_PID=$!
	STARTED_PIDS+=("$SD_PID")
	wait_for_new_line "$T/sutured.log" "$n" 'sutured: serving' 20
}

# stop_sutured [SIGNAL]: ends the test's sutured (TERM by default) and reaps it.
stop_sutured() {
	kill -"${1:-TERM}" "$SD_PID" 2>/dev/null || true
	wait "$SD_PID" 2>/dev/null || true
}

# dstatus: `suture daemon status --json` into $T/dstatus.json.
dstatus() {
	"$SUTURE" daemon status --root "$R" --json >"$T/dstatus.json" 2>"$T/dstatus.err" ||
		{ cat "$T/dstatus.err" >&2; fail "suture daemon status failed"; }
}

# last_value FILE PID: the last value printed by a `worker loop` / dlworker process.
last_value() { grep "^pid=$2 value=" "$1" | tail -n1 | sed 's/.*value=//'; }

# wait_value FILE PID VALUE SECS: wait until PID's last printed value is VALUE; prints the
# milliseconds it took.
wait_value() {
	local f=$1 pid=$2 want=$3 secs=$4 start i
	start=$(date +%s%N)
	for ((i = 0; i < secs * 100; i++)); do
		if [ "$(last_value "$f" "$pid")" = "$want" ]; then
			echo $((($(date +%s%N) - start) / 1000000))
			return 0
		fi
		sleep 0.01
	done
	fail "process $pid still prints $(last_value "$f" "$pid") after ${secs}s (want $want)"
}

# audit_count ACTION PID: ok transactions of ACTION on PID recorded in the audit trail.
audit_count() {
	jq -c --arg a "$1" --argjson p "$2" 'select(.action == $a and .pid == $p and .ok)' \
		"$SUTURE_AUDIT_LOG" 2>/dev/null | wc -l
}

# held_pids SUP: the pids of SUP's children (the test's workers) that are stopped now
held_pids() {
	local p
	for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		[ "$(proc_state "$p")" = T ] && echo "$p"
	done
	true
}

# wait_held SUP COUNT: until COUNT children of SUP are stopped
wait_held() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(held_pids "$1" | wc -l)" -ge "$2" ] && return 0
		sleep 0.05
	done
	fail "the workers were not held: $(for p in $(cat /proc/"$1"/task/*/children); do echo "$p:$(proc_state "$p")"; done)"
}

# guard_of SUTURED_PID: the pid of that sutured's kernel-hold guard, as its log says (the
# latest "guard pid N": at start, or a restart's), if it is a child of that sutured
guard_of() {
	local g
	g=$(sed -n 's/.*kernel hold: .*guard pid \([0-9]*\).*/\1/p' "$T/sutured.log" | tail -n 1)
	[ -n "$g" ] && [ "$(awk '{ print $4 }' "/proc/$g/stat" 2>/dev/null)" = "$1" ] && echo "$g"
	true
}
