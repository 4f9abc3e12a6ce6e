#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# System integration of sutured: the unit file passes systemd-analyze verify; under a
# service manager (NOTIFY_SOCKET, WATCHDOG_USEC) it reports READY=1 with a status line and
# feeds the watchdog; its messages carry syslog priorities; a second daemon on the same
# socket is refused; `suture daemon` without a daemon says so.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../daemon_lib.sh"
require_sutured
command -v python3 >/dev/null || skip "python3 is needed to play the service manager"

# the unit, with ExecStart pointing at this build
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/unit"
	sed "s|^ExecStart=/usr/sbin/sutured|ExecStart=$SUTURED|" "$TOP/contrib/systemd/sutured.service" \
		>"$T/unit/sutured.service"
	grep -q "^ExecStart=$SUTURED\$" "$T/unit/sutured.service" || fail "the unit has no ExecStart=/usr/sbin/sutured"
	systemd-analyze verify "$T/unit/sutured.service" >"$T/verify.out" 2>&1 ||
		{ cat "$T/verify.out" >&2; fail "systemd-analyze verify rejects the unit"; }
	[ ! -s "$T/verify.out" ] || { cat "$T/verify.out" >&2; fail "systemd-analyze verify warns about the unit"; }
	for k in Type=notify WatchdogSec= Restart=on-failure NoNewPrivileges=yes ProtectSystem=strict; do
		grep -q "^$k" "$T/unit/sutured.service" || fail "the unit lacks $k"
	done
	grep -q '^CapabilityBoundingSet=.*CAP_SYS_PTRACE' "$T/unit/sutured.service" ||
		fail "the unit's capabilities do not keep CAP_SYS_PTRACE"
else
	note "systemd-analyze not installed: unit not verified"
fi

expect_fail "status without a daemon" "$SUTURE" daemon status --root "$R"
stderr_mentions 'not reachable' "the missing daemon"

# a notification socket, as systemd's
cat >"$T/notify.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
end = time.time() + float(sys.argv[2])
with open(sys.argv[3], "w", buffering=1) as out:
    while time.time() < end:
        try:
            out.write(s.recv(4096).decode().replace("\n", " ") + "\n")
        except socket.timeout:
            pass
PY
python3 "$T/notify.py" "$T/notify.sock" 6 "$T/notify.out" &
NP=$!
STARTED_PIDS+=("$NP")
for ((i = 0; i < 100; i++)); do [ -S "$T/notify.sock" ] && break; sleep 0.02; done
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=1000000 start_sutured
SD1=$SD_PID
wait_for_line "$T/notify.out" 'READY=1' 5
grep -q 'READY=1 .*STATUS=0 auto patches' "$T/notify.out" || fail "READY=1 has no status line: $(cat "$T/notify.out")"
wait_for_line "$T/notify.out" '^WATCHDOG=1' 5
grep -Eq '^<6>sutured: serving' "$T/sutured.log" || fail "messages do not carry a syslog priority"

# a second daemon on the same root is refused, the first keeps serving
expect_fail "a second sutured" "$SUTURED" --foreground --root "$R"
stderr_mentions 'another sutured' "the daemon already serving"
sut "status after the refused second daemon" daemon status --root "$R" --json
jq -e ".pid == $SD1" "$T/last.out" >/dev/null || fail "the first daemon no longer answers"
stop_sutured
wait "$NP" 2>/dev/null || true
grep -q 'STOPPING=1' "$T/notify.out" || fail "sutured did not tell the service manager it stops"
