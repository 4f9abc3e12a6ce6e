#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cache of pristine Debian builds survives failed and killed builds: an entry that is
# incomplete (its facts lack the completion mark) or whose official file changed is never
# used but removed and rebuilt; a build killed half-way leaves only its temporary folder,
# which the next run removes before building again. Runs on a copy of the real entry
# (hard links) in a private cache folder, and kills each rebuild (its whole process group,
# started here) as soon as it has said what it does, so no rebuild runs to the end.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/debian.sh"
debian_setup
deb_build 63074 # the real entry, built once per machine
real=$(jq -r .debian.cache "$T/cve-63074.build.json")
name=$(basename "$real")
C=$T/cache
mkdir -p "$C/debian"
cp -al "$real" "$C/debian/$name"

# run_until REGEX: suture build --debian with the private cache, in its own process group;
# once it starts building anew (or ends), the group is killed; it must have said REGEX
# before. $T/run.err has its standard error.
run_until() {
	local re=$1 pid i
	# the previous run's file goes first: the loop below would otherwise find its "first
	# build of" before this run's shell has truncated it, and kill this run at its start
	rm -f "$T/run.err"
	SUTURE_CACHE=$C setsid "$SUTURE" build --debian "$DEB_SPEC" --no-build-deps \
		--diff "$DEB_DATA/CVE-2026-63074.patch" --target libcrypto.so.3 -o "$T/run.suture" \
		>"$T/run.out" 2>"$T/run.err" &
	pid=$!
	STARTED_PIDS+=("$pid")
	for ((i = 0; i < 600; i++)); do
		grep -q -- "first build of" "$T/run.err" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	grep -Eq -- "$re" "$T/run.err" || { cat "$T/run.err" >&2; fail "suture did not say /$re/"; }
}

# the copy is complete: used as it is
SUTURE_CACHE=$C "$SUTURE" build --debian "$DEB_SPEC" --no-build-deps --diff "$DEB_DATA/CVE-2026-63074.patch" \
	--target libcrypto.so.3 -o "$T/copy.suture" 2>"$T/copy.err" || { cat "$T/copy.err" >&2; fail "build from the copied entry failed"; }
grep -q "using the cached pristine build $C/debian/$name" "$T/copy.err" || { cat "$T/copy.err" >&2; fail "the copied entry was not used"; }

# 1. the completion mark missing (facts are replaced, not edited: they are hard links)
grep -v '^complete=' "$C/debian/$name/facts" >"$T/facts" && rm "$C/debian/$name/facts" && cp "$T/facts" "$C/debian/$name/facts"
run_until 'incomplete or changed: rebuilding it'
[ ! -e "$C/debian/$name" ] || fail "the incomplete entry is still there"
grep -q 'using the cached' "$T/run.err" && fail "the incomplete entry was used"

# 2. a killed build's temporary folder is removed by the next run, never used
mkdir -p "$C/debian/$name.tmp/tree" && echo partial >"$C/debian/$name.tmp/build.log"
run_until "removing $C/debian/$name.tmp, left by a build that did not finish"
[ -e "$C/debian/$name.tmp/tree" ] && fail "the killed build's tree was not removed"

# 3. an official file that changed under the entry: not trusted, rebuilt
cp -al "$real" "$C/debian/$name"
rm -rf "$C/debian/$name.tmp"
off=$C/debian/$name/official/usr/lib/x86_64-linux-gnu/libcrypto.so.3
cp "$off" "$T/lib" && rm "$off" && cp "$T/lib" "$off" # own copy, then change its build-id note
printf '\x00' | dd of="$off" bs=1 seek=$((0x238 + 16)) conv=notrunc status=none
run_until 'incomplete or changed: rebuilding it'
[ ! -e "$C/debian/$name" ] || fail "the changed entry is still there"

# the real entry was not touched by any of this
[ -e "$real/facts" ] && grep -q '^complete=1$' "$real/facts" || fail "the machine's cache entry was damaged"
