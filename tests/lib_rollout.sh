# SPDX-License-Identifier: Apache-2.0
# Helpers of the rollout tests (sourced after lib.sh): the rollout_svc service, built
# unique to this test (tag.h), run as several processes on loopback.
# build_service: the service's tree in $S ($T/svc/src), built; its program is $S/svc.
build_service() {
	mkdir -p "$T/svc"
	copy_scenario rollout_svc "$T/svc/src"
	S=$T/svc/src
	echo "static const char tag[] __attribute__((used)) = \"$T\";" >"$S/tag.h"
	make -C "$S" >"$T/svc/make.log" 2>&1 || { cat "$T/svc/make.log" >&2; fail "make of rollout_svc failed"; }
}

# start_service N: build the service and start N processes of it ($PIDS, ports in $T/ports).
start_service() {
	local n=$1 i
	build_service
	PIDS=()
	: >"$T/ports"
	for ((i = 0; i < n; i++)); do
		start_bg "$T/svc/out.$i" "$S/svc"
		PIDS+=("$BG_PID")
	done
	for ((i = 0; i < n; i++)); do
		wait_for_line "$T/svc/out.$i" '^port='
		sed -n 's/^port=\([0-9]*\).*/\1/p' "$T/svc/out.$i" >>"$T/ports"
	done
	HEALTH="$S/health.sh $T/ports"
}

# rollout_prologue N ID DIFF: the common start of a rollout test: needs suture, starts N
# processes of the service (start_service) and builds patch ID from DIFF (a file of the
# service's tree) into $T/ID.suture; $SEL is the processes' PIDs, comma-separated.
rollout_prologue() {
	local n=$1 id=$2 diff=$3
	require_suture
	start_service "$n"
	build_patch "$id" "$S/$diff" svc
	SEL=$(IFS=,; echo "${PIDS[*]}")
}

# answers: the first line every port answers, one per line
answers() {
	local port
	while read -r port; do
		exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "port $port: refused"; continue; }
		head -n 1 <&3
		exec 3<&-
	done <"$T/ports"
}

# applied_count PID: number of patches recorded live in PID
live_count() {
	"$SUTURE" status -p "$1" --json 2>/dev/null |
		jq '[.processes[].objects[].patches[] | select(.live)] | length'
}
