#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# suture scan on processes running several builds of a (stand-in) libcrypto, with a feed
# written for the test; every verdict is checked against what is true of each process:
#   A  3.0.20, unpatched                                   exposed (a store patch is the action)
#   B  3.0.20, patched live (CVE taken from the diff)       fixed-live for CVE-...90001
#   C  3.0.21                                               not affected (not listed)
#   D  3.0.20 in its own mount namespace; at its path
#      outside sits the 3.0.21 build (a decoy)              exposed (what is mapped counts)
#   E  3.0.20 whose file was replaced by 3.0.21 on disk     fixed-on-disk
#   L  3.0.20 listening on 0.0.0.0 in its own net namespace exposed, ranked above A
#   G1, G2  another 3.0.20 build, both patched; G2's patch image then altered (a registry
#      that lies): G2 is exposed and the OpenVEX statement for that build stays "affected";
#      once G2's code is restored, every process of the build is verified: not_affected.
# The OpenVEX document is validated against the OpenVEX 0.2.0 JSON schema.
source "$(dirname "$0")/../lib.sh"
require_suture
command -v unshare >/dev/null || skip "unshare is not installed"
unshare -m -n --propagation private true 2>/dev/null || skip "unshare -m -n is not permitted here"
python3 -c 'import jsonschema' 2>/dev/null || skip "python3-jsonschema is not installed (scripts/deps.sh)"
export SUTURE_PATCH_DIRS=$T/store SUTURE_FEED_DIRS=$T/no-feeds
mkdir -p "$T/store"

# the builds
build_scenario scan_builds "$T/s20"
S20=$S
copy_scenario scan_builds "$T/s21"
make -C "$T/s21" VERSION=3.0.21 >"$T/s21.log" 2>&1 || { cat "$T/s21.log"; fail "3.0.21 build"; }
build_scenario scan_builds "$T/g"
make -C "$T/g" clean >/dev/null && make -C "$T/g" SALT=g >"$T/g.log" 2>&1 || fail "salted build"
G=$T/g
bid() { readelf -n "$1" | awk '/Build ID/ {print $3}'; }
B20=$(bid "$S20/libcrypto.so.3"); B21=$(bid "$T/s21/libcrypto.so.3"); BG=$(bid "$G/libcrypto.so.3")
[ "$B20" != "$B21" ] && [ "$B20" != "$BG" ] || fail "the builds should have distinct build-ids"

# the patches: build without --cve takes the CVE the diff names in its header
S=$S20 build_patch scan-fix "$S20/fix.diff" libcrypto.so.3
grep -q 'CVE-2026-90001' "$T/last.err" || { cat "$T/last.err" >&2; fail "build did not say it took CVE-2026-90001 from the diff"; }
sut "inspect" inspect "$T/scan-fix.suture" --json
jq -e '.cves == ["CVE-2026-90001"]' "$T/last.out" >/dev/null || fail "the patch records no CVE: $(cat "$T/last.out")"
S=$G build_patch scan-fix-g "$G/fix.diff" libcrypto.so.3
cp "$T/scan-fix.suture" "$T/scan-fix-g.suture" "$T/store/"

# the processes
start_bg "$T/a.out" "$S20/prog"; A=$BG_PID
start_bg "$T/b.out" "$S20/prog"; B=$BG_PID
start_bg "$T/c.out" "$T/s21/prog"; C=$BG_PID
mkdir -p "$T/ns" && cp "$T/s21/prog" "$T/s21/libcrypto.so.3" "$T/ns/" # the decoy outside
start_bg "$T/d.out" unshare -m --propagation private sh -c \
	'mount -t tmpfs suture-test "$0" && cp "$1/prog" "$1/libcrypto.so.3" "$0/" && exec "$0/prog"' \
	"$T/ns" "$S20"
D=$BG_PID
mkdir -p "$T/e" && cp "$S20/prog" "$S20/libcrypto.so.3" "$T/e/"
start_bg "$T/e.out" "$T/e/prog"; E=$BG_PID
start_bg "$T/l.out" unshare -n "$S20/prog" listen; L=$BG_PID
start_bg "$T/g1.out" "$G/prog"; G1=$BG_PID
start_bg "$T/g2.out" "$G/prog"; G2=$BG_PID
for f in a b c d e l g1 g2; do wait_for_line "$T/$f.out" '^rate=7 OpenSSL'; done
grep -q listening "$T/l.out" || fail "L does not listen"
# E's library is replaced on disk by the fixed build (a new file, as a package upgrade does)
cp "$T/s21/libcrypto.so.3" "$T/e/libcrypto.so.3.new" && mv -f "$T/e/libcrypto.so.3.new" "$T/e/libcrypto.so.3"
grep -q "$T/e/libcrypto.so.3 (deleted)" "/proc/$E/maps" || fail "E does not map a deleted library"
sut "apply to B" apply -p "$B" "$T/scan-fix.suture"
sut "apply to G1" apply -p "$G1" "$T/scan-fix-g.suture"
sut "apply to G2" apply -p "$G2" "$T/scan-fix-g.suture"
settled_output "$T/b.out" '^rate=9 ' '^rate=7 '

# a feed the test writes: a High CVE in upstream 3.0.0 up to 3.0.21, a Low one published
# earlier, and a record about another package (must touch nothing)
cat >"$T/feed.json" <<'JSON'
{"vulns": [
 {"id": "CVE-2026-90001", "published": "2026-06-01T00:00:00Z", "summary": "rate bug",
  "database_specific": {"severity": "High"},
  "affected": [{"package": {"ecosystem": "OpenSSL", "name": "openssl", "purl": "pkg:generic/openssl"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "3.0.0"}, {"fixed": "3.0.21"}]}]}]},
 {"id": "OSV-TEST-2", "aliases": ["CVE-2026-90002"], "published": "2025-01-01T00:00:00Z",
  "database_specific": {"severity": "Low"},
  "affected": [{"package": {"ecosystem": "OpenSSL", "name": "openssl"},
   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "3.0.21"}]}]}]},
 {"id": "CVE-2026-90003", "affected": [{"package": {"ecosystem": "Debian:12", "name": "zlib"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}
]}
JSON
PIDS=(-p "$A" -p "$B" -p "$C" -p "$D" -p "$E" -p "$L" -p "$G1" -p "$G2")

scan_json() {
	set +e
	"$SUTURE" scan --feed "$T/feed.json" "${PIDS[@]}" "$@" >"$T/scan.json" 2>"$T/scan.err"
	SCAN_RC=$?
	set -e
	jq -e . "$T/scan.json" >/dev/null || { cat "$T/scan.err" >&2; fail "scan printed invalid JSON"; }
}
verdict() { # verdict PID CVE
	jq -r --argjson p "$1" --arg c "$2" '[.findings[] | select(.pid == $p and .cve == $c) | .verdict] | if length == 0 then "none" else .[0] end' "$T/scan.json"
}
expect() { # expect PID CVE VERDICT WHAT
	local got; got=$(verdict "$1" "$2")
	[ "$got" = "$3" ] || { jq -c '.findings[]' "$T/scan.json" >&2; fail "$4 (pid $1): $2 is '$got', expected '$3'"; }
}

# G2's patch image altered: the registry still says patched
sut "status G2" status -p "$G2" --json
REPL=$(jq -r '.processes[0].objects[0].patches[0].functions[0].replacement' "$T/last.out")
poke() {
	python3 -c 'import sys
f = open("/proc/%s/mem" % sys.argv[1], "r+b", buffering=0)
f.seek(int(sys.argv[2], 16)); old = f.read(1); f.seek(int(sys.argv[2], 16))
f.write(bytes([old[0] ^ int(sys.argv[3])])); print(old.hex())' "$@"
}
poke "$G2" "$REPL" 1 >/dev/null

scan_json --json
[ "$SCAN_RC" = 1 ] || fail "scan exited $SCAN_RC with exposed processes"
expect "$A" CVE-2026-90001 exposed "unpatched 3.0.20"
expect "$B" CVE-2026-90001 fixed-live "patched 3.0.20"
expect "$B" CVE-2026-90002 exposed "the patch does not fix 90002"
expect "$C" CVE-2026-90001 none "3.0.21"
expect "$C" CVE-2026-90002 none "3.0.21"
expect "$D" CVE-2026-90001 exposed "3.0.20 in a mount namespace, 3.0.21 at its path outside"
expect "$E" CVE-2026-90001 fixed-on-disk "3.0.20 replaced on disk by 3.0.21"
expect "$L" CVE-2026-90001 exposed "listening 3.0.20"
expect "$G1" CVE-2026-90001 fixed-live "patched G build"
expect "$G2" CVE-2026-90001 exposed "patched G build whose code was altered"
jq -e --argjson p "$G2" '.findings[] | select(.pid == $p and .cve == "CVE-2026-90001") | .action == "repair" and .unproven_patch == "scan-fix-g"' "$T/scan.json" >/dev/null ||
	fail "G2's action is not to repair scan-fix-g"
[ "$(jq '[.findings[] | select(.cve == "CVE-2026-90003")] | length' "$T/scan.json")" = 0 ] ||
	fail "the zlib record touched a process"
jq -e --argjson p "$B" '.findings[] | select(.pid == $p and .cve == "CVE-2026-90001") | .live_patch == "scan-fix"' "$T/scan.json" >/dev/null ||
	fail "B's fix does not name scan-fix"
jq -e --argjson p "$A" '.findings[] | select(.pid == $p and .cve == "CVE-2026-90001") | .action == "apply" and .action_patch == "scan-fix"' "$T/scan.json" >/dev/null ||
	fail "A's action is not the store patch scan-fix"
# inventory facts
obj() { jq -c --argjson p "$1" '.processes[] | select(.pid == $p) | .objects[] | select(.path | endswith("libcrypto.so.3"))' "$T/scan.json"; }
[ "$(obj "$D" | jq -r .openssl)" = 3.0.20 ] && [ "$(obj "$D" | jq -r .build_id)" = "$B20" ] ||
	fail "D's object is not the 3.0.20 build: $(obj "$D")"
[ "$(obj "$D" | jq -r .path)" = "$T/ns/libcrypto.so.3" ] || fail "D's path is not the one it sees"
obj "$E" | jq -e '.deleted and (.on_disk_same | not) and .on_disk.openssl == "3.0.21"' >/dev/null ||
	fail "E's object should be deleted with 3.0.21 on disk: $(obj "$E")"
obj "$A" | jq -e '.on_disk_same and (.deleted | not)' >/dev/null || fail "A's file is on disk: $(obj "$A")"
jq -e --argjson p "$L" '.processes[] | select(.pid == $p) | .listening == 1 and .external' "$T/scan.json" >/dev/null ||
	fail "L's listening socket is not seen"
# priority: what needs action first (fixed-live pairs are listed last), then High before
# Low; among High exposed, L (listening, reachable) before A
order=$(jq -r '.findings[] | "\(.verdict) \(.cve) \(.pid)"' "$T/scan.json")
echo "$order" | awk '$1 == "fixed-live" { live = 1 } $1 != "fixed-live" && live { bad = 1 } END { exit bad }' ||
	fail "a finding that needs action comes after a fixed-live one: $order"
order=$(echo "$order" | awk '$1 != "fixed-live" { print $2, $3 }')
first_low=$(echo "$order" | grep -n CVE-2026-90002 | head -1 | cut -d: -f1)
last_high=$(echo "$order" | grep -n CVE-2026-90001 | tail -1 | cut -d: -f1)
[ "$last_high" -lt "$first_low" ] || fail "a Low finding comes before a High one: $order"
lpos=$(echo "$order" | grep -n "^CVE-2026-90001 $L\$" | cut -d: -f1)
apos=$(echo "$order" | grep -n "^CVE-2026-90001 $A\$" | cut -d: -f1)
[ "$lpos" -lt "$apos" ] || fail "the listening process L is not ranked above A: $order"
# the human table
set +e; "$SUTURE" scan --feed "$T/feed.json" "${PIDS[@]}" >"$T/human.out" 2>&1; set -e
grep -Eq "^EXPOSED +CVE-2026-90001 +high +$A .*suture apply -p $A scan-fix" "$T/human.out" ||
	{ cat "$T/human.out" >&2; fail "the human table does not show A exposed with the action"; }
grep -Eq "^fixed-on-disk +CVE-2026-90001 .* $E " "$T/human.out" || fail "the human table lacks E"

# OpenVEX: valid; the G build stays affected while G2's code is altered
vex() {
	set +e
	"$SUTURE" scan --feed "$T/feed.json" "${PIDS[@]}" --openvex >"$T/vex.json" 2>"$T/vex.err"
	set -e
	python3 "$TOP/tests/openvex/validate.py" "$TOP/tests/openvex/openvex_json_schema_0.2.0.json" "$T/vex.json" ||
		{ head -c 2000 "$T/vex.json" >&2; fail "the OpenVEX document is not valid"; }
}
stmt() { # stmt CVE BUILD-ID -> status
	jq -r --arg c "$1" --arg b "$2" '[.statements[] | select(.vulnerability.name == $c and .products[0].hashes.sha1 == $b)] | if length == 1 then .[0].status else "count \(length)" end' "$T/vex.json"
}
vex
[ "$(stmt CVE-2026-90001 "$BG")" = affected ] || fail "the G build with an altered patch is not 'affected': $(stmt CVE-2026-90001 "$BG")"
[ "$(stmt CVE-2026-90001 "$B20")" = affected ] || fail "the 3.0.20 build is not 'affected'"
[ "$(stmt CVE-2026-90001 "$B21")" = fixed ] || fail "the 3.0.21 build is not 'fixed'"
jq -e --arg b "$B20" '.statements[] | select(.vulnerability.name == "CVE-2026-90001" and .products[0].hashes.sha1 == $b) |
	(.action_statement | test("scan-fix")) and (.products[0].identifiers.purl == "pkg:generic/openssl@3.0.20")' "$T/vex.json" >/dev/null ||
	fail "the 3.0.20 statement lacks the action or the purl"
jq -e '.statements[] | select(.vulnerability.name == "CVE-2026-90003") | .status == "not_affected" and .justification == "component_not_present"' "$T/vex.json" >/dev/null ||
	fail "the zlib record is not 'component_not_present'"

# G2 restored: every process of the G build runs verified code: not_affected
poke "$G2" "$REPL" 1 >/dev/null
scan_json --json
expect "$G2" CVE-2026-90001 fixed-live "restored G2"
vex
[ "$(stmt CVE-2026-90001 "$BG")" = not_affected ] || fail "the fully patched G build is not 'not_affected'"
jq -e --arg b "$BG" '.statements[] | select(.vulnerability.name == "CVE-2026-90001" and .products[0].hashes.sha1 == $b) |
	.justification == "inline_mitigations_already_exist" and (.status_notes | test("scan-fix-g") and test($b))' "$T/vex.json" >/dev/null ||
	fail "the not_affected statement lacks its justification or notes"
# ... but not for CVE-2026-90002, which that patch does not fix
[ "$(stmt CVE-2026-90002 "$BG")" = affected ] || fail "90002 is not fixed by the patch"

# a record whose live jump is gone: a stale registry claims the patch, the code runs old
sut "status G1" status -p "$G1" --json
FUNC=$(jq -r '.processes[0].objects[0].patches[0].functions[0].address' "$T/last.out")
python3 - "$G1" "$FUNC" "$G/libcrypto.so.3" <<'PY'
import subprocess, sys
out = subprocess.run(["nm", "-D", sys.argv[3]], capture_output=True, text=True).stdout
addr = [int(l.split()[0], 16) for l in out.splitlines() if l.endswith(" crypto_rate")][0]
orig = open(sys.argv[3], "rb").read()[addr:addr + 5]
f = open("/proc/%s/mem" % sys.argv[1], "r+b", buffering=0)
f.seek(int(sys.argv[2], 16)); f.write(orig)
PY
settled_output "$T/g1.out" '^rate=7 ' '^rate=9 '
scan_json --json
expect "$G1" CVE-2026-90001 exposed "G1 whose jump was removed"
vex
[ "$(stmt CVE-2026-90001 "$BG")" = affected ] || fail "a stale record yielded $(stmt CVE-2026-90001 "$BG")"

# a feed that cannot be read is an error (2), naming the file and the place
echo '{"id": "CVE-2026-1", "affected": [' >"$T/bad.json"
set +e; "$SUTURE" scan --feed "$T/bad.json" -p "$A" >/dev/null 2>"$T/bad.err"; rc=$?; set -e
[ "$rc" = 2 ] || fail "scan with a broken feed exited $rc"
grep -q "bad.json:" "$T/bad.err" || { cat "$T/bad.err" >&2; fail "the error does not name the feed"; }

# a process that is not there is an error (2) naming the pid and why
"$SUTURE" scan --feed "$T/feed.json" -p 999999 -p "$A" --json >"$T/gone.out" 2>"$T/gone.err" && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "scan of a pid that does not exist exited $rc"
grep -q "pid 999999: cannot be scanned: pid 999999: no such process" "$T/gone.err" ||
	{ cat "$T/gone.err" >&2; fail "the error does not say why pid 999999 was left out"; }

# read-only, and nobody died
for p in "$A" "$B" "$C" "$D" "$E" "$L" "$G1" "$G2"; do assert_alive "$p"; done

# a process name with a terminal escape is printed escaped by scan and verify
esc_name=$(printf 'sl\033[2Jx')
cp /bin/sleep "$T/$esc_name"
start_bg "$T/esc.out" "$T/$esc_name" 30
ESCP=$BG_PID
for ((i = 0; i < 100; i++)); do [ "$(cat "/proc/$ESCP/comm")" = "$esc_name" ] && break; sleep 0.02; done
set +e
"$SUTURE" scan --feed "$T/feed.json" -p "$ESCP" --inventory >"$T/esc.scan" 2>&1
"$SUTURE" verify -p "$ESCP" >"$T/esc.verify" 2>&1
set -e
grep -q 'sl\\x1b\[2Jx' "$T/esc.scan" || { cat "$T/esc.scan" >&2; fail "scan does not show the escaped name"; }
grep -q 'sl\\x1b\[2Jx' "$T/esc.verify" || { cat "$T/esc.verify" >&2; fail "verify does not show the escaped name"; }
! grep -q $'\033' "$T/esc.scan" "$T/esc.verify" || fail "a raw escape byte reached the output"

# a bound UDP socket (a datagram server) counts as listening, on loopback not external; a
# connected one as a connection
start_bg "$T/udp.out" python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.connect(s.getsockname())
print("ready", flush=True); time.sleep(30)'
UDPP=$BG_PID
wait_for_line "$T/udp.out" '^ready$'
"$SUTURE" scan --feed "$T/feed.json" -p "$UDPP" --json >"$T/udp.json" 2>"$T/udp.err" || true
jq -e --argjson p "$UDPP" '.processes[] | select(.pid == $p) | .listening == 1 and .established == 1 and (.external | not)' "$T/udp.json" >/dev/null ||
	fail "the UDP sockets are not seen: $(jq -c --argjson p "$UDPP" '.processes[] | select(.pid == $p) | {listening, established, external}' "$T/udp.json")"
