#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The suture demo: a running TCP service has a bug in its shared library; suture fixes it
# in place (same process, same open connections), then takes the fix back out.
# Run by `make demo` once out/suture is built. Needs only gcc, make and patch.
set -euo pipefail
DEMO=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$DEMO/.." && pwd)
SUTURE=${SUTURE:-$TOP/out/suture}
W=$(mktemp -d /tmp/suture-demo-XXXXXX)
STARTED=()
# The demo keeps its audit trail with its other files rather than in the machine's log.
export SUTURE_AUDIT_LOG=$W/audit.jsonl

stop_all() {
	local p
	for p in "${STARTED[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${STARTED[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap stop_all EXIT

if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi
section() { printf '\n%s== %s ==%s\n' "$BOLD" "$*" "$PLAIN"; }
say() { printf '%s\n' "$*" | fold -s -w 88 | sed 's/ *$//'; }
# run CMD...: show the command (paths shortened), then run it.
run() {
	local shown="$*"
	shown=${shown//$W\//}
	shown=${shown//$TOP\//}
	printf '$ %s\n' "$shown"
	"$@"
}
die() { printf '\ndemo: %s\n' "$*" >&2; exit 1; }
# wait_for FILE REGEX: up to 10 s for a line of FILE to match.
wait_for() {
	for _ in $(seq 200); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
	die "timed out waiting for /$2/ in $(basename "$1")"
}

"$SUTURE" --help >/dev/null 2>&1 || die "$SUTURE does not run: build it first (make)"

section "1. The service"
say "ticketd is a small TCP service on 127.0.0.1. Each client may take 3 tickets; the check lives in its own shared library, libquota.so, in quota_take(). That check has an off-by-one bug."
cp -a "$DEMO/service" "$W/service"
make -s -C "$W/service" >"$W/make.log" 2>&1 || { cat "$W/make.log"; die "building the service failed"; }
cd "$W"
"$W/service/ticketd" >"$W/server.log" 2>&1 &
SERVER=$!
STARTED+=("$SERVER")
wait_for "$W/server.log" '^listening on 127\.0\.0\.1:[0-9]+$'
PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$W/server.log")
say "Started ticketd: PID $SERVER, port $PORT."

section "2. A client that stays connected"
say "This client keeps one connection open and sends PING every 200 ms. conn= is the server's number for the connection, seq= counts its requests."
"$W/service/client" "$PORT" watch >"$W/watch.log" 2>&1 &
WATCHER=$!
STARTED+=("$WATCHER")
wait_for "$W/watch.log" 'seq=3$'
sed 's/^/  /' "$W/watch.log"
CONN=$(sed -n '1s/.*conn=\([0-9]*\).*/\1/p' "$W/watch.log")

section "3. BEFORE: the bug"
say "A new client asks for 5 tickets on its quota of 3:"
run service/client "$PORT" take 5 | tee "$W/before.log"
grep -q 'NOT enforced' "$W/before.log" || die "the bug did not show"

section "4. What suture sees in the process"
run "$SUTURE" status -p "$SERVER"

section "5. Build a patch from the fix"
say "The fix is a one-line source diff ($(basename "$DEMO")/fix.diff):"
sed -n '/^--- a\//,$p' "$DEMO/fix.diff" | sed 's/^/  /'
SIGN=()
if "$SUTURE" keygen --help >/dev/null 2>&1; then
	say "Patches are signed, and suture applies only patches signed by a key the machine trusts. A key pair for this demo; this shell trusts its public half:"
	mkdir -p "$W/keys"
	run "$SUTURE" keygen "$W/keys/demo.key.pem" "$W/keys/demo.pub.pem"
	printf '$ export SUTURE_TRUSTED_KEYS=keys/demo.pub.pem\n'
	export SUTURE_TRUSTED_KEYS=$W/keys/demo.pub.pem
	SIGN=(--sign-key "$W/keys/demo.key.pem")
fi
say "suture build compiles the service with and without the diff, keeps the functions that changed, and writes a patch for exactly this build of libquota.so:"
run "$SUTURE" build --src "$W/service" --diff "$DEMO/fix.diff" --target libquota.so \
	--id quota-fix -o "$W/quota-fix.suture" "${SIGN[@]}"
run "$SUTURE" inspect "$W/quota-fix.suture"

section "6. Apply it to the running server"
run "$SUTURE" apply -p "$SERVER" "$W/quota-fix.suture"

section "7. AFTER: fixed, in the same process"
run service/client "$PORT" take 5 | tee "$W/after.log"
grep -q 'quota is enforced' "$W/after.log" || die "the fix did not take effect"
kill -0 "$SERVER" 2>/dev/null || die "the server is gone"
say "Still the same server process: PID $SERVER, running since $(ps -o lstart= -p "$SERVER")."

section "8. The long-lived connection never noticed"
seen=$(wc -l <"$W/watch.log")
wait_for "$W/watch.log" "seq=$((seen + 3))\$"
say "Its latest answers (same connection, conn=$CONN, still counting):"
tail -n 3 "$W/watch.log" | sed 's/^/  /'
tail -n 1 "$W/watch.log" | grep -q "^PONG conn=$CONN " || die "the long-lived connection changed"
run "$SUTURE" status -p "$SERVER"

section "9. Take the fix back out"
run "$SUTURE" revert -p "$SERVER" quota-fix
run service/client "$PORT" take 5 | tee "$W/reverted.log"
grep -q 'NOT enforced' "$W/reverted.log" || die "the revert did not bring the old code back"
run "$SUTURE" status -p "$SERVER"

section "10. The audit trail"
say "Every apply, revert and repair leaves one JSON line (normally in /var/log/suture/audit.jsonl):"
sed 's/^/  /' "$SUTURE_AUDIT_LOG"

section "11. Done"
kill -0 "$WATCHER" 2>/dev/null || die "the long-lived client lost its connection"
say "The server (PID $SERVER) served every request throughout, and the long-lived client's connection conn=$CONN was served $(wc -l <"$W/watch.log") times. Stopping the processes this demo started."
