#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# How often one transaction reads its target process: for `apply --dry-run -p PID`,
# `apply -p PID` and `revert -p PID` on an idle process, the system calls suture makes
# (strace -f) counted by what they read:
#   maps             opens of /proc/PID/maps
#   objects          passes over the mapped objects (reads of the executable's ELF
#                    header, which each pass makes first)
#   registry_header  reads of the registry's header (56 bytes at its first byte; the whole
#                    read of an empty registry is 56 bytes too and counts as well)
#   file_opens       opens of /proc/PID/map_files/* (an object's file: symbols, GOT)
#   mem_opens        opens of /proc/PID/mem (writes, and reads process_vm_readv refuses)
# "fresh" is a process with no registry yet, "stacked" a second patch of the same function
# over a first one (its registry holds a record); "two_patches" one `apply -p PID A B`
# (one job, two transactions) and its revert; `exposure PATCH` with the patch applied.
# --all and exposure count the target's reads only.
# READS_TRACES=DIR keeps the traces there.
# Prints one JSON document.
source "$(dirname "$0")/lib.sh"
bench_setup
command -v strace >/dev/null || die "strace is needed (scripts/deps.sh installs it)"

d=$BENCH_WORK/reads
rm -rf "$d"
mkdir -p "$d"
start_idle "$d"
export SUTURE_AUDIT_LOG=$d/audit.jsonl

# run NAME ARGS...: suture ARGS under strace; the trace is $d/NAME.trace.
run() {
	local name=$1; shift
	# one file per thread (-ff): no call is split by another thread's
	strace -ff -qq -s 1 -e trace=openat,process_vm_readv -o "$d/$name.tr" \
		"$SUTURE" "$@" >"$d/$name.out" 2>"$d/$name.err" ||
		die "suture $* failed: $(cat "$d/$name.err")"
	cat "$d/$name.tr".* >"$d/$name.trace"
	rm -f "$d/$name.tr".*
}

# run_status NAME ARGS...: the same for a command whose exit status is an answer
run_status() {
	local name=$1; shift
	strace -ff -qq -s 1 -e trace=openat,process_vm_readv -o "$d/$name.tr" \
		"$SUTURE" "$@" >"$d/$name.out" 2>"$d/$name.err" || true
	cat "$d/$name.tr".* >"$d/$name.trace"
	rm -f "$d/$name.tr".*
}

reg_addr() { awk '/suture-registry/ { split($1, a, "-"); print a[1]; exit }' "/proc/$PID/maps"; }

# count NAME REGADDR: the JSON counts of one trace (REGADDR hex without 0x, or "").
count() {
	local t=$d/$1.trace reg=$2
	local maps objects files registry=0 mem
	maps=$(grep -c "openat(.*\"/proc/$PID/maps\"" "$t" || true)
	files=$(grep -c "openat(.*\"/proc/$PID/map_files/" "$t" || true)
	mem=$(grep -c "openat(.*\"/proc/$PID/mem\"" "$t" || true)
	# one read of the executable's ELF header per pass over the objects
	objects=$(grep -E "process_vm_readv\($PID, .*\], 1, \[\{iov_base=0x0*$EXE_LO, " "$t" |
		grep -vc " = -1" || true)
	if [ -n "$reg" ]; then
		# the header (56 bytes) or more, at the registry's first byte
		registry=$(grep -E "process_vm_readv\($PID, .*\], 1, \[\{iov_base=0x0*$reg, iov_len=56\}" \
			"$t" | grep -vc " = -1" || true)
	fi
	jq -n --argjson maps "$maps" --argjson objects "$objects" --argjson files "$files" \
		--argjson registry "$registry" --argjson mem "$mem" \
		'{maps: $maps, objects: $objects, registry_header: $registry, file_opens: $files,
		  mem_opens: $mem}'
}
EXE_LO=$(awk 'NR == 1 { split($1, a, "-"); print a[1]; exit }' "/proc/$PID/maps")

# a second patch of the same function (stacked on the first), so that the registry it
# meets holds a record and its header and whole reads can be told apart
PATCH2_ID=bench-fix-again
PATCH2=$d/$PATCH2_ID.suture
"$SUTURE" build --src "$BENCH_TREE" --diff "$BENCH_TREE/fix.diff" --target libbench.so \
	-o "$PATCH2" --id "$PATCH2_ID" >"$d/build.log" 2>&1 ||
	{ cat "$d/build.log" >&2; die "suture build of the second patch failed"; }

log "reads: pid $PID: dry run and apply with no registry, then a second patch over the first"
run dry_fresh apply --dry-run -p "$PID" "$BENCH_PATCH"
dry_fresh=$(count dry_fresh "")
run apply_fresh apply -p "$PID" "$BENCH_PATCH"
reg=$(reg_addr)
[ -n "$reg" ] || die "no registry mapping after apply"
apply_fresh=$(count apply_fresh "$reg")
run_status exposure exposure "$BENCH_PATCH"
exposure=$(count exposure "$reg")
run dry_stacked apply --dry-run -p "$PID" "$PATCH2"
dry_stacked=$(count dry_stacked "$reg")
run apply_stacked apply -p "$PID" "$PATCH2"
apply_stacked=$(count apply_stacked "$reg")
run revert_stacked revert -p "$PID" "$PATCH2_ID"
revert_stacked=$(count revert_stacked "$reg")
run apply_all apply --all "$PATCH2"
apply_all=$(count apply_all "$reg")
run revert_all revert --all "$PATCH2_ID"
revert_all=$(count revert_all "$reg")
run revert_last revert -p "$PID" "$BENCH_PATCH_ID"
# two patches in one job (all or nothing), and their revert
run apply_two apply -p "$PID" "$BENCH_PATCH" "$PATCH2"
apply_two=$(count apply_two "$(reg_addr)")
run revert_two revert -p "$PID" "$PATCH2_ID" "$BENCH_PATCH_ID"
revert_two=$(count revert_two "$(reg_addr)")
[ -z "${READS_TRACES:-}" ] || { mkdir -p "$READS_TRACES"; cp "$d"/*.trace "$READS_TRACES/"; }

jq -n --argjson df "$dry_fresh" --argjson af "$apply_fresh" --argjson ds "$dry_stacked" \
	--argjson ap "$apply_stacked" --argjson rs "$revert_stacked" --argjson aa "$apply_all" \
	--argjson ra "$revert_all" --argjson ex "$exposure" --argjson a2 "$apply_two" --argjson r2 "$revert_two" \
	'{reads: {dry_run_fresh: $df, apply_fresh: $af, dry_run_stacked: $ds,
		  apply_stacked: $ap, revert_stacked: $rs, apply_all_stacked: $aa,
		  revert_all_stacked: $ra, exposure: $ex, apply_two_patches: $a2, revert_two_patches: $r2}}'
