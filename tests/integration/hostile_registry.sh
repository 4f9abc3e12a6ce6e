#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Invariant 8: the registry is the target's memory, and the target may be hostile. Each
# process here runs as an unprivileged user (nobody) against a root suture:
#   - a planted registry with an oversized build-id length (a reader trusting it
#     overflowed a stack buffer in `suture status`, killing status for the whole machine);
#   - a registry mapping of 64 MiB claiming 4 billion records;
#   - a well-formed registry with a forged journal (an interrupted apply whose "jump" is
#     a buffer of the process): status, exposure and apply --dry-run must report it and
#     write nothing (they used to run a repair that wrote into the process); an explicit
#     repair refuses it, since it names no code of a mapped object;
#   - a process that names itself, and the library path it maps, with terminal control
#     sequences: no control byte may reach the terminal, and JSON keeps the text exact.
# None may crash, hang or mislead suture.
source "$(dirname "$0")/../lib.sh"
require_suture
command -v setpriv >/dev/null || skip "setpriv is needed to run the hostile processes unprivileged"
id nobody >/dev/null 2>&1 || skip "no user nobody to run the hostile processes as"

build_scenario hostile_registry
chmod a+rx "$T"
chmod -R a+rX "$S"
# setpriv execs the program, so the PID start_bg records is the hostile process itself
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
build_patch hv-fix "$S/fix.diff" libhv.so

# no_control_bytes FILE: FILE has no control bytes but newline and tab (and no raw C1).
no_control_bytes() {
	if LC_ALL=C tr -d '\n\t' <"$1" | LC_ALL=C grep -q '[[:cntrl:]]'; then
		od -c "$1" | head -n 20 >&2
		fail "$2: control bytes reach the terminal"
	fi
	if LC_ALL=C grep -q $'\x9b' "$1"; then fail "$2: a raw C1 control byte reaches the terminal"; fi
}

# exposure_bounded ARGS...: suture exposure ARGS under a timeout; exit 1 means "a process
# is exposed", so no message is needed for it. Sets $SUT_RC; output in $T/last.out.
exposure_bounded() {
	SUT_RC=0
	timeout -k 5 60 "$SUTURE" exposure "$@" >"$T/last.out" 2>"$T/last.err" || SUT_RC=$?
	case $SUT_RC in
	0 | 1) ;;
	*) cat "$T/last.err" >&2; fail "'suture exposure $*' ended with status $SUT_RC" ;;
	esac
}

# victim_intact OUT: the process's own check of the buffer a forged journal points at.
victim_intact() {
	settled_output "$1" 'victim=intact' 'victim=CHANGED' 3
}

# ---- 1. oversized build-id length
start_bg "$T/bid.out" "${AS_NOBODY[@]}" "$S/prog" bid "$S/libhv.so"
BID=$BG_PID
wait_for_line "$T/bid.out" '^value=1 victim=intact$'
# status over every process: one hostile registry must not take it down
sut_bounded 60 status
[ "$SUT_RC" = 0 ] || fail "status over all processes failed: $(cat "$T/last.err")"
grep -Eq "^pid $BID \(prog\)  EXPOSED$" "$T/last.out" || fail "status does not list pid $BID: $(cat "$T/last.out")"
grep -A1 "^pid $BID " "$T/last.out" | grep -q 'CORRUPT registry' ||
	fail "status does not call the planted registry corrupt: $(grep -A2 "^pid $BID " "$T/last.out")"
sut_bounded 30 status -p "$BID" --json
jq -e '.processes[0] | .corrupt == true and .exposed == true and (.objects | length) == 0 and
	(.corrupt_reason | test("build-id length 100000"))' "$T/last.out" >/dev/null ||
	fail "status --json of the planted registry: $(cat "$T/last.out")"
jq -r '.processes[0].corrupt_reason' "$T/last.out" | grep -Eq "pid $BID: registry mapping at 0x[0-9a-f]+ is corrupt" ||
	fail "the corrupt registry is not reported by process and mapping: $(cat "$T/last.out")"
# a transaction refuses to use it, naming it
sut_bounded 60 apply -p "$BID" "$T/hv-fix.suture"
[ "$SUT_RC" = 1 ] || fail "apply used a corrupt registry"
stderr_mentions "pid $BID.*registry mapping at 0x[0-9a-f]+ is corrupt" "the corrupt registry"
assert_alive "$BID"
stop_bg "$BID"

# ---- 2. a 64 MiB registry claiming 4 billion records
start_bg "$T/huge.out" "${AS_NOBODY[@]}" "$S/prog" huge "$S/libhv.so"
HUGE=$BG_PID
wait_for_line "$T/huge.out" '^value=1 '
sut_bounded 30 status -p "$HUGE" --json
jq -e '.processes[0].corrupt == true and (.processes[0].corrupt_reason | test("size"))' \
	"$T/last.out" >/dev/null || fail "a 64 MiB registry is not corrupt: $(cat "$T/last.out")"
exposure_bounded "$T/hv-fix.suture" --json
[ "$SUT_RC" = 1 ] || fail "exposure exited $SUT_RC with an exposed process"
jq -e --argjson p "$HUGE" '.patches[0].processes[] | select(.pid == $p) |
	.state == "exposed" and (.reason | test("corrupt"))' "$T/last.out" >/dev/null ||
	fail "exposure does not report the process with a corrupt registry as exposed: $(cat "$T/last.out")"
stop_bg "$HUGE"

# ---- 3. a forged journal: read-only commands write nothing
start_bg "$T/jr.out" "${AS_NOBODY[@]}" "$S/prog" journal "$S/libhv.so"
JR=$BG_PID
wait_for_line "$T/jr.out" '^value=1 victim=intact$'
sut_bounded 30 status -p "$JR"
[ "$SUT_RC" = 0 ] || fail "status of a process with an interrupted transaction failed"
grep -q 'WARNING: interrupted apply transaction' "$T/last.out" ||
	fail "status does not report the interrupted transaction: $(cat "$T/last.out")"
sut_bounded 60 status
sut_bounded 30 status -p "$JR" --json
jq -e '.processes[0].transaction == "interrupted-apply"' "$T/last.out" >/dev/null ||
	fail "status --json: $(cat "$T/last.out")"
exposure_bounded "$T/hv-fix.suture"
victim_intact "$T/jr.out"
sut_bounded 60 apply --dry-run -p "$JR" "$T/hv-fix.suture"
[ "$SUT_RC" = 1 ] || fail "apply --dry-run ignored the interrupted transaction"
stderr_mentions "interrupted transaction.*dry run repairs nothing" "the interrupted transaction"
victim_intact "$T/jr.out"
# the journal still says what it said: nobody repaired it
sut_bounded 30 status -p "$JR" --json
jq -e '.processes[0].transaction == "interrupted-apply"' "$T/last.out" >/dev/null ||
	fail "a read-only command repaired the journal: $(cat "$T/last.out")"
# an explicit repair, and apply (which repairs first), refuse a journal naming no code
sut_bounded 60 repair -p "$JR"
[ "$SUT_RC" = 1 ] || fail "repair acted on a forged journal"
stderr_mentions "journal names an object the process does not map" "why the journal is refused"
sut_bounded 60 apply -p "$JR" "$T/hv-fix.suture"
[ "$SUT_RC" = 1 ] || fail "apply acted on a forged journal"
victim_intact "$T/jr.out"
settled_output "$T/jr.out" '^value=1 ' '^value=2 ' 3
# the refusal is in the audit trail
grep -q '"action":"repair"' "$SUTURE_AUDIT_LOG" || fail "the refused repair is not in the audit trail"
stop_bg "$JR"

# ---- 4. control bytes in comm and in the library's path
EVIL="$T/lib"$'\e[2J\e]0;pwned\a'"hv.so"
cp "$S/libhv.so" "$EVIL"
chmod a+r "$EVIL"
start_bg "$T/ctl.out" "${AS_NOBODY[@]}" "$S/prog" ctl "$EVIL"
CTL=$BG_PID
wait_for_line "$T/ctl.out" '^value=1 '
"$SUTURE" status -p "$CTL" >"$T/st.txt" 2>&1 || fail "status of the control-byte process failed"
no_control_bytes "$T/st.txt" "status"
grep -Fq '\x1b[2J' "$T/st.txt" || fail "status does not show the escaped name: $(cat "$T/st.txt")"
set +e
"$SUTURE" exposure "$T/hv-fix.suture" >"$T/exp.txt" 2>&1
"$SUTURE" exposure "$T/hv-fix.suture" --json >"$T/exp.json" 2>"$T/exp.err"
set -e
no_control_bytes "$T/exp.txt" "exposure"
no_control_bytes "$T/exp.json" "exposure --json"
jq -e . "$T/exp.json" >/dev/null || fail "exposure --json is not valid JSON: $(cat "$T/exp.json")"
# JSON keeps the text exact (escaped as JSON): the path decodes to the real one
[ "$(jq -r --argjson p "$CTL" '.patches[0].processes[] | select(.pid == $p) | .path' "$T/exp.json")" = "$EVIL" ] ||
	fail "exposure --json does not give the exact path"
jq -r --argjson p "$CTL" '.patches[0].processes[] | select(.pid == $p) | .comm' "$T/exp.json" |
	od -c | grep -q '033' || fail "exposure --json lost the control bytes of comm"
# a transaction on it: its messages, and status of the patched object, are escaped too
"$SUTURE" apply -p "$CTL" "$T/hv-fix.suture" >"$T/ap.txt" 2>&1 || { cat "$T/ap.txt"; fail "apply to the control-byte process failed"; }
no_control_bytes "$T/ap.txt" "apply"
settled_output "$T/ctl.out" '^value=2 ' '^value=1 ' 3
"$SUTURE" status -p "$CTL" >"$T/st2.txt" 2>&1
no_control_bytes "$T/st2.txt" "status of a patched object at a hostile path"
grep -Fq 'lib\x1b[2J\x1b]0;pwned\x07hv.so' "$T/st2.txt" || fail "status does not show the escaped path: $(cat "$T/st2.txt")"
"$SUTURE" status -p "$CTL" --json >"$T/st2.json"
jq -e . "$T/st2.json" >/dev/null || fail "status --json is not valid JSON"
no_control_bytes "$T/st2.json" "status --json"
assert_alive "$CTL"
