#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `suture scan` of the whole machine with 1000 extra processes, each mapping the system's
# libcrypto and libssl and a dozen other libraries, against the repository's OpenSSL feed.
# Reports the wall time of the command (median of SCAN_RUNS, default 5), with and without
# the dpkg lookups, and how many files suture read (once per build-id, not per process).
# Prints one JSON document. SCAN_PROCS overrides 1000; BENCH_QUICK=1: 100 processes.
source "$(dirname "$0")/lib.sh"
[ -x "$SUTURE" ] || die "$SUTURE is not built (run make)"
n=${SCAN_PROCS:-$([ "$BENCH_QUICK" = 1 ] && echo 100 || echo 1000)}
runs=${SCAN_RUNS:-5}
W=$(mktemp -d /tmp/suture-bench-scan-XXXXXX)
OWN_WORK=$W
cat >"$W/idle.c" <<'C'
/* idles until killed; its libraries stay mapped */
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	FILE *f = fopen(argv[1], "a");
	if (f) {
		fputs("up\n", f);
		fclose(f);
	}
	for (;;)
		pause();
}
C
libs="-lssl -lcrypto -lelf -ldw -ljansson -lz -lm -lcmocka -l:libcap.so.2 -l:libacl.so.1 -l:libgcrypt.so.20 -l:libexpat.so.1"
gcc -O2 -o "$W/idle" "$W/idle.c" -Wl,--no-as-needed $libs 2>"$W/cc.log" ||
	{ cat "$W/cc.log" >&2; die "cannot build the idle program"; }
nobj=$(ldd "$W/idle" | grep -c '=>')
log "starting $n processes mapping $nobj libraries each"
for ((i = 0; i < n; i++)); do
	"$W/idle" "$W/ready" >/dev/null 2>&1 &
	STARTED_PIDS+=("$!")
done
for ((i = 0; i < 600; i++)); do
	[ "$(wc -l <"$W/ready" 2>/dev/null || echo 0)" -ge "$n" ] && break
	sleep 0.1
done
[ "$(wc -l <"$W/ready")" -ge "$n" ] || die "only $(wc -l <"$W/ready") of $n processes started"
sleep 0.5

# one_scan ARGS...: wall microseconds of `suture scan ARGS --json` on stdout
one_scan() {
	local t0 rc=0
	t0=$(now_us)
	SUTURE_PATCH_DIRS=$W/none SUTURE_FEED_DIRS=$W/none \
		"$SUTURE" scan --feed "$BENCH_TOP/feeds" "$@" --json >"$W/scan.json" 2>"$W/scan.err" || rc=$?
	[ "$rc" -le 1 ] || { cat "$W/scan.err" >&2; die "scan failed (exit $rc)"; }
	echo $(($(now_us) - t0))
}
walls=() walls_nodpkg=()
for ((r = 0; r < runs; r++)); do
	walls+=("$(one_scan)")
	walls_nodpkg+=("$(one_scan --no-dpkg)")
done
one_scan >/dev/null
procs=$(jq '.processes_scanned' "$W/scan.json")
files=$(jq '.files' "$W/scan.json")
findings=$(jq '.findings | length' "$W/scan.json")
ours=$(jq --arg idle "$W/idle" '[.processes[] | select(.objects[0].path == $idle)] | length' "$W/scan.json")
objs=$(jq '[.processes[].objects | length] | add' "$W/scan.json")
jq -n --argjson n "$n" --argjson nobj "$nobj" --argjson procs "$procs" --argjson ours "$ours" \
	--argjson files "$files" --argjson objs "$objs" --argjson findings "$findings" \
	--argjson wall "$(printf '%s\n' "${walls[@]}" | stats)" \
	--argjson wall_nodpkg "$(printf '%s\n' "${walls_nodpkg[@]}" | stats)" \
	'{benchmark: "scan",
	  extra_processes: $n, libraries_each: $nobj,
	  processes_scanned: $procs, extra_processes_seen: $ours,
	  objects_mapped: $objs, distinct_files: $files, findings: $findings,
	  wall_us: $wall, wall_us_no_dpkg: $wall_nodpkg,
	  target: "scan of 1000 processes (libcrypto and a dozen other libraries each) under 2 s",
	  target_met: ($wall.median < 2000000)}'
