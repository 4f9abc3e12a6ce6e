#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Debug information for Debian's stripped libcrypto, where it exists: a separate debug file
# found by build-id (a debug root as /usr/lib/debug is laid out, SUTURE_DEBUG_ROOT here),
# or a debuginfod server (DEBUGINFOD_URLS, elfutils' client; a local HTTP server here).
# Debian's libssl3-dbgsym is not in the main archive, so the debug file is made from the
# proved rebuild (same build-id: what the -dbgsym package holds). inspect and status name the
# replaced function from it, inspect confirms the patch's addresses, build cross-checks them
# (and reports the debug file in --json); a debug file
# that puts the function elsewhere makes build refuse and inspect say so.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/openssl/debian.sh"
debian_setup
command -v python3 >/dev/null || skip "python3 is needed for the local debuginfod server"
deb_build 63074
r=$T/cve-63074.build.json
id=$(jq -r .debian.official_build_id "$r")
tree=$(jq -r .debian.cache "$r")/tree
[ "$(jq -r .debian.rebuilt_build_id "$r")" = "$id" ] ||
	skip "the rebuild's build-id differs from the official one here: its debug file would not match"
D=$T/debug/.build-id/${id:0:2}
mkdir -p "$D"
objcopy --only-keep-debug "$tree/build_shared/libcrypto.so.3" "$D/${id:2}.debug"
# without debug information: said so
grep -q "no debug information for build-id $id" "$T/cve-63074.build.err" ||
	{ cat "$T/cve-63074.build.err" >&2; fail "build did not say there was no debug information"; }
jq -e 'has("debuginfo") | not' "$T/cve-63074.json" >/dev/null || fail "inspect shows debug info that does not exist"

# 1. a debug root
export SUTURE_DEBUG_ROOT=$T/debug
deb_build 63074
[ "$(jq -r .debuginfo.path "$T/cve-63074.build.json")" = "$D/${id:2}.debug" ] || fail "build --json lacks the debug file"
grep -q "debug information $D/${id:2}.debug confirms the addresses" "$T/cve-63074.build.err" ||
	{ cat "$T/cve-63074.build.err" >&2; fail "build did not cross-check against the debug file"; }
jq -e --arg p "$D/${id:2}.debug" '.debuginfo.path == $p and .debuginfo.agrees and .debuginfo.confirmed >= 1' \
	"$T/cve-63074.json" >/dev/null || fail "inspect: $(jq -c .debuginfo "$T/cve-63074.json")"
[ "$(jq -r '.functions[0].debug_name' "$T/cve-63074.json")" = ossl_cmp_msg_check_update ] ||
	fail "inspect does not name the function from the debug file: $(jq -c '.functions[0]' "$T/cve-63074.json")"

# status names the patched function of a running process from the debug file too
start_probe_3022 "$(deb_official_dir)"
sut "apply" apply -p "$PROBE_PID" "$T/cve-63074.suture"
sut "status" status -p "$PROBE_PID" --json
jq -e '[.processes[0].objects[].patches[].functions[].debug_name] == ["ossl_cmp_msg_check_update"]' \
	"$T/last.out" >/dev/null || fail "status does not name the function from the debug file: $(cat "$T/last.out")"
sut "status (text)" status -p "$PROBE_PID"
grep -q 'debug info: ossl_cmp_msg_check_update' "$T/last.out" || { cat "$T/last.out" >&2; fail "status text lacks the debug name"; }
sut "revert" revert -p "$PROBE_PID" deb-63074

# 2. a debug file that contradicts the rebuild: ossl_cmp_msg_check_update moved by 16 bytes
good=$T/good.debug
cp "$D/${id:2}.debug" "$good"
symoff=$(readelf -SW "$good" | awk '$2 == ".symtab" {print $5}')
idx=$(readelf -sW "$good" | awk '$8 == "ossl_cmp_msg_check_update" && !d {sub(":", "", $1); print $1; d = 1}')
val=$(readelf -sW "$good" | awk '$8 == "ossl_cmp_msg_check_update" && !d {print $2; d = 1}')
new=$(printf '%016x' $((16#$val + 16)))
printf "$(echo "$new" | sed 's/../&\n/g' | tac | sed '/^$/d' | sed 's/^/\\x/' | tr -d '\n')" |
	dd of="$D/${id:2}.debug" bs=1 seek=$((16#$symoff + idx * 24 + 8)) conv=notrunc status=none
readelf -sW "$D/${id:2}.debug" | awk '$8 == "ossl_cmp_msg_check_update" {print $2}' | grep -q "$new" ||
	fail "could not move the symbol in the test's debug file"
expect_fail "build against a contradicting debug file" "$SUTURE" build --debian "$DEB_SPEC" \
	--diff "$DEB_DATA/CVE-2026-63074.patch" --target libcrypto.so.3 -o "$T/bad.suture"
stderr_mentions "ossl_cmp_msg_check_update .* in the rebuild but at 0x0*${new#"${new%%[!0]*}"} in Debian's debug information" "the contradiction"
[ ! -e "$T/bad.suture" ] || fail "a patch was written although the debug information contradicts it"
sut "inspect with a contradicting debug file" inspect "$T/cve-63074.suture" --json
jq -e '.debuginfo.agrees == false' "$T/last.out" >/dev/null || fail "inspect did not flag the contradiction: $(jq -c .debuginfo "$T/last.out")"
unset SUTURE_DEBUG_ROOT

# 3. debuginfod: GET /buildid/ID/debuginfo from a server on loopback
S=$T/dserver
mkdir -p "$S/buildid/$id"
cp "$good" "$S/buildid/$id/debuginfo"
port=$((20000 + RANDOM % 40000))
start_bg "$T/http.log" python3 -m http.server --bind 127.0.0.1 --directory "$S" "$port"
for ((i = 0; i < 100; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
export SUTURE_DEBUG_ROOT=$T/empty DEBUGINFOD_URLS=http://127.0.0.1:$port DEBUGINFOD_CACHE_PATH=$T/dcache
sut "inspect through debuginfod" inspect "$T/cve-63074.suture" --json
jq -e --arg c "$T/dcache" '(.debuginfo.path | startswith($c)) and .debuginfo.agrees' "$T/last.out" >/dev/null ||
	fail "inspect did not use debuginfod: $(jq -c .debuginfo "$T/last.out")"
[ "$(jq -r '.functions[0].debug_name' "$T/last.out")" = ossl_cmp_msg_check_update ] || fail "no name through debuginfod"
grep -q "GET /buildid/$id/debuginfo" "$T/http.log" || { cat "$T/http.log" >&2; fail "the server was not asked"; }
